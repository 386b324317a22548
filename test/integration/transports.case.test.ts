import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TidingsServer } from '../../src/server.js';
import {
  channelInfo,
  offsets,
  publishSeries,
  range,
  request,
  startTestServer,
  uniqueChannel,
  waitFor,
} from '../helpers/server.js';
import { rawTransportCases, transportCases, type Subscriber } from '../helpers/subscribers.js';

/** Waits until `sub` holds `n` messages, then gives the server a moment to send any extra. */
async function receive(sub: Subscriber, n: number, what = `${n} messages on ${sub.name}`): Promise<void> {
  await waitFor(() => sub.messages.length >= n, 8000, what);
}

describe('one message reaches every transport at once', () => {
  let server: TidingsServer;
  before(async () => (server = await startTestServer()));
  after(() => server.close());

  it('50 messages arrive at a short poller, a long poller, SSE and WebSocket, in order, once each', async () => {
    const channel = uniqueChannel('fanout');
    // Raw wire clients and the SDK side by side: the server's frames and the SDK agree.
    const subs = [...rawTransportCases, ...transportCases].map((c) => c.make(server.url));
    try {
      await Promise.all(subs.map((s) => s.subscribe({ channels: [channel] })));
      // SSE, WebSocket and the parked long poll count as live subscriptions.
      await waitFor(async () => (await channelInfo(server.url, channel)).subscribers >= 2, 5000, 'live subscriptions');
      await publishSeries(server.url, channel, 50);
      for (const s of subs) await receive(s, 50);
      for (const s of subs) {
        assert.deepEqual(offsets(s.messages), range(1, 50), `${s.name} got offsets 1..50 exactly`);
        assert.deepEqual(
          s.messages.map((m) => (m.data as { n: number }).n),
          range(1, 50),
          `${s.name} data in order`,
        );
        assert.equal(s.gaps.length, 0, `${s.name} saw no gap`);
        assert.ok(s.messages.every((m) => m.channel === channel && typeof m.epoch === 'string' && typeof m.time === 'number'));
      }
      const epochs = new Set(subs.flatMap((s) => s.messages.map((m) => m.epoch)));
      assert.equal(epochs.size, 1, 'every transport saw the same epoch');
    } finally {
      await Promise.all(subs.map((s) => s.close()));
    }
  });
});

