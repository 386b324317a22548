import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type { Message } from '../../src/core/message.js';
import type { Engine, FeedListener, HistoryLimits } from '../../src/engines/engine.js';
import { MemoryEngine } from '../../src/engines/memory.js';
import { RedisEngine } from '../../src/engines/redis/redis-engine.js';
import { Hub } from '../../src/hub/hub.js';
import type { SubscriptionSink } from '../../src/hub/subscription.js';
import { RedisCluster, RedisServer, skipWithoutRedis } from '../helpers/redis.js';
import { delay, uniqueChannel, waitFor } from '../helpers/server.js';

/**
 * One suite, every engine: what the rest of the server relies on an engine for. Each
 * engine says how to make one with given limits and, where it has such a failure, how to
 * make its live feeds lose messages.
 */
interface EngineUnderTest {
  make(limits: Partial<HistoryLimits>): Promise<Engine>;
  /** Cuts every live feed's connection; messages published until it is back are lost to the feed. */
  breakFeeds?(): Promise<void>;
}

const DEFAULTS: HistoryLimits = { maxCount: 1000, maxAgeMs: 60_000, dedupeWindowMs: 60_000 };

function feedCollector(): FeedListener & { got: Message[]; missedCount: number } {
  const got: Message[] = [];
  const c = {
    got,
    missedCount: 0,
    message: (m: Message) => got.push(m),
    missed: () => {
      c.missedCount++;
    },
    subscribers: () => 1,
  };
  return c;
}

function sinkCollector(): SubscriptionSink & { got: Message[]; problems: unknown[] } {
  const got: Message[] = [];
  const problems: unknown[] = [];
  return { got, problems, message: (m) => got.push(m), gap: (g) => problems.push(g), failed: (e) => problems.push(e) };
}

interface SuiteOptions {
  skip?: string | false;
  /** Why the engine's feeds can't lose messages, when they can't: that case is then skipped. */
  feedsCantMiss?: string;
}

