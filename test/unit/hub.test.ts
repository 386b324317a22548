import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Message } from '../../src/core/message.js';
import type { Engine, FeedListener } from '../../src/engines/engine.js';
import { MemoryEngine } from '../../src/engines/memory.js';
import { Hub } from '../../src/hub/hub.js';
import type { SubscriptionSink } from '../../src/hub/subscription.js';
import { waitFor } from '../helpers/server.js';

const limits = { maxCount: 1000, maxAgeMs: 60_000, dedupeWindowMs: 60_000 };

/**
 * A real MemoryEngine whose feeds become live only when the test says so, and whose feed
 * can be made to lose messages, as a pub/sub connection that drops does.
 */
class SlowFeedEngine {
  readonly memory = new MemoryEngine(limits);
  feedsStarted = 0;
  feedsStopped = 0;
  dropping = false;
  private readonly pending: (() => void)[] = [];
  private readonly listeners = new Set<FeedListener>();

  asEngine(): Engine {
    return {
      name: 'slow-feed',
      publish: (b) => this.memory.publish(b),
      read: (c, a, l) => this.memory.read(c, a, l),
      info: (c) => this.memory.info(c),
      subscribers: (c, l) => this.memory.subscribers(c, l),
      unavailable: () => undefined,
      close: () => this.memory.close(),
      feed: async (channel, listener) => {
        this.feedsStarted++;
        // Subscribed to the underlying feed at once (messages flow), answered later.
        const relay: FeedListener = {
          message: (m) => {
            if (!this.dropping) listener.message(m);
          },
          missed: () => listener.missed(),
          subscribers: () => listener.subscribers(),
        };
        this.listeners.add(relay);
        const stop = await this.memory.feed(channel, relay);
        await new Promise<void>((resolve) => this.pending.push(resolve));
        return () => {
          this.feedsStopped++;
          this.listeners.delete(relay);
          stop();
        };
      },
    };
  }

  release(): void {
    for (const r of this.pending.splice(0)) r();
  }

  signalMissed(): void {
    for (const l of this.listeners) l.missed();
  }
}

function collector(): SubscriptionSink & { got: Message[]; errors: unknown[] } {
  const got: Message[] = [];
  const errors: unknown[] = [];
  return {
    got,
    errors,
    message: (m) => got.push(m),
    gap: () => errors.push(new Error('unexpected gap')),
    failed: (err) => errors.push(err),
  };
}

const publish = (hub: Hub, channel: string, data: unknown) => hub.publish([{ channel, data }]);

describe('Hub: the only door to the engine (src/hub/hub.ts)', () => {
  it('two subscribers arriving while the feed is set up share one feed', async () => {
    const slow = new SlowFeedEngine();
    const hub = new Hub(slow.asEngine());
    const a = hub.subscribe('c', { kind: 'now' }, collector());
    const b = hub.subscribe('c', { kind: 'now' }, collector());
    await new Promise((r) => setImmediate(r));
    slow.release();
    await Promise.all([a.ready, b.ready]);
    assert.equal(slow.feedsStarted, 1);
    assert.equal(hub.localSubscribers('c'), 2);
    a.close();
    b.close();
    assert.equal(slow.feedsStopped, 1);
    await slow.memory.close();
  });

  it('a feed whose last subscriber left before it was live is stopped, not leaked', async () => {
    const slow = new SlowFeedEngine();
    const hub = new Hub(slow.asEngine());
    const a = hub.subscribe('c', { kind: 'now' }, collector());
    await new Promise((r) => setImmediate(r));
    a.close();
    slow.release();
    await a.ready;
    assert.equal(slow.feedsStarted, 1);
    assert.equal(slow.feedsStopped, 1);
    assert.equal(hub.localSubscribers('c'), 0);
    // A new subscriber gets a feed of its own.
    const b = hub.subscribe('c', { kind: 'now' }, collector());
    await new Promise((r) => setImmediate(r));
    slow.release();
    await b.ready;
    assert.equal(slow.feedsStarted, 2);
    b.close();
    assert.equal(slow.feedsStopped, 2);
    await slow.memory.close();
  });

  it('the start position is read only once the feed is live: a message published meanwhile is delivered', async () => {
    const slow = new SlowFeedEngine();
    const hub = new Hub(slow.asEngine());
    const sink = collector();
    const sub = hub.subscribe('c', { kind: 'now' }, sink);
    await new Promise((r) => setImmediate(r));
    await publish(hub, 'c', 'before live');
    slow.release();
    const state = await sub.ready;
    assert.equal(state.last, 1, 'the position is read after the feed is live, so it includes the message');
    sub.resume();
    await publish(hub, 'c', 'after');
    await waitFor(() => sink.got.length === 1, 10_000, 'the live message');
    assert.deepEqual(sink.got.map((m) => m.data), ['after']);
    sub.close();
    await slow.memory.close();
  });

  it('"missed" sends every subscription of the channel back to history: no hole, no repeat', async () => {
    const slow = new SlowFeedEngine();
    const hub = new Hub(slow.asEngine());
    const sinks = [collector(), collector(), collector()];
    const subs = sinks.map((s) => hub.subscribe('c', { kind: 'now' }, s));
    await new Promise((r) => setImmediate(r));
    slow.release();
    await Promise.all(subs.map((s) => s.ready));
    for (const s of subs) s.resume();
    await publish(hub, 'c', 1);
    await waitFor(() => sinks.every((s) => s.got.length === 1), 10_000, 'first message');
    // The feed drops the last messages: nothing later would reveal the hole.
    slow.dropping = true;
    await publish(hub, 'c', 2);
    await publish(hub, 'c', 3);
    slow.dropping = false;
    await new Promise((r) => setTimeout(r, 20));
    assert.ok(sinks.every((s) => s.got.length === 1), 'dropped messages were not delivered live');
    slow.signalMissed();
    await waitFor(() => sinks.every((s) => s.got.length === 3), 10_000, 'catch-up after missed');
    await publish(hub, 'c', 4);
    await waitFor(() => sinks.every((s) => s.got.length === 4), 10_000, 'live again');
    for (const s of sinks) {
      assert.deepEqual(s.got.map((m) => m.offset), [1, 2, 3, 4]);
      assert.deepEqual(s.errors, []);
    }
    for (const s of subs) s.close();
    await slow.memory.close();
  });

  it('a feed that fails rejects ready and leaves nothing behind', async () => {
    const memory = new MemoryEngine(limits);
    const engine: Engine = Object.assign(Object.create(memory) as Engine, {
      feed: async () => {
        throw new Error('store down');
      },
    });
    const hub = new Hub(engine);
    const sub = hub.subscribe('c', { kind: 'now' }, collector());
    await assert.rejects(sub.ready, /store down/);
    assert.equal(hub.localSubscribers('c'), 0);
    await memory.close();
  });
});
