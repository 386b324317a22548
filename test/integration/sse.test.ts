import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TidingsServer } from '../../src/server.js';
import { CuttableProxy } from '../helpers/proxy.js';
import { RawSse } from '../helpers/sse-raw.js';
import {
  offsets,
  publish,
  publishSeries,
  range,
  request,
  startTestServer,
  uniqueChannel,
  waitFor,
  waitForSubscribers,
  type Envelope,
  type GapNotice,
} from '../helpers/server.js';
import { SseSubscriber } from '../helpers/subscribers.js';

describe('Server-Sent Events framing (GET /v1/events)', () => {
  let server: TidingsServer;
  before(async () => (server = await startTestServer({ heartbeatMs: 200, sseRetryMs: 1234, historyCount: 5 })));
  after(() => server.close());

  const open = (query: string, headers: Record<string, string> = {}) => RawSse.open(`${server.url}/v1/events?${query}`, headers);

  it('starts with retry:, is text/event-stream, and frames each message with id:, event: and data:', async () => {
    const channel = uniqueChannel('frame');
    const sse = await open(`channel=${channel}`);
    try {
      assert.equal(sse.status, 200);
      assert.match(sse.headers?.get('content-type') ?? '', /^text\/event-stream/);
      assert.match(sse.headers?.get('cache-control') ?? '', /no-cache/);
      await waitFor(() => sse.text.length > 0, 3000, 'first bytes');
      assert.match(sse.text, /^retry: 1234\n/);
      await waitForSubscribers(server.url, channel, 1);
      await publish(server.url, channel, { a: 1 });
      await publish(server.url, channel, 'named', { event: 'tick' });
      await waitFor(() => sse.events().length === 2, 3000, 'two events');
      const [first, second] = sse.events();
      assert.equal(first!.event, 'message');
      assert.equal(second!.event, 'tick');
      for (const e of [first!, second!]) assert.ok(e.id !== undefined && e.id.length > 1, 'every message has an id');
      const env1 = JSON.parse(first!.data!) as Envelope;
      const env2 = JSON.parse(second!.data!) as Envelope;
      assert.deepEqual([env1.channel, env1.offset, env1.data], [channel, 1, { a: 1 }]);
      assert.deepEqual([env2.offset, env2.event, env2.data], [2, 'tick', 'named']);
      // The id is a cursor: polling from the first id gives exactly the second message.
      const poll = await request<{ messages: Envelope[] }>(server.url, `/v1/poll?channel=${channel}&cursor=${first!.id}`);
      assert.deepEqual(offsets(poll.body.messages), [2]);
    } finally {
      sse.close();
    }
  });

  it('sends ": ping" comments while idle', async () => {
    const sse = await open(`channel=${uniqueChannel('ping')}`);
    try {
      await waitFor(() => sse.blocks().filter((b) => b.comments.includes('ping')).length >= 2, 3000, 'two pings');
    } finally {
      sse.close();
    }
  });

  it('sends the start position as an id: so a reconnect without any message loses nothing', async () => {
    const channel = uniqueChannel('mark');
    await publishSeries(server.url, channel, 2);
    const sse = await open(`channel=${channel}`);
    let id: string | undefined;
    try {
      await waitFor(() => sse.blocks().some((b) => b.id !== undefined), 3000, 'an id: block');
      id = sse.blocks().find((b) => b.id !== undefined)!.id;
    } finally {
      sse.close();
    }
    await publish(server.url, channel, 'while away');
    const again = await open(`channel=${channel}`, { 'last-event-id': id! });
    try {
      await waitFor(() => again.events().length === 1, 3000, 'the message published while away');
      assert.equal((JSON.parse(again.events()[0]!.data!) as Envelope).offset, 3);
    } finally {
      again.close();
    }
  });

  it('Last-Event-ID wins over cursor= and last= in the URL', async () => {
    const channel = uniqueChannel('lei');
    await publishSeries(server.url, channel, 4);
    const at1 = (await request<{ cursor: string }>(server.url, `/v1/poll?channel=${channel}&last=3`)).body.cursor; // after 1..4 → at 4
    const at2 = (await request<{ messages: Envelope[]; cursor: string }>(server.url, `/v1/poll?channel=${channel}&last=4`)).body;
    assert.deepEqual(offsets(at2.messages), [1, 2, 3, 4]);
    // A cursor after offset 2: take the id of the second message from an SSE replay.
    const replay = await open(`channel=${channel}&last=4`);
    let after2: string | undefined;
    try {
      await waitFor(() => replay.events().length === 4, 3000, 'replay');
      after2 = replay.events()[1]!.id;
    } finally {
      replay.close();
    }
    const sse = await open(`channel=${channel}&cursor=${at1}&last=1`, { 'last-event-id': after2! });
    try {
      await waitFor(() => sse.events().length >= 2, 3000, 'resumed events');
      assert.deepEqual(
        sse.events().map((e) => (JSON.parse(e.data!) as Envelope).offset),
        [3, 4],
      );
    } finally {
      sse.close();
    }
  });

  it('frames a gap as event: gap with an id, then the retained messages', async () => {
    const channel = uniqueChannel('gap');
    await publishSeries(server.url, channel, 1);
    const cursor = (await request<{ cursor: string }>(server.url, `/v1/poll?channel=${channel}&last=1`)).body.cursor;
    await publishSeries(server.url, channel, 8, 2); // 2..9; 5..9 retained
    const sse = await open(`channel=${channel}&cursor=${cursor}`);
    try {
      await waitFor(() => sse.events().length === 6, 3000, 'gap + 5 messages');
      const [gap, ...messages] = sse.events();
      assert.equal(gap!.event, 'gap');
      assert.ok(gap!.id !== undefined);
      const notice = JSON.parse(gap!.data!) as GapNotice;
      assert.deepEqual([notice.channel, notice.from, notice.first], [channel, 2, 5]);
      assert.deepEqual(
        messages.map((e) => (JSON.parse(e.data!) as Envelope).offset),
        range(5, 9),
      );
    } finally {
      sse.close();
    }
  });

  it('on several channels, each id is a cursor over all of them', async () => {
    const a = uniqueChannel('sa');
    const b = uniqueChannel('sb');
    const sse = await open(`channel=${a}&channel=${b}`);
    try {
      await waitForSubscribers(server.url, b, 1);
      await publish(server.url, a, 'a1');
      await publish(server.url, b, 'b1');
      await waitFor(() => sse.events().length === 2, 3000, 'two events');
      const afterA = sse.events()[0]!.id!;
      const poll = await request<{ messages: Envelope[] }>(server.url, `/v1/poll?channel=${a}&channel=${b}&cursor=${afterA}`);
      assert.deepEqual(
        poll.body.messages.map((m) => [m.channel, m.offset]),
        [[b, 1]],
      );
    } finally {
      sse.close();
    }
  });
});

