import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { TidingsServer } from '../../src/server.js';
import { assertProblem, channelInfo, publish, request, startTestServer, uniqueChannel, waitFor, within } from '../helpers/server.js';
import { WsSubscriber } from '../helpers/subscribers.js';

const post = (body: string, type = 'application/json', headers: Record<string, string> = {}): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': type, ...headers },
  body,
});

/** Upgrades and returns the refusal status and problem code, or 101 when it was accepted. */
async function upgradeStatus(baseUrl: string, query: string): Promise<{ status: number; body: string }> {
  const ws = new WsSubscriber(baseUrl);
  try {
    await ws.connect(query);
    await ws.close();
    return { status: 101, body: '' };
  } catch (err) {
    const m = /refused with (\d+)/.exec((err as Error).message);
    if (m === null) throw err;
    return { status: Number(m[1]), body: '' };
  }
}

describe('HTTP errors are problem+json with a stable code (docs/protocol.md § Error codes)', () => {
  let server: TidingsServer;
  before(async () => (server = await startTestServer({ maxMessageBytes: 1024, maxSubscriptions: 2 })));
  after(() => server.close());

  it('invalid_channel: empty, bad characters, too long, missing; 200 characters is fine', async () => {
    const bad = ['', 'a b', 'caf%C3%A9', 'a%2Cb', 'x'.repeat(201), 'semi%3Bcolon', 'a%0Ab'];
    for (const name of bad) {
      assertProblem(await request(server.url, `/v1/channels/${name}/messages`, post('1')), 400, 'invalid_channel', `POST ${name.slice(0, 20)}`);
      assertProblem(await request(server.url, `/v1/channels/${name}/messages`), 400, 'invalid_channel', `history ${name.slice(0, 20)}`);
      assertProblem(await request(server.url, `/v1/poll?channel=${name}`), 400, 'invalid_channel', `poll ${name.slice(0, 20)}`);
      assertProblem(await request(server.url, `/v1/events?channel=${name}`), 400, 'invalid_channel', `SSE ${name.slice(0, 20)}`);
    }
    assertProblem(await request(server.url, '/v1/channels/%E0%A4%A/messages'), 400, 'invalid_channel', 'broken percent-encoding');
    assertProblem(await request(server.url, '/v1/poll'), 400, 'invalid_channel', 'poll without channel');
    assertProblem(await request(server.url, '/v1/events'), 400, 'invalid_channel', 'SSE without channel');
    const long = 'x'.repeat(200);
    assert.equal((await publish(server.url, long, 1)).channel, long);
    const every = 'AZaz09_-.:@/';
    assert.equal((await publish(server.url, every, 1)).channel, every);
    assert.equal((await upgradeStatus(server.url, '?channel=a%20b')).status, 400, 'WebSocket upgrade with a bad channel');
  });

  it('invalid_json: a broken body, an empty body, a batch that is not {"messages":[…]}', async () => {
    const channel = uniqueChannel('json');
    assertProblem(await request(server.url, `/v1/channels/${channel}/messages`, post('{"a":')), 400, 'invalid_json');
    assertProblem(await request(server.url, `/v1/channels/${channel}/messages`, post('')), 400, 'invalid_json');
    assertProblem(await request(server.url, `/v1/channels/${channel}/messages`, post('nope', 'application/json; charset=utf-8')), 400, 'invalid_json');
    assertProblem(await request(server.url, '/v1/publish', post('[')), 400, 'invalid_json');
    assertProblem(await request(server.url, '/v1/publish', post('[1,2]')), 400, 'invalid_json');
    assertProblem(await request(server.url, '/v1/publish', post('null')), 400, 'invalid_json');
    assert.equal((await channelInfo(server.url, channel)).last, 0);
  });

  it('invalid_cursor: garbage, a wrong version, a forged entry; on poll, SSE (cursor= and Last-Event-ID) and WebSocket', async () => {
    const bad = ['x', '2abc', '1!!!', '1' + Buffer.from('nodots').toString('base64url'), '1' + Buffer.from('ep.notanumber.ch').toString('base64url'), '1'];
    for (const cursor of bad) {
      assertProblem(await request(server.url, `/v1/poll?channel=ch&cursor=${encodeURIComponent(cursor)}`), 400, 'invalid_cursor', `poll ${cursor}`);
      assertProblem(await request(server.url, `/v1/events?channel=ch&cursor=${encodeURIComponent(cursor)}`), 400, 'invalid_cursor', `SSE ${cursor}`);
      assertProblem(
        await request(server.url, '/v1/events?channel=ch', { headers: { 'last-event-id': cursor } }),
        400,
        'invalid_cursor',
        `Last-Event-ID ${cursor}`,
      );
    }
    const ws = new WsSubscriber(server.url);
    try {
      await ws.connect();
      const answer = await ws.call({ type: 'subscribe', channel: 'ch', cursor: 'garbage' });
      assert.equal(answer.type, 'error');
      assert.equal(answer.code, 'invalid_cursor');
      const other = await request<{ cursor: string }>(server.url, '/v1/poll?channel=other');
      const missing = await ws.call({ type: 'subscribe', channel: 'ch', cursor: other.body.cursor });
      assert.equal(missing.code, 'invalid_cursor', 'a cursor without this channel');
    } finally {
      await ws.close();
    }
  });

  it('payload_too_large: 413 past --max-message-size, on a single publish and in a batch; the limit itself is fine', async () => {
    const channel = uniqueChannel('big');
    assertProblem(await request(server.url, `/v1/channels/${channel}/messages`, post(`"${'x'.repeat(2000)}"`)), 413, 'payload_too_large');
    assertProblem(await request(server.url, `/v1/channels/${channel}/messages`, post('y'.repeat(1025), 'text/plain')), 413, 'payload_too_large');
    const batch = JSON.stringify({ messages: [{ channel, data: 'x'.repeat(2000) }] });
    assertProblem(await request(server.url, '/v1/publish', post(batch)), 413, 'payload_too_large');
    const exactly = await request(server.url, `/v1/channels/${channel}/messages`, post('z'.repeat(1024), 'text/plain'));
    assert.equal(exactly.status, 201);
    assert.equal((await channelInfo(server.url, channel)).last, 1);
  });

  it('not_found and method_not_allowed (405 with Allow)', async () => {
    assertProblem(await request(server.url, '/nope'), 404, 'not_found');
    assertProblem(await request(server.url, '/v1/channels'), 404, 'not_found');
    assertProblem(await request(server.url, '/v2/poll?channel=a'), 404, 'not_found');
    const cases: [string, string, RegExp][] = [
      ['DELETE', '/v1/channels/a/messages', /^GET, POST$/],
      ['PUT', '/v1/channels/a', /^GET$/],
      ['POST', '/v1/poll?channel=a', /^GET$/],
      ['POST', '/v1/events?channel=a', /^GET$/],
      ['GET', '/v1/publish', /^POST$/],
      ['POST', '/healthz', /^GET$/],
      ['DELETE', '/metrics', /^GET$/],
    ];
    for (const [method, path, allow] of cases) {
      const res = await request(server.url, path, { method });
      assertProblem(res, 405, 'method_not_allowed', `${method} ${path}`);
      assert.match(res.headers.get('allow') ?? '', allow, `Allow on ${method} ${path}`);
    }
  });

  it('too_many_subscriptions past --max-subscriptions on poll, SSE and WebSocket', async () => {
    const three = '?channel=a&channel=b&channel=c';
    assertProblem(await request(server.url, `/v1/poll${three}`), 400, 'too_many_subscriptions');
    assertProblem(await request(server.url, `/v1/events${three}`), 400, 'too_many_subscriptions');
    assert.equal((await request(server.url, '/v1/poll?channel=a&channel=b')).status, 200, 'two is within the limit');
    assert.equal((await upgradeStatus(server.url, three)).status, 400);
    const ws = new WsSubscriber(server.url);
    try {
      await ws.connect();
      assert.equal((await ws.call({ type: 'subscribe', channel: 'a' })).type, 'subscribed');
      assert.equal((await ws.call({ type: 'subscribe', channel: 'b' })).type, 'subscribed');
      const third = await ws.call({ type: 'subscribe', channel: 'c' });
      assert.equal(third.type, 'error');
      assert.equal(third.code, 'too_many_subscriptions');
    } finally {
      await ws.close();
    }
  });

  it('invalid_parameter: bad limit, after, wait, last, event and Idempotency-Key', async () => {
    const ch = uniqueChannel('param');
    const gets = [
      `/v1/channels/${ch}/messages?limit=abc`,
      `/v1/channels/${ch}/messages?limit=1001`,
      `/v1/channels/${ch}/messages?limit=-1`,
      `/v1/channels/${ch}/messages?after=-1`,
      `/v1/channels/${ch}/messages?after=1.5`,
      `/v1/poll?channel=${ch}&wait=abc`,
      `/v1/poll?channel=${ch}&wait=61`,
      `/v1/poll?channel=${ch}&wait=-1`,
      `/v1/poll?channel=${ch}&wait=0.5`,
      `/v1/poll?channel=${ch}&last=1001`,
      `/v1/poll?channel=${ch}&last=-1`,
      `/v1/poll?channel=${ch}&last=x`,
      `/v1/events?channel=${ch}&last=1001`,
    ];
    for (const path of gets) assertProblem(await request(server.url, path), 400, 'invalid_parameter', path);
    for (const event of ['gap', 'close', 'has space', 'x'.repeat(101)]) {
      assertProblem(
        await request(server.url, `/v1/channels/${ch}/messages?event=${encodeURIComponent(event)}`, post('1')),
        400,
        'invalid_parameter',
        `event=${event.slice(0, 20)}`,
      );
    }
    assertProblem(await request(server.url, `/v1/channels/${ch}/messages`, post('1', 'application/json', { 'idempotency-key': 'has space' })), 400, 'invalid_parameter');
    assertProblem(await request(server.url, `/v1/channels/${ch}/messages`, post('1', 'application/json', { 'idempotency-key': 'k'.repeat(201) })), 400, 'invalid_parameter');
    assert.equal((await channelInfo(server.url, ch)).last, 0, 'nothing was published');
    // The bounds themselves are accepted.
    assert.equal((await request(server.url, `/v1/channels/${ch}/messages?limit=1000&after=0`)).status, 200);
    assert.equal((await request(server.url, `/v1/poll?channel=${ch}&last=1000&wait=0`)).status, 200);
  });

  it('unsupported media types are refused, not guessed', async () => {
    const res = await request(server.url, `/v1/channels/${uniqueChannel('media')}/messages`, post('<a/>', 'application/xml'));
    assertProblem(res, 415, 'unsupported_media_type');
  });
});

