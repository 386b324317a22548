import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { configWith } from '../../src/config.js';
import { MemoryEngine } from '../../src/engines/memory.js';
import { startServer, type TidingsServer } from '../../src/server.js';
import { CuttableProxy } from '../helpers/proxy.js';
import { Recorder, TRANSPORTS } from '../helpers/sdk.js';
import { delay, publish, publishSeries, range, request, startTestServer, uniqueChannel, waitFor } from '../helpers/server.js';

/** The SDK's promises, run over each forced transport against a real server. */
for (const transport of TRANSPORTS) {
  describe(`SDK over ${transport}`, () => {
    let server: TidingsServer;
    before(async () => (server = await startTestServer()));
    after(() => server.close());

    it('delivers the last N and then live messages of several channels, in order, once each', async () => {
      const a = uniqueChannel('a');
      const b = uniqueChannel('b');
      await publishSeries(server.url, a, 5);
      const r = new Recorder(server.url, { transports: [transport] });
      try {
        r.subscribe(a, { last: 3 });
        r.subscribe(b);
        await r.connected(transport);
        await r.received(a, 3);
        await publishSeries(server.url, a, 5, 6);
        await publishSeries(server.url, b, 4);
        await r.received(a, 8);
        await r.received(b, 4);
        await delay(50);
        assert.deepEqual(r.offsets(a), range(3, 10));
        assert.deepEqual(r.offsets(b), range(1, 4));
        assert.deepEqual(r.gaps, []);
        assert.deepEqual(r.errors, []);
      } finally {
        r.close();
      }
    });

    it('publishes with an ack, and a repeated idempotency key is one message', async () => {
      const ch = uniqueChannel('pub');
      const r = new Recorder(server.url, { transports: [transport] });
      try {
        r.subscribe(ch);
        await r.connected(transport);
        const first = await r.client.publish(ch, { hello: 1 }, { event: 'greet' });
        assert.equal(first.channel, ch);
        assert.equal(first.offset, 1);
        assert.equal(typeof first.epoch, 'string');
        const again = await r.client.publish(ch, { hello: 1 }, { idempotencyKey: 'k-1' });
        const repeat = await r.client.publish(ch, { hello: 1 }, { idempotencyKey: 'k-1' });
        assert.equal(again.offset, 2);
        assert.equal(repeat.offset, 2, 'same key, same message');
        await r.received(ch, 2);
        await delay(50);
        assert.deepEqual(r.offsets(ch), [1, 2]);
        assert.equal(r.messages[0]!.event, 'greet');
        assert.deepEqual(r.messages[0]!.data, { hello: 1 });
      } finally {
        r.close();
      }
    });

    it('subscribe and unsubscribe while connected lose nothing on the other channels', async () => {
      const a = uniqueChannel('keep');
      const b = uniqueChannel('add');
      const r = new Recorder(server.url, { transports: [transport] });
      try {
        r.subscribe(a);
        await r.connected(transport);
        await publishSeries(server.url, a, 3);
        const sb = r.subscribe(b, { last: 10 });
        await publishSeries(server.url, a, 3, 4);
        await publishSeries(server.url, b, 2);
        await r.received(a, 6);
        await r.received(b, 2);
        sb.unsubscribe();
        await publishSeries(server.url, a, 3, 7);
        await publishSeries(server.url, b, 2, 3);
        await r.received(a, 9);
        await delay(100);
        assert.deepEqual(r.offsets(a), range(1, 9));
        assert.deepEqual(r.offsets(b), [1, 2], 'nothing after unsubscribe');
      } finally {
        r.close();
      }
    });

    it('sub.cursor read in the handler of the last message of a batch resumes right after it', async () => {
      const ch = uniqueChannel('cursor');
      await publishSeries(server.url, ch, 3);
      const r = new Recorder(server.url, { transports: [transport] });
      // Over polling (and SSE's `last: N` start, fetched by a poll) offsets 1 and 2 share
      // their answer's cursor, which only the last message can carry: 3 and 4 are asserted.
      const cursorIn = new Map<number, string | undefined>();
      const after = async (cursor: string | undefined) => {
        assert.ok(cursor !== undefined, 'a cursor inside the handler');
        const answer = await request<{ messages: { offset: number }[] }>(server.url, `/v1/poll?channel=${ch}&cursor=${encodeURIComponent(cursor)}`);
        return answer.body.messages.map((m) => m.offset);
      };
      try {
        const sub = r.client.subscribe(ch, (m) => cursorIn.set(m.offset, sub.cursor), { last: 3 });
        await waitFor(() => cursorIn.has(3), 8000, 'the last 3 messages');
        await publish(server.url, ch, { n: 4 });
        await waitFor(() => cursorIn.has(4), 8000, 'the live message');
        assert.deepEqual(await after(cursorIn.get(3)), [4]);
        assert.deepEqual(await after(cursorIn.get(4)), []);
      } finally {
        r.close();
      }
    });

    it('a cut connection resumes from its cursor: nothing lost, nothing repeated', async () => {
      const ch = uniqueChannel('cut');
      const proxy = await CuttableProxy.start(server.url);
      const r = new Recorder(proxy.url, { transports: [transport] });
      try {
        const sub = r.subscribe(ch);
        await r.connected(transport);
        // Before any message: the start cursor alone must resume it (subscribed.cursor, SSE's first id, the poll's cursor).
        assert.ok(sub.cursor !== undefined, 'a cursor before the first message');
        proxy.cut();
        await publishSeries(server.url, ch, 3);
        proxy.restore();
        await r.received(ch, 3);
        for (let round = 0; round < 3; round++) {
          await publishSeries(server.url, ch, 2, 4 + round * 4);
          proxy.cut();
          await publishSeries(server.url, ch, 2, 6 + round * 4);
          await delay(30);
          proxy.restore();
        }
        await r.received(ch, 15);
        await delay(100);
        assert.deepEqual(r.offsets(ch), range(1, 15));
        assert.ok(r.states.some((s) => s.state === 'reconnecting'), 'it did reconnect');
        assert.ok(proxy.connections >= 2);
      } finally {
        r.close();
        await proxy.close();
      }
    });
  });
}