describe('SSE reconnects by itself (eventsource client through a proxy that cuts the link)', () => {
  let server: TidingsServer;
  let proxy: CuttableProxy;
  before(async () => {
    server = await startTestServer({ sseRetryMs: 50 });
    proxy = await CuttableProxy.start(server.url);
  });
  after(async () => {
    await proxy.close();
    await server.close();
  });

  it('resumes with Last-Event-ID after the connection drops: no loss, no duplicate', async () => {
    const channel = uniqueChannel('auto');
    const sub = new SseSubscriber(proxy.url);
    try {
      await sub.subscribe({ channels: [channel] });
      await waitForSubscribers(server.url, channel, 1);
      await publishSeries(server.url, channel, 5);
      await waitFor(() => sub.messages.length === 5, 3000, 'first 5');
      proxy.cut();
      await waitForSubscribers(server.url, channel, 0);
      await publishSeries(server.url, channel, 5, 6); // published while the link is down
      proxy.restore();
      await waitFor(() => sub.opens === 2, 5000, 'the automatic reconnect');
      await publishSeries(server.url, channel, 2, 11);
      await waitFor(() => sub.messages.length >= 12, 5000, '12 messages');
      assert.deepEqual(offsets(sub.messages), range(1, 12));
      assert.equal(sub.gaps.length, 0);
    } finally {
      await sub.close();
    }
  });
});