describe('unauthorized: --api-key guards publishing', () => {
  const KEY = 'sekret-key';
  let server: TidingsServer;
  before(async () => (server = await startTestServer({ apiKey: KEY })));
  after(() => server.close());

  it('401 without the key or with a wrong one, on single and batch publish; the key publishes', async () => {
    const channel = uniqueChannel('auth');
    const body = (headers: Record<string, string> = {}) => post('{"v":1}', 'application/json', headers);
    const missing = await request(server.url, `/v1/channels/${channel}/messages`, body());
    assertProblem(missing, 401, 'unauthorized');
    assert.match(missing.headers.get('www-authenticate') ?? '', /^Bearer/);
    // RFC 6750 § 3.1: an invalid credential (here a wrong key) is 401, like a missing one.
    assertProblem(await request(server.url, `/v1/channels/${channel}/messages`, body({ authorization: 'Bearer wrong' })), 401, 'unauthorized');
    assertProblem(await request(server.url, `/v1/channels/${channel}/messages`, body({ authorization: `Basic ${KEY}` })), 401, 'unauthorized');
    const batch = JSON.stringify({ messages: [{ channel, data: 1 }] });
    assertProblem(await request(server.url, '/v1/publish', post(batch)), 401, 'unauthorized');
    assert.equal((await channelInfo(server.url, channel)).last, 0);

    const ok = await request(server.url, `/v1/channels/${channel}/messages`, body({ authorization: `Bearer ${KEY}` }));
    assert.equal(ok.status, 201);
    const okBatch = await request(server.url, '/v1/publish', post(batch, 'application/json', { authorization: `Bearer ${KEY}` }));
    assert.equal(okBatch.status, 201);
    assert.equal((await channelInfo(server.url, channel)).last, 2);
  });

  it('WebSocket publish needs the key too; the key on the upgrade allows it', async () => {
    const channel = uniqueChannel('wsauth');
    const anon = new WsSubscriber(server.url);
    const keyed = new WsSubscriber(server.url);
    try {
      await anon.connect();
      const refused = await anon.call({ type: 'publish', channel, data: 1 });
      assert.equal(refused.type, 'error');
      assert.equal(refused.code, 'unauthorized');
      await keyed.connect('', { authorization: `Bearer ${KEY}` });
      const ack = await keyed.call({ type: 'publish', channel, data: 2 });
      assert.equal(ack.type, 'ack');
      assert.equal(ack.offset, 1);
    } finally {
      await anon.close();
      await keyed.close();
    }
  });
});