function engineCases(name: string, setup: () => Promise<EngineUnderTest>, teardown: () => Promise<void>, options: SuiteOptions = {}): void {
  const skip = options.skip ?? false;
  describe(`engine conformance: ${name}`, { skip }, () => {
    let under: EngineUnderTest;
    const engines: Engine[] = [];
    const make = async (limits: Partial<HistoryLimits> = {}) => {
      const e = await under.make({ ...DEFAULTS, ...limits });
      engines.push(e);
      return e;
    };
    before(async () => {
      under = await setup();
    });
    after(async () => {
      await Promise.all(engines.map((e) => e.close()));
      await teardown();
    });

    it('a new channel: epoch, first 1, last 0; the epoch stays and is the one messages carry', async () => {
      const engine = await make();
      const ch = uniqueChannel();
      const a = await engine.info(ch);
      assert.equal(a.first, 1);
      assert.equal(a.last, 0);
      assert.match(a.epoch, /^[A-Za-z0-9_-]{1,64}$/);
      const [r] = await engine.publish([{ channel: ch, data: 1 }]);
      assert.equal(r!.epoch, a.epoch);
      const page = await engine.read(ch, 0, 10);
      assert.equal(page.epoch, a.epoch);
      assert.equal(page.messages[0]!.epoch, a.epoch);
    });

    it('publish order: concurrent publishes get offsets 1..N, read and feed hand them out in that order', async () => {
      const engine = await make();
      const ch = uniqueChannel();
      const feed = feedCollector();
      const stop = await engine.feed(ch, feed);
      const results = await Promise.all(Array.from({ length: 60 }, (_, i) => engine.publish([{ channel: ch, data: i, event: i % 2 ? 'odd' : undefined }])));
      const offsets = results.map(([r]) => r!.offset).sort((x, y) => x - y);
      assert.deepEqual(offsets, Array.from({ length: 60 }, (_, i) => i + 1));
      const page = await engine.read(ch, 0, 1000);
      assert.deepEqual(page.messages.map((m) => m.offset), offsets);
      // Each message's data is the one its publish was answered with.
      results.forEach(([r], i) => assert.equal(page.messages[r!.offset - 1]!.data, i));
      await waitFor(() => feed.got.length === 60, 15_000, 'the feed');
      assert.deepEqual(feed.got.map((m) => m.offset), offsets);
      assert.deepEqual(feed.got.map((m) => m.json), page.messages.map((m) => m.json), 'the same envelope bytes live and from history');
      for (const m of page.messages) assert.equal(m.event, (m.data as number) % 2 ? 'odd' : undefined);
      stop();
    });

    it('a batch is all or nothing and contiguous per channel, even among concurrent publishes', async () => {
      const engine = await make();
      const [a, b] = [uniqueChannel(), uniqueChannel()];
      const batches = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          engine.publish([
            { channel: a, data: `${i}.1` },
            { channel: b, data: `${i}.1` },
            { channel: a, data: `${i}.2` },
            { channel: a, data: `${i}.3` },
          ]),
        ),
      );
      for (const results of batches) {
        assert.equal(results.length, 4);
        assert.deepEqual(results.map((r) => r.channel), [a, b, a, a]);
        const [x, , y, z] = results;
        assert.equal(y!.offset, x!.offset + 1);
        assert.equal(z!.offset, x!.offset + 2);
      }
      const page = await engine.read(a, 0, 1000);
      assert.equal(page.last, 30);
      assert.equal((await engine.info(b)).last, 10);
    });

    it('idempotency: a resent key is the first result with duplicate: true, per channel, also inside one batch, and only within the window', async () => {
      const engine = await make({ dedupeWindowMs: 400 });
      const [ch, other] = [uniqueChannel(), uniqueChannel()];
      const [first] = await engine.publish([{ channel: ch, data: 'x', idempotencyKey: 'k1' }]);
      const [again] = await engine.publish([{ channel: ch, data: 'ignored', idempotencyKey: 'k1' }]);
      assert.equal(first!.duplicate, false);
      assert.deepEqual(again, { ...first, duplicate: true });
      const [elsewhere] = await engine.publish([{ channel: other, data: 'x', idempotencyKey: 'k1' }]);
      assert.equal(elsewhere!.duplicate, false);
      const inBatch = await engine.publish([
        { channel: ch, data: 'a', idempotencyKey: 'k2' },
        { channel: ch, data: 'b', idempotencyKey: 'k2' },
      ]);
      assert.equal(inBatch[1]!.duplicate, true);
      assert.equal(inBatch[1]!.offset, inBatch[0]!.offset);
      assert.equal((await engine.info(ch)).last, 2);
      await delay(600);
      const [later] = await engine.publish([{ channel: ch, data: 'y', idempotencyKey: 'k1' }]);
      assert.equal(later!.duplicate, false);
      assert.equal(later!.offset, 3);
    });

    it('trims by count: the newest maxCount stay, first moves on', async () => {
      const engine = await make({ maxCount: 5 });
      const ch = uniqueChannel();
      for (let i = 0; i < 8; i++) await engine.publish([{ channel: ch, data: i }]);
      const page = await engine.read(ch, 0, 100);
      assert.equal(page.first, 4);
      assert.equal(page.last, 8);
      assert.deepEqual(page.messages.map((m) => m.offset), [4, 5, 6, 7, 8]);
      assert.deepEqual((await engine.read(ch, 6, 100)).messages.map((m) => m.offset), [7, 8]);
      assert.deepEqual((await engine.read(ch, 3, 2)).messages.map((m) => m.offset), [4, 5]);
    });

    it('trims by age, by the time each message was published; offsets go on', async () => {
      const engine = await make({ maxAgeMs: 400 });
      const ch = uniqueChannel();
      await engine.publish([{ channel: ch, data: 1 }]);
      await engine.publish([{ channel: ch, data: 2 }]);
      await delay(500);
      await engine.publish([{ channel: ch, data: 3 }]);
      const page = await engine.read(ch, 0, 100);
      assert.deepEqual(page.messages.map((m) => m.offset), [3]);
      assert.equal(page.first, 3);
      await delay(500);
      const state = await engine.info(ch);
      assert.equal(state.last, 3);
      assert.equal(state.first, 4, 'nothing retained: first is last + 1');
      const [next] = await engine.publish([{ channel: ch, data: 4 }]);
      assert.equal(next!.offset, 4);
      assert.equal(next!.epoch, state.epoch);
    });

    it('feed: live once resolved, stops when stopped', async () => {
      const engine = await make();
      const ch = uniqueChannel();
      const feed = feedCollector();
      const stop = await engine.feed(ch, feed);
      await engine.publish([{ channel: ch, data: 'right after' }]);
      await waitFor(() => feed.got.length === 1, 15_000, 'the message published right after feed() resolved');
      stop();
      await engine.publish([{ channel: ch, data: 'after stop' }]);
      await delay(100);
      assert.equal(feed.got.length, 1);
    });

    it('a feed that misses messages says so, and subscriptions catch up with nothing lost or repeated', { skip: options.feedsCantMiss ?? false }, async () => {
      const engine = await make();
      const hub = new Hub(engine);
      const ch = uniqueChannel();
      const sinks = [sinkCollector(), sinkCollector()];
      const subs = sinks.map((s) => hub.subscribe(ch, { kind: 'now' }, s));
      await Promise.all(subs.map((s) => s.ready));
      for (const s of subs) s.resume();
      // More channels than a 3-shard cluster has shards: some share a connection (and
      // differ in slot), which their re-subscription must cope with.
      const others = Array.from({ length: 6 }, () => feedCollector());
      const stops = await Promise.all(others.map((f) => engine.feed(uniqueChannel(), f)));
      let n = 0;
      const publishSome = async (count: number) => {
        for (let i = 0; i < count; i++) await engine.publish([{ channel: ch, data: ++n }]);
      };
      await publishSome(5);
      await waitFor(() => sinks.every((s) => s.got.length === 5), 15_000, 'first five');
      await under.breakFeeds!();
      // Published while the feed is down: pub/sub drops these for good.
      await publishSome(5);
      await waitFor(() => others.every((f) => f.missedCount > 0), 15_000, 'the engine saying every feed missed messages');
      await waitFor(() => sinks.every((s) => s.got.length === 10), 15_000, 'catch-up from history');
      await publishSome(5);
      await waitFor(() => sinks.every((s) => s.got.length === 15), 15_000, 'live again');
      for (const s of sinks) {
        assert.deepEqual(s.got.map((m) => m.data), Array.from({ length: 15 }, (_, i) => i + 1));
        assert.deepEqual(s.problems, []);
      }
      for (const s of subs) s.close();
      for (const stop of stops) stop();
    });
  });
}