for (const [kind, transport] of [...rawTransportCases.map((c) => ['raw', c] as const), ...transportCases.map((c) => ['SDK', c] as const)]) {
  describe(`transport case: ${transport.name} (${kind})`, () => {
    let server: TidingsServer;
    /** historyCount 5, to trim history while a subscriber is away. */
    let small: TidingsServer;
    before(async () => {
      server = await startTestServer({ sseRetryMs: 50 });
      small = await startTestServer({ historyCount: 5, sseRetryMs: 50 });
    });
    after(async () => {
      await server.close();
      await small.close();
    });

    it('delivers in offset order per channel over two channels', async () => {
      const a = uniqueChannel('a');
      const b = uniqueChannel('b');
      const sub = transport.make(server.url);
      try {
        await sub.subscribe({ channels: [a, b] });
        for (let i = 1; i <= 10; i++) {
          await publishSeries(server.url, a, 1, i);
          await publishSeries(server.url, b, 1, i);
        }
        await receive(sub, 20);
        assert.deepEqual(offsets(sub.messages.filter((m) => m.channel === a)), range(1, 10));
        assert.deepEqual(offsets(sub.messages.filter((m) => m.channel === b)), range(1, 10));
        assert.equal(sub.messages.length, 20);
      } finally {
        await sub.close();
      }
    });

    it('resumes after a drop with no loss and no duplicate', async () => {
      const channel = uniqueChannel('resume');
      const sub = transport.make(server.url);
      try {
        await sub.subscribe({ channels: [channel] });
        await publishSeries(server.url, channel, 10);
        await receive(sub, 10);
        const cursorAtDrop = sub.cursor;
        assert.ok(cursorAtDrop !== undefined, 'a cursor after 10 messages');
        await sub.drop();
        await publishSeries(server.url, channel, 10, 11);
        await sub.resume();
        await publishSeries(server.url, channel, 5, 21);
        await receive(sub, 25);
        assert.deepEqual(offsets(sub.messages), range(1, 25));
        assert.equal(sub.gaps.length, 0);
        assert.notEqual(sub.cursor, cursorAtDrop, 'the cursor moved on');
      } finally {
        await sub.close();
      }
    });

    it('starts with the last N retained messages with last=N', async () => {
      const channel = uniqueChannel('last');
      await publishSeries(server.url, channel, 5);
      const sub = transport.make(server.url);
      try {
        await sub.subscribe({ channels: [channel], last: 3 });
        await receive(sub, 3);
        await publishSeries(server.url, channel, 1, 6);
        await receive(sub, 4);
        assert.deepEqual(offsets(sub.messages), [3, 4, 5, 6]);
      } finally {
        await sub.close();
      }
    });

    it('without cursor or last, delivers only what is published after subscribing', async () => {
      const channel = uniqueChannel('now');
      await publishSeries(server.url, channel, 3);
      const sub = transport.make(server.url);
      try {
        await sub.subscribe({ channels: [channel] });
        await publishSeries(server.url, channel, 2, 4);
        await receive(sub, 2);
        assert.deepEqual(offsets(sub.messages), [4, 5]);
      } finally {
        await sub.close();
      }
    });

    it('reports a gap when the history was trimmed while away, then delivers from the oldest retained', async () => {
      const channel = uniqueChannel('trim');
      const sub = transport.make(small.url);
      try {
        await sub.subscribe({ channels: [channel] });
        await publishSeries(small.url, channel, 3);
        await receive(sub, 3);
        await sub.drop();
        await publishSeries(small.url, channel, 10, 4); // offsets 4..13; 9..13 retained
        const info = await channelInfo(small.url, channel);
        assert.equal(info.first, 9);
        await sub.resume();
        await receive(sub, 8, 'the retained messages after the gap');
        assert.equal(sub.gaps.length, 1, 'one gap notice');
        assert.deepEqual(sub.gaps[0], { channel, epoch: info.epoch, from: 4, first: 9 });
        await publishSeries(small.url, channel, 1, 14);
        await receive(sub, 9);
        assert.deepEqual(offsets(sub.messages), [1, 2, 3, ...range(9, 14)]);
      } finally {
        await sub.close();
      }
    });

    it('reports a gap for a cursor from another epoch (another server instance)', async () => {
      const channel = uniqueChannel('epoch');
      // The same channel name on the other server: a different life of its history.
      await publishSeries(small.url, channel, 3);
      const poll = await request<{ cursor: string }>(small.url, `/v1/poll?channel=${channel}&last=3`);
      const foreign = poll.body.cursor;
      await publishSeries(server.url, channel, 5);
      const info = await channelInfo(server.url, channel);
      const sub = transport.make(server.url);
      try {
        await sub.subscribe({ channels: [channel], cursor: foreign });
        await receive(sub, 5);
        assert.equal(sub.gaps.length, 1);
        assert.deepEqual(sub.gaps[0], { channel, epoch: info.epoch, from: 4, first: 1 });
        assert.deepEqual(offsets(sub.messages), range(1, 5));
        assert.ok(sub.messages.every((m) => m.epoch === info.epoch));
      } finally {
        await sub.close();
      }
    });

    it(`hands out cursors that every transport accepts (from ${transport.name} to each)`, async () => {
      const channel = uniqueChannel('cross');
      const source = transport.make(server.url);
      let cursor: string | undefined;
      try {
        await source.subscribe({ channels: [channel] });
        await publishSeries(server.url, channel, 5);
        await receive(source, 5);
        cursor = source.cursor;
      } finally {
        await source.close();
      }
      assert.ok(cursor !== undefined);
      await publishSeries(server.url, channel, 5, 6);
      const targets = transportCases.map((c) => c.make(server.url));
      try {
        await Promise.all(targets.map((t) => t.subscribe({ channels: [channel], cursor })));
        await publishSeries(server.url, channel, 1, 11);
        for (const t of targets) {
          await receive(t, 6);
          assert.deepEqual(offsets(t.messages), range(6, 11), `${transport.name} cursor on ${t.name}`);
          assert.equal(t.gaps.length, 0);
        }
      } finally {
        await Promise.all(targets.map((t) => t.close()));
      }
    });
  });
}
