import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TidingsServer } from '../../src/server.js';
import {
  assertProblem,
  channelInfo,
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
  type Published,
} from '../helpers/server.js';
import { PollSubscriber, SseSubscriber, WsSubscriber } from '../helpers/subscribers.js';

interface History {
  channel: string;
  epoch: string;
  messages: Envelope[];
  first: number;
  last: number;
}

const json = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

describe('HTTP API (docs/protocol.md § Plain HTTP)', () => {
  let server: TidingsServer;
  before(async () => (server = await startTestServer()));
  after(() => server.close());

  const history = async (channel: string, query = '') => {
    const res = await request<History>(server.url, `/v1/channels/${channel}/messages${query}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  };

  it('publishes a JSON body: 201 with channel, offset, epoch, time; offsets go 1, 2, 3', async () => {
    const channel = uniqueChannel('pub');
    const before = Date.now();
    const res = await request<Published>(server.url, `/v1/channels/${channel}/messages`, json({ a: [1, 'x', null] }));
    assert.equal(res.status, 201);
    assert.deepEqual(Object.keys(res.body).sort(), ['channel', 'epoch', 'offset', 'time']);
    assert.equal(res.body.channel, channel);
    assert.equal(res.body.offset, 1);
    assert.match(res.body.epoch, /^[A-Za-z0-9_-]+$/);
    assert.ok(res.body.time >= before - 1000 && res.body.time <= Date.now() + 1000, 'time is the server receive time in ms');
    const second = await publish(server.url, channel, 'two');
    const third = await publish(server.url, channel, 3);
    assert.deepEqual([second.offset, third.offset], [2, 3]);
    assert.equal(second.epoch, res.body.epoch);
    const h = await history(channel);
    assert.deepEqual(
      h.messages.map((m) => m.data),
      [{ a: [1, 'x', null] }, 'two', 3],
    );
    assert.equal(h.messages[0]!.time, res.body.time);
  });

  it('takes any JSON value as data, including null, false and nested arrays', async () => {
    const channel = uniqueChannel('values');
    const values: unknown[] = [null, false, 0, '', [], {}, [[{ deep: ['x'] }]], 'ünïcødé ✓'];
    for (const v of values) await publish(server.url, channel, v);
    assert.deepEqual(
      (await history(channel)).messages.map((m) => m.data),
      values,
    );
  });

  it('a text/plain body becomes a JSON string; ?event= names the event', async () => {
    const channel = uniqueChannel('text');
    const res = await request<Published>(server.url, `/v1/channels/${channel}/messages?event=greeting`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain; charset=utf-8' },
      body: '{"not":"parsed"}\nline two',
    });
    assert.equal(res.status, 201);
    const [m] = (await history(channel)).messages;
    assert.equal(m!.data, '{"not":"parsed"}\nline two');
    assert.equal(m!.event, 'greeting');
    await publish(server.url, channel, 1);
    const h = await history(channel);
    assert.equal('event' in h.messages[1]!, false, 'no event key when none was given');
  });

  it('batch publish answers results in order and publishes them in order', async () => {
    const a = uniqueChannel('ba');
    const b = uniqueChannel('bb');
    await publish(server.url, a, 'existing');
    const res = await request<{ results: Published[] }>(
      server.url,
      '/v1/publish',
      json({ messages: [{ channel: a, data: 1 }, { channel: b, data: 2, event: 'e' }, { channel: a, data: 3 }] }),
    );
    assert.equal(res.status, 201);
    assert.deepEqual(
      res.body.results.map((r) => [r.channel, r.offset]),
      [
        [a, 2],
        [b, 1],
        [a, 3],
      ],
    );
    for (const r of res.body.results) assert.deepEqual(Object.keys(r).sort(), ['channel', 'epoch', 'offset', 'time']);
    assert.deepEqual(
      (await history(a)).messages.map((m) => m.data),
      ['existing', 1, 3],
    );
    const hb = await history(b);
    assert.equal(hb.messages[0]!.event, 'e');
  });

  it('batch publish is all or nothing: one invalid item publishes nothing', async () => {
    const a = uniqueChannel('atomic');
    await publish(server.url, a, 'before');
    const cases: [unknown, number, string][] = [
      [{ messages: [{ channel: a, data: 1 }, { channel: 'bad name', data: 2 }] }, 400, 'invalid_channel'],
      [{ messages: [{ channel: a, data: 1 }, { channel: a }] }, 400, 'invalid_json'],
      [{ messages: [{ channel: a, data: 1 }, { channel: a, data: 2, event: 'close' }] }, 400, 'invalid_parameter'],
      [{ messages: [{ channel: a, data: 1 }, { channel: a, data: 'x'.repeat(70 * 1024) }] }, 413, 'payload_too_large'],
      [{ messages: [] }, 400, 'invalid_parameter'],
      [{ nothing: true }, 400, 'invalid_json'],
    ];
    for (const [body, status, code] of cases) {
      assertProblem(await request(server.url, '/v1/publish', json(body)), status, code, JSON.stringify(body).slice(0, 80));
    }
    const info = await channelInfo(server.url, a);
    assert.equal(info.last, 1, 'nothing of the failed batches was published');
  });

  it('Idempotency-Key: the repeat answers 200 with the first offset and epoch, and publishes nothing', async () => {
    const channel = uniqueChannel('idem');
    const key = { 'idempotency-key': 'order-42' };
    const first = await request<Published>(server.url, `/v1/channels/${channel}/messages`, json({ v: 1 }, key));
    assert.equal(first.status, 201);
    const again = await request<Published>(server.url, `/v1/channels/${channel}/messages`, json({ v: 'different' }, key));
    assert.equal(again.status, 200);
    assert.equal(again.body.offset, first.body.offset);
    assert.equal(again.body.epoch, first.body.epoch);
    const other = await request<Published>(server.url, `/v1/channels/${channel}/messages`, json({ v: 2 }, { 'idempotency-key': 'order-43' }));
    assert.equal(other.status, 201);
    assert.equal(other.body.offset, 2);
    // Keys are per channel: the same key elsewhere is a new message.
    const elsewhere = await request<Published>(server.url, `/v1/channels/${channel}-2/messages`, json({ v: 3 }, key));
    assert.equal(elsewhere.status, 201);
    assert.deepEqual(
      (await history(channel)).messages.map((m) => m.data),
      [{ v: 1 }, { v: 2 }],
    );
  });

  it('history pages with after and limit, and reports first and last', async () => {
    const channel = uniqueChannel('hist');
    await publishSeries(server.url, channel, 10);
    const page = await history(channel, '?after=3&limit=4');
    assert.equal(page.channel, channel);
    assert.deepEqual(offsets(page.messages), [4, 5, 6, 7]);
    assert.equal(page.first, 1);
    assert.equal(page.last, 10);
    assert.deepEqual(offsets((await history(channel)).messages), range(1, 10));
    assert.deepEqual(offsets((await history(channel, '?after=10')).messages), []);
    assert.deepEqual(offsets((await history(channel, '?limit=1000')).messages), range(1, 10));
    const empty = await history(uniqueChannel('never'));
    assert.deepEqual(empty.messages, []);
    assert.equal(empty.last, 0);
  });

  it('history reports the trimmed range when the count limit drops old messages', async () => {
    const small = await startTestServer({ historyCount: 3 });
    try {
      const channel = uniqueChannel('trim');
      await publishSeries(small.url, channel, 7);
      const res = await request<History>(small.url, `/v1/channels/${channel}/messages`);
      assert.deepEqual(offsets(res.body.messages), [5, 6, 7]);
      assert.equal(res.body.first, 5);
      assert.equal(res.body.last, 7);
    } finally {
      await small.close();
    }
  });

  it('history drops messages older than the age limit', async () => {
    const aged = await startTestServer({ historyAgeMs: 150 });
    try {
      const channel = uniqueChannel('age');
      await publishSeries(aged.url, channel, 2);
      await waitFor(async () => (await channelInfo(aged.url, channel)).first === 3, 3000, 'aged history');
      const res = await request<History>(aged.url, `/v1/channels/${channel}/messages`);
      assert.deepEqual(res.body.messages, []);
      assert.equal(res.body.last, 2);
      assert.equal((await publish(aged.url, channel, 'x')).offset, 3, 'offsets are never reused');
    } finally {
      await aged.close();
    }
  });

  it('channel info counts live subscriptions on SSE, WebSocket and long poll', async () => {
    const channel = uniqueChannel('info');
    await publishSeries(server.url, channel, 2);
    const info = await channelInfo(server.url, channel);
    assert.deepEqual(Object.keys(info).sort(), ['channel', 'epoch', 'first', 'last', 'subscribers']);
    assert.deepEqual([info.channel, info.first, info.last, info.subscribers], [channel, 1, 2, 0]);

    const sse = new SseSubscriber(server.url);
    const ws = new WsSubscriber(server.url);
    const longPoll = new PollSubscriber(server.url, 'long-poll', 10);
    try {
      await sse.subscribe({ channels: [channel] });
      await waitForSubscribers(server.url, channel, 1);
      await ws.subscribe({ channels: [channel] });
      await waitForSubscribers(server.url, channel, 2);
      await longPoll.subscribe({ channels: [channel] });
      await waitForSubscribers(server.url, channel, 3);
      await ws.close();
      await waitForSubscribers(server.url, channel, 2);
      await sse.close();
      await waitForSubscribers(server.url, channel, 1);
      await longPoll.close();
      await waitForSubscribers(server.url, channel, 0);
    } finally {
      await Promise.all([sse.close(), ws.close(), longPoll.close()]);
    }
  });

  it('GET /healthz answers 200 {"status":"ok"}', async () => {
    const res = await request(server.url, '/healthz');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { status: 'ok' });
  });

  it('GET /metrics is Prometheus text with publish and per-transport delivery counters', async () => {
    const channel = uniqueChannel('metrics');
    const sse = new SseSubscriber(server.url);
    const ws = new WsSubscriber(server.url);
    const before = await request<string>(server.url, '/metrics');
    const counter = (text: string, name: string) => {
      const line = text.split('\n').find((l) => l.startsWith(name + ' '));
      return line === undefined ? NaN : Number(line.split(' ')[1]);
    };
    try {
      await sse.subscribe({ channels: [channel] });
      await ws.subscribe({ channels: [channel] });
      await publishSeries(server.url, channel, 3);
      await waitFor(() => sse.messages.length === 3 && ws.messages.length === 3, 5000, 'deliveries');
    } finally {
      await sse.close();
      await ws.close();
    }
    const res = await request<string>(server.url, '/metrics');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const text = res.body;
    for (const name of ['tidings_deliveries_total', 'tidings_messages_published_total', 'tidings_connections', 'tidings_long_polls_parked', 'tidings_slow_consumers_dropped_total']) {
      assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), `${name} is exported`);
    }
    const published = counter(text, 'tidings_messages_published_total') - counter(before.body, 'tidings_messages_published_total');
    assert.ok(published >= 3, `published counter grew by ${published}`);
    for (const t of ['sse', 'ws']) {
      const name = `tidings_deliveries_total{transport="${t}"}`;
      const grew = counter(text, name) - (counter(before.body, name) || 0);
      assert.ok(grew >= 3, `${name} grew by ${grew}`);
    }
  });

  it('tidings_messages_published_total counts each appended message once, on every publishing path, and no idempotent retry', async () => {
    // A server of its own: the counter then moves only by what this test publishes.
    const own = await startTestServer();
    const ws = new WsSubscriber(own.url);
    const channel = uniqueChannel('counted');
    const published = async () => {
      const text = (await request<string>(own.url, '/metrics')).body;
      return Number(/^tidings_messages_published_total (\d+)$/m.exec(text)?.[1]);
    };
    const grewBy = async (step: () => Promise<unknown>) => {
      const before = await published();
      await step();
      return (await published()) - before;
    };
    try {
      assert.equal(await published(), 0);
      assert.equal(await grewBy(() => publish(own.url, channel, 'single')), 1, 'HTTP publish');
      assert.equal(await grewBy(() => publish(own.url, channel, 'keyed', { idempotencyKey: 'http-1' })), 1, 'HTTP publish with a key');
      assert.equal(await grewBy(() => publish(own.url, channel, 'keyed', { idempotencyKey: 'http-1' })), 0, 'HTTP retry with the same key');
      const batch = await grewBy(async () => {
        const res = await request(own.url, '/v1/publish', json({ messages: [{ channel, data: 1 }, { channel, data: 2 }, { channel: uniqueChannel('other'), data: 3 }] }));
        assert.equal(res.status, 201);
      });
      assert.equal(batch, 3, 'HTTP batch');
      const refused = await grewBy(async () => {
        const res = await request(own.url, '/v1/publish', json({ messages: [{ channel, data: 1 }, { channel: '', data: 2 }] }));
        assert.equal(res.status, 400);
      });
      assert.equal(refused, 0, 'a refused batch publishes nothing');
      await ws.connect();
      const wsPublish = (idempotencyKey?: string) => async () => {
        const ack = await ws.call({ type: 'publish', channel, data: 'ws', idempotencyKey });
        assert.equal(ack.type, 'ack');
      };
      assert.equal(await grewBy(wsPublish()), 1, 'WebSocket publish');
      assert.equal(await grewBy(wsPublish('ws-1')), 1, 'WebSocket publish with a key');
      assert.equal(await grewBy(wsPublish('ws-1')), 0, 'WebSocket retry with the same key');
      assert.equal(await published(), 7);
      assert.equal((await channelInfo(own.url, channel)).last, 6, 'what was counted is what the channel holds');
    } finally {
      await ws.close();
      await own.close();
    }
  });

  it('CORS: an allowed origin gets Access-Control headers and preflights are answered', async () => {
    const cors = await startTestServer({ corsOrigins: ['https://app.example'] });
    try {
      const allowed = await request(cors.url, '/healthz', { headers: { origin: 'https://app.example' } });
      assert.equal(allowed.headers.get('access-control-allow-origin'), 'https://app.example');
      const other = await request(cors.url, '/healthz', { headers: { origin: 'https://evil.example' } });
      assert.equal(other.headers.get('access-control-allow-origin'), null);
      const preflight = await request(cors.url, '/v1/channels/x/messages', {
        method: 'OPTIONS',
        headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' },
      });
      assert.equal(preflight.status, 204);
      assert.match(preflight.headers.get('access-control-allow-methods') ?? '', /POST/);
      assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /Idempotency-Key/i);
    } finally {
      await cors.close();
    }
  });
});
