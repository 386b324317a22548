import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { seededRandom as prng } from '../../src/core/seeded-random.js';
import type { TidingsServer } from '../../src/server.js';
import { offsets, publishSeries, range, request, startTestServer, uniqueChannel, waitFor, within, type Envelope } from '../helpers/server.js';
import { WsSubscriber } from '../helpers/subscribers.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261123);

describe(`bad input never crashes the server or corrupts a channel (seed ${SEED})`, () => {
  let server: TidingsServer;
  const rand = prng(SEED);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const junk = (max = 40): string => {
    const alphabet = 'aZ09_-.:@/ %,;!"\'\\{}[]\n\r\t\u0000é✓?&=#+';
    let s = '';
    const n = Math.floor(rand() * max);
    for (let i = 0; i < n; i++) s += alphabet[Math.floor(rand() * alphabet.length)];
    return s;
  };
  const junkJson = (): unknown =>
    pick<() => unknown>([
      () => null,
      () => rand(),
      () => junk(),
      () => [junk(), rand()],
      () => ({ [junk(5)]: junk() }),
      () => ({ channel: pick([junk(10), 'ok', 42, null]), data: junk() }),
      () => ({ messages: pick([[], [{}], [{ channel: junk(10), data: 1 }], 'x', null]) }),
    ])();

  const guarded = uniqueChannel('guarded');
  before(async () => {
    server = await startTestServer({ maxMessageBytes: 4096, maxFrameBytes: 8192 });
    await publishSeries(server.url, guarded, 5);
  });
  after(() => server.close());

  it('200 random HTTP requests: every answer is a well-formed 2xx/4xx, never a 5xx', async () => {
    const paths = [
      () => `/v1/channels/${junk(20)}/messages`,
      () => `/v1/channels/${encodeURIComponent(junk(20))}/messages?after=${junk(5)}&limit=${junk(5)}`,
      () => `/v1/channels/${junk(10)}`,
      () => `//${junk(10)}`,
      () => `/v1/poll?channel=${encodeURIComponent(junk(10))}&cursor=${encodeURIComponent(junk(30))}&last=${junk(3)}`,
      () => `/v1/poll?channel=${guarded}&cursor=1${Buffer.from(junk(30), 'latin1').toString('base64url')}`,
      () => `/v1/events?channel=${encodeURIComponent(junk(10))}&cursor=${junk(10)}`,
      () => `/v1/publish?${junk(10)}`,
      () => `/${junk(20)}`,
      () => `/v1/ws?${junk(10)}`,
    ];
    const statuses = new Map<number, number>();
    for (let i = 0; i < 200; i++) {
      let path = pick(paths)();
      if (!/^[\x21-\x7e]*$/.test(path)) path = encodeURI(path);
      const method = pick(['GET', 'GET', 'POST', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']);
      const headers: Record<string, string> = {};
      if (rand() < 0.6) headers['content-type'] = pick(['application/json', 'text/plain', 'application/xml', 'multipart/form-data', junk(10).replace(/[^\x21-\x7e]/g, 'x')]);
      if (rand() < 0.2) headers['idempotency-key'] = junk(30).replace(/[^\x20-\x7e]/g, '');
      if (rand() < 0.2) headers['last-event-id'] = junk(30).replace(/[^\x20-\x7e]/g, '');
      if (rand() < 0.1) headers.authorization = `Bearer ${junk(10).replace(/[^\x21-\x7e]/g, '')}`;
      const body = method === 'GET' || method === 'OPTIONS' ? undefined : pick([JSON.stringify(junkJson()), junk(200), '', 'x'.repeat(5000)]);
      const abort = new AbortController();
      // SSE streams and long polls may legitimately stay open: give them a moment, then go.
      // Anything else must answer; 10 s (not a speed check: a loaded 2-core box can take
      // hundreds of ms) tells an answer that never comes.
      const mayStayOpen = path.startsWith('/v1/events') || path.startsWith('/v1/poll');
      const timer = setTimeout(() => abort.abort(), mayStayOpen ? 300 : 10_000);
      try {
        const res = await fetch(server.url + path, { method, headers, body, signal: abort.signal });
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        assert.ok(res.status < 500, `${method} ${path} → ${res.status}`);
        if (res.status >= 400) {
          const type = res.headers.get('content-type') ?? '';
          assert.match(type, /^application\/problem\+json/, `${method} ${path}: ${res.status} is problem+json`);
          const problem = (await res.json()) as { code: string; status: number };
          assert.equal(problem.status, res.status);
        } else {
          await res.body?.cancel();
        }
      } catch (err) {
        if ((err as Error).name !== 'AbortError') throw err;
        assert.ok(mayStayOpen, `${method} ${path} hung`);
      } finally {
        clearTimeout(timer);
      }
    }
    assert.ok((statuses.get(400) ?? 0) > 0, 'some were refused');
  });

  it('targets starting with // are 404, on plain HTTP and on an upgrade (regression: the upgrade crashed the process)', async () => {
    const port = Number(new URL(server.url).port);
    const upgrade = (target: string) =>
      `GET ${target} HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`;
    for (const raw of ['GET // HTTP/1.1\r\nHost: t\r\n\r\n', 'OPTIONS // HTTP/1.1\r\nHost: t\r\n\r\n', 'GET http://[bad HTTP/1.1\r\nHost: t\r\n\r\n', upgrade('//'), upgrade('http://[bad')]) {
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => {});
      let answer = '';
      socket.on('data', (d) => (answer += d));
      socket.write(raw);
      await waitFor(() => answer.includes('\r\n\r\n'), 3000, `an answer to ${JSON.stringify(raw.slice(0, 20))}`);
      socket.destroy();
      assert.match(answer, /^HTTP\/1\.1 404 /, JSON.stringify(raw.slice(0, 30)));
    }
    assert.equal((await request(server.url, '/healthz')).status, 200);
  });

  it('raw garbage on the TCP port gets a 400 or a closed socket, never a crash', async () => {
    const port = Number(new URL(server.url).port);
    for (let i = 0; i < 10; i++) {
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => {});
      let answer = '';
      socket.on('data', (d) => (answer += d));
      await new Promise((r) => socket.once('connect', r));
      const closed = new Promise((r) => socket.once('close', r));
      socket.write(pick([junk(200) + '\r\n\r\n', 'GET / HTTP/9.9\r\n\r\n', `GET /${'a'.repeat(20_000)} HTTP/1.1\r\n\r\n`, 'POST /v1/publish HTTP/1.1\r\nContent-Length: -5\r\n\r\n', '\u0000\u0001\u0002\r\n\r\n']));
      await within(closed, 5000, 'the server to close a garbage connection');
      assert.ok(answer === '' || /^HTTP\/1\.1 4\d\d/.test(answer), answer.slice(0, 60));
    }
  });

  it('200 random WebSocket frames: error frames or a policy close, never a crash', async () => {
    let ws = new WsSubscriber(server.url);
    await ws.connect();
    const closes: number[] = [];
    for (let i = 0; i < 200; i++) {
      if (ws.socket!.readyState !== WebSocket.OPEN) {
        closes.push(ws.closeCode ?? -1);
        ws = new WsSubscriber(server.url);
        await ws.connect();
      }
      const frame = pick<() => string | Buffer>([
        () => junk(80),
        () => JSON.stringify(junkJson()),
        () => {
          const type = pick(['subscribe', 'unsubscribe', 'publish', 'ping', junk(5)]);
          // Publishing to the guarded channel would be legitimate, not corruption: keep it read-only.
          const channel = pick([junk(10), type === 'publish' ? 'fz' : guarded, 'fz']);
          return JSON.stringify({ type, channel, cursor: pick([undefined, junk(20), 5]), last: pick([undefined, -1, 'x', 2000, 1]), data: junkJson(), id: pick([undefined, {}, 'i', 3]) });
        },
        () => Buffer.from(junk(20)),
        () => JSON.stringify({ type: 'ping', pad: 'x'.repeat(pick([10, 9000])) }),
      ])();
      ws.socket!.send(frame, { binary: Buffer.isBuffer(frame) });
      if (i % 20 === 19) await waitFor(() => ws.socket!.readyState !== WebSocket.CONNECTING, 10_000, 'socket settles');
    }
    await waitFor(() => ws.socket!.readyState === WebSocket.CLOSED || ws.frames.length > 0, 3000, 'answers');
    await ws.close();
    for (const code of closes) assert.ok([1008, 1009, 1005, 1006].includes(code), `close code ${code}`);
  });

  it('afterwards the server answers and the guarded channel is intact and still works', async () => {
    assert.equal((await request(server.url, '/healthz')).status, 200);
    const history = await request<{ messages: Envelope[]; first: number; last: number }>(server.url, `/v1/channels/${guarded}/messages`);
    assert.deepEqual(offsets(history.body.messages), range(1, 5));
    assert.deepEqual(
      history.body.messages.map((m) => m.data),
      range(1, 5).map((n) => ({ n })),
    );
    const sub = new WsSubscriber(server.url);
    try {
      await sub.subscribe({ channels: [guarded], last: 1 });
      await publishSeries(server.url, guarded, 1, 6);
      await waitFor(() => sub.messages.length === 2, 3000, 'delivery');
      assert.deepEqual(offsets(sub.messages), [5, 6]);
    } finally {
      await sub.close();
    }
  });
});
