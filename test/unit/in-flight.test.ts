import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Message } from '../../src/core/message.js';
import type { ChannelState, FeedListener, ReadResult } from '../../src/engines/engine.js';
import { MemoryEngine } from '../../src/engines/memory.js';
import { Hub } from '../../src/hub/hub.js';
import type { SubscriptionSink } from '../../src/hub/subscription.js';
import { range, waitFor } from '../helpers/server.js';

const limits = { maxCount: 10_000, maxAgeMs: 60_000, dedupeWindowMs: 60_000 };

/**
 * A real MemoryEngine that counts the history reads it serves, can fail them, and whose
 * feeds can be made to lose messages and then say so (`missed`), as a Redis pub/sub
 * connection that dropped and came back does.
 */
class CountingEngine extends MemoryEngine {
  readonly reads: { channel: string; after: number; limit: number }[] = [];
  dropping = false;
  failing: Error | undefined;
  private readonly feedListeners = new Set<FeedListener>();

  infos = 0;

  override async info(channel: string): Promise<ChannelState> {
    this.infos++;
    return super.info(channel);
  }

  override async read(channel: string, after: number, limit: number): Promise<ReadResult> {
    this.reads.push({ channel, after, limit });
    if (this.failing !== undefined) throw this.failing;
    return super.read(channel, after, limit);
  }

  override async feed(channel: string, listener: FeedListener): Promise<() => void> {
    const relay: FeedListener = {
      message: (m) => {
        if (!this.dropping) listener.message(m);
      },
      missed: () => listener.missed(),
      subscribers: () => listener.subscribers(),
    };
    this.feedListeners.add(relay);
    const stop = await super.feed(channel, relay);
    return () => {
      this.feedListeners.delete(relay);
      stop();
    };
  }

  signalMissed(): void {
    for (const l of this.feedListeners) l.missed();
  }
}

function collector(): SubscriptionSink & { got: Message[]; problems: unknown[] } {
  const got: Message[] = [];
  const problems: unknown[] = [];
  return { got, problems, message: (m) => got.push(m), gap: (g) => problems.push(g), failed: (e) => problems.push(e) };
}

const batch = (channel: string, from: number, count: number) => Array.from({ length: count }, (_, i) => ({ channel, data: from + i }));