engineCases(
  'memory',
  async () => ({ make: async (limits) => new MemoryEngine({ ...DEFAULTS, ...limits }) }),
  async () => undefined,
  { feedsCantMiss: 'the memory feed runs inside publish and has no connection to lose (test/unit/hub.test.ts covers the hub side)' },
);

let redis: RedisServer | undefined;
engineCases(
  'redis',
  async () => {
    redis = await RedisServer.start();
    const url = redis.url;
    return {
      make: (limits) => RedisEngine.connect({ ...DEFAULTS, ...limits, url }),
      breakFeeds: async () => {
        const admin = new Redis(url);
        await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
        admin.disconnect();
      },
    };
  },
  async () => redis?.stop(),
  { skip: skipWithoutRedis },
);

let cluster: RedisCluster | undefined;
engineCases(
  'redis cluster (sharded pub/sub)',
  async () => {
    cluster = await RedisCluster.start(3);
    const url = cluster.url;
    return {
      make: (limits) => RedisEngine.connect({ ...DEFAULTS, ...limits, url }),
      breakFeeds: async () => {
        for (const node of cluster!.nodes) {
          const admin = new Redis(node.url);
          await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
          admin.disconnect();
        }
      },
    };
  },
  async () => cluster?.stop(),
  { skip: skipWithoutRedis },
);