/**
 * Publishes `{ n: from..to }` to a server just restarted on the same port. The test's own
 * fetch may still hold a keep-alive socket to the old server, and a POST on it fails, so
 * each is retried with an Idempotency-Key, as any careful publisher would.
 */
async function publishAfterRestart(url: string, channel: string, from: number, to: number): Promise<void> {
  for (let n = from; n <= to; n++) {
    for (let attempt = 1; ; attempt++) {
      try {
        await publish(url, channel, { n }, { idempotencyKey: `${channel}-${n}` });
        break;
      } catch (err) {
        if (attempt >= 3) throw err;
      }
    }
  }
}

describe('SDK across a server restart', () => {
  it('each transport resumes on the restarted server (same port, same history) with nothing lost or repeated', async () => {
    // The engine outlives the server, as Redis would: the same history and epoch after the restart.
    const engine = new MemoryEngine({ maxCount: 1000, maxAgeMs: 3_600_000, dedupeWindowMs: 60_000 });
    const kept = new Proxy(engine, { get: (t, p) => (p === 'close' ? async () => {} : Reflect.get(t, p)) });
    const config = configWith({ host: '127.0.0.1', port: 0, logLevel: 'silent' });
    let server = await startServer(config, { engine: kept });
    const port = Number(new URL(server.url).port);
    const channel = uniqueChannel('restart');
    const recorders = TRANSPORTS.map((t) => new Recorder(server.url, { transports: [t] }));
    try {
      for (const r of recorders) r.subscribe(channel);
      await Promise.all(recorders.map((r) => r.connected()));
      await publishSeries(server.url, channel, 5);
      await server.close();
      server = await startServer({ ...config, port }, { engine: kept });
      await publishAfterRestart(server.url, channel, 6, 10);
      for (const r of recorders) await r.received(channel, 10);
      await delay(100);
      for (const r of recorders) assert.deepEqual(r.offsets(channel), range(1, 10), `${r.client.transport}: 1..10 once each`);
    } finally {
      for (const r of recorders) r.close();
      await server.close();
      await engine.close();
    }
  });

  it('a restart that lost the history (memory engine: a new epoch) is a gap event on each transport, never hidden', async () => {
    const config = configWith({ host: '127.0.0.1', port: 0, logLevel: 'silent' });
    let server = await startServer(config);
    const port = Number(new URL(server.url).port);
    const channel = uniqueChannel('lost');
    const recorders = TRANSPORTS.map((t) => new Recorder(server.url, { transports: [t] }));
    try {
      for (const r of recorders) r.subscribe(channel);
      await Promise.all(recorders.map((r) => r.connected()));
      await publishSeries(server.url, channel, 3);
      for (const r of recorders) await r.received(channel, 3);
      await server.close();
      server = await startServer({ ...config, port });
      await publishAfterRestart(server.url, channel, 1, 2);
      for (const r of recorders) await r.received(channel, 5);
      const epochs = new Set(recorders.flatMap((r) => r.messages.map((m) => m.epoch)));
      assert.equal(epochs.size, 2, 'two lives of the channel');
      for (const r of recorders) {
        assert.deepEqual(r.offsets(channel), [1, 2, 3, 1, 2], `${r.client.transport}: the new life from its start`);
        assert.equal(r.gaps.length, 1, `${r.client.transport}: one gap`);
        assert.equal(r.gaps[0]!.channel, channel);
        assert.equal(r.gaps[0]!.epoch, r.messages[3]!.epoch);
      }
    } finally {
      for (const r of recorders) r.close();
      await server.close();
    }
  });

  it('long polling adapts to a server whose --long-poll-max-wait is below the client\'s wait', async () => {
    const server = await startTestServer({ longPollMaxWaitMs: 3000 });
    const ch = uniqueChannel('short-wait');
    const r = new Recorder(server.url, { transports: ['long-poll'], longPollWait: 25 });
    try {
      r.subscribe(ch);
      await r.connected('long-poll');
      await delay(200);
      await publishSeries(server.url, ch, 3);
      await r.received(ch, 3);
      assert.deepEqual(r.offsets(ch), [1, 2, 3]);
      assert.equal(r.client.transport, 'long-poll');
      assert.deepEqual(r.errors, []);
    } finally {
      r.close();
      await server.close();
    }
  });

  it('a link that goes silent without closing (half-open) is found by the idle checks and resumed, on each push transport', async () => {
    // Keep-alives every ~250 ms, so a live SSE stream is never silent for long.
    const server = await startTestServer({ heartbeatMs: 500 });
    const proxy = await CuttableProxy.start(server.url);
    const ch = uniqueChannel('silent');
    const recorders = (['ws', 'sse', 'long-poll'] as const).map(
      (t) => new Recorder(proxy.url, { transports: [t], idleTimeout: 1500, requestTimeout: 1000, longPollWait: 1 }),
    );
    try {
      for (const r of recorders) r.subscribe(ch);
      await Promise.all(recorders.map((r) => r.connected()));
      await publishSeries(server.url, ch, 2);
      for (const r of recorders) await r.received(ch, 2);
      proxy.freeze();
      await publishSeries(server.url, ch, 3, 3);
      for (const r of recorders) await r.received(ch, 5, 10_000);
      await delay(50);
      for (const r of recorders) {
        assert.deepEqual(r.offsets(ch), range(1, 5), `${r.client.transport}`);
        assert.ok(r.states.some((s) => s.state === 'reconnecting'), `${r.client.transport} noticed the dead link`);
      }
    } finally {
      for (const r of recorders) r.close();
      await proxy.close();
      await server.close();
    }
  });
});