describe('unavailable: 503 while draining', () => {
  it('requests that reach a draining server get 503 (healthz, poll, SSE); a request in flight finishes', async () => {
    const server = await startTestServer();
    const port = Number(new URL(server.url).port);
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (text += d));
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.on('error', () => {});
    const ended = new Promise((resolve) => socket.once('close', resolve));
    try {
      // A publish whose body is still on its way keeps this connection in flight across close().
      const received = new Promise((resolve) => server.http.once('request', resolve));
      socket.write('POST /v1/channels/drain/messages HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\n[1,');
      await within(received, 2000, 'the publish to reach the server');
      const closing = server.close();
      await waitFor(async () => (await request(server.url, '/healthz').catch(() => ({ status: 0 }))).status !== 200, 10_000, 'draining');
      socket.write(
        '2]' +
          'GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n' +
          'GET /v1/poll?channel=drain HTTP/1.1\r\nHost: t\r\n\r\n' +
          'GET /v1/events?channel=drain HTTP/1.1\r\nHost: t\r\nAccept: text/event-stream\r\n\r\n',
      );
      await within(closing, 5000, 'server close');
      await within(ended, 5000, 'socket close');
      const statuses = [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
      assert.deepEqual(statuses, [201, 503, 503, 503], text);
      assert.match(text, /\{"status":"draining"\}/);
      assert.equal([...text.matchAll(/"code":"unavailable"/g)].length, 2, 'poll and SSE answer unavailable');
      assert.match(text, /content-type: application\/problem\+json/i);
    } finally {
      socket.destroy();
      await server.close();
    }
  });
});

describe('rate_limited: --publish-rate-limit', () => {
  it('past the per-client rate, publishing is 429 with Retry-After and publishes nothing', async () => {
    const server = await startTestServer({ publishRateLimit: 3 });
    try {
      const channel = uniqueChannel('rate');
      const answers = [];
      for (let i = 0; i < 10; i++) answers.push(await request(server.url, `/v1/channels/${channel}/messages`, post(String(i))));
      const ok = answers.filter((a) => a.status === 201).length;
      const limited = answers.filter((a) => a.status === 429);
      assert.ok(ok >= 3 && ok < 10, `${ok} published`);
      assert.ok(limited.length > 0);
      for (const a of limited) {
        assertProblem(a, 429, 'rate_limited');
        assert.match(a.headers.get('retry-after') ?? '', /^\d+$/);
      }
      assert.equal((await channelInfo(server.url, channel)).last, ok, 'refused messages were not published');
    } finally {
      await server.close();
    }
  });
});
