import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type { TidingsServer } from '../../src/server.js';
import { RedisServer, skipWithoutRedis } from '../helpers/redis.js';
import { delay, publish, range, request, startTestServer, uniqueChannel, waitFor } from '../helpers/server.js';
import { SseSubscriber } from '../helpers/subscribers.js';

/**
 * A node's Redis pub/sub connection drops and comes back: the engine says `missed()` and
 * every subscription of the channel goes back to history at once. Subscriptions at one
 * position must share their reads, or N subscribers are N identical XRANGEs on a Redis
 * that has just come back.
 */

/** XRANGE commands Redis has run, those inside the read script included. */
async function xrangeCalls(admin: Redis): Promise<number> {
  const stats = await admin.info('commandstats');
  return Number(/^cmdstat_xrange:calls=(\d+)/m.exec(stats)?.[1] ?? 0);
}

async function connectedClients(admin: Redis): Promise<number> {
  return Number(/^connected_clients:(\d+)/m.exec(await admin.info('clients'))![1]);
}

describe('Redis pub/sub reconnect: a channel catches up with shared reads', { skip: skipWithoutRedis }, () => {
  let redis: RedisServer | undefined;
  let server: TidingsServer | undefined;
  let admin: Redis | undefined;
  const subs: SseSubscriber[] = [];

  before(async () => {
    redis = await RedisServer.start();
    server = await startTestServer({ engine: 'redis', redisUrl: redis.url });
    admin = new Redis(redis.url);
  });
  after(async () => {
    await Promise.all(subs.map((s) => s.close()));
    await server?.close();
    admin?.disconnect();
    await redis?.stop();
  });

  it('50 SSE subscribers sent back to history together: the XRANGEs of about one read, not 50; each gets every message once, in order', async () => {
    const url = server!.url;
    const channel = uniqueChannel('herd');
    for (let i = 0; i < 50; i++) subs.push(new SseSubscriber(url));
    await Promise.all(subs.map((s) => s.subscribe({ channels: [channel] })));
    await publish(url, channel, 1);
    await waitFor(() => subs.every((s) => s.messages.length === 1), 15_000, 'the first message, live, on every stream');

    // Drop the node's pub/sub connection and keep it out (no room for a new client) while
    // messages are published: they are lost to pub/sub, and history is the only way to them.
    await admin!.config('SET', 'maxclients', String((await connectedClients(admin!)) - 1));
    let before: number;
    let perRead: number;
    try {
      await admin!.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
      for (let n = 2; n <= 6; n++) await publish(url, channel, n);
      await delay(300);
      assert.ok(
        subs.every((s) => s.messages.length === 1),
        'nothing arrived live while the pub/sub connection was away',
      );
      // What one read of that page costs in XRANGEs (the read script also looks at the
      // stream's head): the yardstick for the catch-up below.
      const beforeOneRead = await xrangeCalls(admin!);
      const page = await request<{ messages: unknown[] }>(url, `/v1/channels/${channel}/messages?after=1&limit=1000`);
      assert.equal(page.body.messages.length, 5);
      before = await xrangeCalls(admin!);
      perRead = before - beforeOneRead;
    } finally {
      await admin!.config('SET', 'maxclients', '10000');
    }
    await waitFor(() => subs.every((s) => s.messages.length === 6), 20_000, 'every stream to catch up after the reconnect');
    const reads = ((await xrangeCalls(admin!)) - before) / perRead;
    assert.ok(perRead > 0 && reads >= 1, 'the catch-up read the lost messages from history');
    assert.ok(reads <= 2, `50 subscriptions at one position shared their reads: ${reads} reads' worth of XRANGE (${perRead} a read), not one each`);

    await publish(url, channel, 7);
    await waitFor(() => subs.every((s) => s.messages.length === 7), 15_000, 'live again on every stream');
    for (const s of subs) {
      assert.deepEqual(
        s.messages.map((m) => m.offset),
        range(1, 7),
        'every message once, in order',
      );
      assert.deepEqual(
        s.messages.map((m) => m.data),
        range(1, 7),
      );
      assert.deepEqual(s.gaps, []);
      assert.equal(s.opens, 1, 'the stream stayed open');
    }
  });
});