describe('Hub shares identical engine calls of subscriptions in flight (src/hub/in-flight.ts)', () => {
  it('N subscriptions sent back to history together cost one engine read per page, and each gets every message once, in order', async () => {
    const engine = new CountingEngine(limits);
    const hub = new Hub(engine);
    const N = 50;
    const sinks = Array.from({ length: N }, () => collector());
    const subs = sinks.map((s) => hub.subscribe('c', { kind: 'now' }, s));
    await Promise.all(subs.map((s) => s.ready));
    for (const s of subs) s.resume();
    await hub.publish(batch('c', 1, 1));
    await waitFor(() => sinks.every((s) => s.got.length === 1), 5000, 'the first message, live');

    // The feed loses 2500 messages (three pages of 1000), then says so.
    engine.dropping = true;
    await hub.publish(batch('c', 2, 2500));
    engine.dropping = false;
    assert.ok(sinks.every((s) => s.got.length === 1), 'the lost messages did not arrive live');
    engine.reads.length = 0;
    engine.signalMissed();
    await waitFor(() => sinks.every((s) => s.got.length === 2501), 5000, 'catch-up from history');

    assert.deepEqual(
      engine.reads.map((r) => r.after),
      [1, 1001, 2001],
      `one engine read per page for ${N} subscriptions, not one each (${engine.reads.length} reads)`,
    );
    await hub.publish(batch('c', 2502, 1));
    await waitFor(() => sinks.every((s) => s.got.length === 2502), 5000, 'live again');
    assert.equal(engine.reads.length, 3, 'live delivery reads nothing');
    for (const s of sinks) {
      assert.deepEqual(
        s.got.map((m) => m.offset),
        range(1, 2502),
      );
      assert.deepEqual(
        s.got.map((m) => m.data),
        range(1, 2502),
      );
      assert.deepEqual(s.problems, []);
    }
    for (const s of subs) s.close();
    await engine.close();
  });

  /** A hub with a live feed on `channels` (reads are shared only for a channel with one). */
  async function hubOnFeeds(engine: CountingEngine, ...channels: string[]): Promise<Hub> {
    const hub = new Hub(engine);
    for (const c of channels) await hub.join(c, { live: () => {}, missed: () => {} });
    return hub;
  }

  it('shares only while in flight: the same read asked again after it settled reaches the engine, and sees what was published since', async () => {
    const engine = new CountingEngine(limits);
    const hub = await hubOnFeeds(engine, 'c');
    await hub.publish(batch('c', 1, 3));
    const [a, b] = await Promise.all([hub.readForSubscriber('c', 0, 10), hub.readForSubscriber('c', 0, 10)]);
    assert.equal(engine.reads.length, 1);
    assert.equal(a, b, 'callers of one flight get the one answer');
    await hub.publish(batch('c', 4, 1));
    const again = await hub.readForSubscriber('c', 0, 10);
    assert.equal(engine.reads.length, 2, 'nothing is cached past the flight');
    assert.deepEqual(
      again.messages.map((m) => m.offset),
      [1, 2, 3, 4],
    );
    await engine.close();
  });

  it('a read already on its way when a live message arrives is not shared with a later caller, who may need that message', async () => {
    const engine = new CountingEngine(limits);
    const hub = await hubOnFeeds(engine, 'c');
    await hub.publish(batch('c', 1, 2));
    const before = hub.readForSubscriber('c', 0, 10);
    void hub.publish(batch('c', 3, 1)); // appended and fanned out live before the first read answers
    const after = hub.readForSubscriber('c', 0, 10);
    assert.equal(engine.reads.length, 2, 'the later caller reads for itself');
    assert.deepEqual(
      (await after).messages.map((m) => m.offset),
      [1, 2, 3],
    );
    await before;
    await engine.close();
  });

  it('plain reads (history requests, polls) and reads of a channel with no live feed here are never shared', async () => {
    const engine = new CountingEngine(limits);
    const hub = await hubOnFeeds(engine, 'c');
    await hub.publish([...batch('c', 1, 2), ...batch('d', 1, 2)]);
    await Promise.all([hub.read('c', 0, 10), hub.read('c', 0, 10)]);
    assert.equal(engine.reads.length, 2, 'hub.read: a history request must see what its client just published');
    await Promise.all([hub.readForSubscriber('d', 0, 10), hub.readForSubscriber('d', 0, 10)]);
    assert.equal(engine.reads.length, 4, 'no feed of d here: nothing tells a stale read from a fresh one');
    await engine.close();
  });

  it('reads differing in channel, position or limit are not shared', async () => {
    const engine = new CountingEngine(limits);
    const hub = await hubOnFeeds(engine, 'c', 'd');
    await hub.publish([...batch('c', 1, 3), ...batch('d', 1, 3)]);
    const [c0, c1, c0short, d0] = await Promise.all([
      hub.readForSubscriber('c', 0, 10),
      hub.readForSubscriber('c', 1, 10),
      hub.readForSubscriber('c', 0, 1),
      hub.readForSubscriber('d', 0, 10),
    ]);
    assert.equal(engine.reads.length, 4);
    assert.deepEqual(
      [c0, c1, c0short, d0].map((p) => p.messages.map((m) => `${m.channel}${m.offset}`)),
      [['c1', 'c2', 'c3'], ['c2', 'c3'], ['c1'], ['d1', 'd2', 'd3']],
    );
    await engine.close();
  });

  it('a failed read fails every caller of its flight and is forgotten: the next caller reaches the engine', async () => {
    const engine = new CountingEngine(limits);
    const hub = await hubOnFeeds(engine, 'c');
    await hub.publish(batch('c', 1, 2));
    engine.failing = new Error('store down');
    const answers = await Promise.allSettled([hub.readForSubscriber('c', 0, 10), hub.readForSubscriber('c', 0, 10), hub.readForSubscriber('c', 0, 10)]);
    assert.deepEqual(
      answers.map((a) => a.status),
      ['rejected', 'rejected', 'rejected'],
    );
    assert.equal(engine.reads.length, 1);
    engine.failing = undefined;
    const page = await hub.readForSubscriber('c', 0, 10);
    assert.equal(engine.reads.length, 2);
    assert.deepEqual(
      page.messages.map((m) => m.offset),
      [1, 2],
    );
    await engine.close();
  });

  it('subscriptions starting together on a live feed ask the engine for the channel info once, and each starts where it should', async () => {
    const engine = new CountingEngine(limits);
    const hub = await hubOnFeeds(engine, 'c');
    await hub.publish(batch('c', 1, 5));
    const before = engine.infos;
    const sinks = Array.from({ length: 30 }, () => collector());
    const subs = sinks.map((sink, i) => hub.subscribe('c', i % 2 === 0 ? { kind: 'now' } : { kind: 'last', count: 2 }, sink));
    await Promise.all(subs.map((s) => s.ready));
    assert.equal(engine.infos - before, 1, 'one info read for thirty subscriptions');
    for (const s of subs) s.resume();
    await hub.publish(batch('c', 6, 1));
    await waitFor(() => sinks.every((s, i) => s.got.length === (i % 2 === 0 ? 1 : 3)), 10_000, 'each from its start');
    sinks.forEach((s, i) =>
      assert.deepEqual(
        s.got.map((m) => m.offset),
        i % 2 === 0 ? [6] : [4, 5, 6],
      ),
    );
    for (const s of subs) s.close();
    await engine.close();
  });
});
