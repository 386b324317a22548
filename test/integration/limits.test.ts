import assert from 'node:assert/strict';
import { get } from 'node:http';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { CLOSE_REASONS } from '../../src/core/close-reasons.js';
import type { TidingsServer } from '../../src/server.js';
import { RawSse } from '../helpers/sse-raw.js';
import { assertProblem, delay, publish, request, startTestServer, uniqueChannel, waitFor, within, type JsonAnswer } from '../helpers/server.js';

/** A raw TCP client: what it sent is exactly what the test wrote, and every byte back is kept. */
class RawClient {
  text = '';
  closed = false;
  error: string | undefined;
  readonly socket: Socket;
  private readonly opened: Promise<void>;

  constructor(url: string, localAddress?: string) {
    const { hostname, port } = new URL(url);
    this.socket = connect({ host: hostname, port: Number(port), localAddress });
    this.opened = new Promise((resolve, reject) => {
      this.socket.once('connect', resolve);
      this.socket.once('error', reject);
    });
    this.socket.on('data', (d) => (this.text += d.toString('latin1')));
    this.socket.on('error', (e: NodeJS.ErrnoException) => (this.error = e.code));
    this.socket.on('close', () => (this.closed = true));
  }

  async ready(): Promise<this> {
    await within(this.opened, 3000, 'TCP connect');
    return this;
  }

  write(text: string | Buffer): void {
    if (!this.socket.destroyed) this.socket.write(text);
  }

  /** Sends `GET path` on this socket and resolves with the answer's status line and JSON body. */
  async get(path: string): Promise<{ status: number; headers: string; body: Record<string, unknown> }> {
    const from = this.text.length;
    this.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
    await waitFor(() => answerAt(this.text.slice(from)) !== undefined, 3000, `answer to GET ${path}`);
    return answerAt(this.text.slice(from))!;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** The first complete answer (Content-Length framed) in `text`, or undefined while it is incomplete. */
function answerAt(text: string): { status: number; headers: string; body: Record<string, unknown> } | undefined {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const headers = text.slice(0, end);
  const length = Number(/content-length: (\d+)/i.exec(headers)?.[1] ?? 0);
  if (text.length < end + 4 + length) return undefined;
  const raw = text.slice(end + 4, end + 4 + length);
  return { status: Number(headers.split(' ')[1]), headers, body: raw === '' ? {} : (JSON.parse(raw) as Record<string, unknown>) };
}

/** A raw answer in the shape assertProblem checks. */
function asAnswer(a: { status: number; headers: string; body: unknown }): JsonAnswer<unknown> {
  const type = /content-type: ([^\r\n]+)/i.exec(a.headers)?.[1] ?? '';
  return { status: a.status, headers: new Headers({ 'content-type': type }), body: a.body };
}

/** Opens a WebSocket and resolves with the frames it got and how it was closed. */
function wsUntilClosed(url: string): Promise<{ frames: Record<string, unknown>[]; code: number; reason: string }> {
  return within(
    new Promise((resolve, reject) => {
      const frames: Record<string, unknown>[] = [];
      const ws = new WebSocket(url.replace(/^http/, 'ws') + '/v1/ws');
      ws.on('message', (d) => frames.push(JSON.parse(d.toString()) as Record<string, unknown>));
      ws.on('close', (code, reason) => resolve({ frames, code, reason: reason.toString() }));
      ws.on('unexpected-response', (_req, res) => reject(new Error(`upgrade refused with ${res.statusCode}`)));
      ws.on('error', () => {});
    }),
    3000,
    'WebSocket close',
  );
}

describe('connection limits', { concurrency: true }, () => {
  it('--max-connections: past it a request gets 503 server_full and a WebSocket close 1013; a freed slot is reused', async () => {
    const server = await startTestServer({ maxConnections: 2 });
    const clients: RawClient[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const c = await new RawClient(server.url).ready();
        clients.push(c);
        assert.equal((await c.get('/healthz')).status, 200);
      }
      const third = await new RawClient(server.url).ready();
      clients.push(third);
      const refused = await third.get('/healthz');
      assertProblem(asAnswer(refused), 503, 'server_full');
      assert.match(refused.headers, /retry-after: 5/i);
      assert.match(refused.headers, /connection: close/i);
      await waitFor(() => third.closed, 3000, 'the refused socket to be closed');

      const ws = await wsUntilClosed(server.url);
      assert.equal(ws.code, 1013);
      assert.equal(ws.code, CLOSE_REASONS.over_capacity.ws);
      assert.equal(ws.frames[0]?.code, 'server_full');

      clients[0]!.destroy();
      // The server frees the slot when it sees the close, which a busy machine may take a while to do.
      await waitFor(
        async () => {
          const later = await new RawClient(server.url).ready();
          clients.push(later);
          return (await later.get('/healthz')).status === 200;
        },
        5000,
        'the freed slot to take a new connection',
      );
    } finally {
      for (const c of clients) c.destroy();
      await server.close();
    }
  });

  it('--max-connections-per-ip: past it 429 too_many_connections from that address only', async () => {
    const server = await startTestServer({ maxConnectionsPerIp: 2 });
    const clients: RawClient[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const c = await new RawClient(server.url, '127.0.0.1').ready();
        clients.push(c);
        assert.equal((await c.get('/healthz')).status, 200);
      }
      const third = await new RawClient(server.url, '127.0.0.1').ready();
      clients.push(third);
      assertProblem(asAnswer(await third.get('/healthz')), 429, 'too_many_connections');
      // Another address on the loopback network is another client.
      const other = await new RawClient(server.url, '127.0.0.2').ready();
      clients.push(other);
      assert.equal((await other.get('/healthz')).status, 200);
      // Counted for the operator, by reason.
      const metrics = await new Promise<string>((resolve, reject) => {
        get(`${server.url}/metrics`, { localAddress: '127.0.0.3', agent: false }, (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve(text));
        }).on('error', reject);
      });
      assert.match(metrics, /tidings_connections_refused_total\{reason="too_many_connections"\} 1/);
    } finally {
      for (const c of clients) c.destroy();
      await server.close();
    }
  });
});

describe('timeouts: slow clients can’t hold sockets, long answers are not cut', { concurrency: true }, () => {
  let server: TidingsServer;
  before(async () => (server = await startTestServer({ headersTimeoutMs: 300, requestTimeoutMs: 600 })));
  after(() => server.close());

  it('--headers-timeout: headers dribbled a line at a time get 408 request_timeout and the socket closes', async () => {
    const slow = await new RawClient(server.url).ready();
    slow.write('GET /healthz HTTP/1.1\r\n');
    const dribble = setInterval(() => slow.write('X-Slow: 1\r\n'), 50);
    try {
      await waitFor(() => slow.closed, 3000, 'the slowloris socket to be closed');
      assertProblem(asAnswer(answerAt(slow.text)!), 408, 'request_timeout');
    } finally {
      clearInterval(dribble);
      slow.destroy();
    }
  });

  it('a socket that never sends a request is closed by --headers-timeout too', async () => {
    // Without the timeout it would stay open for good: nothing else closes a silent socket.
    const idle = await new RawClient(server.url).ready();
    await waitFor(() => idle.closed, 5000, 'the idle socket to be closed');
    assert.match(idle.text, /^HTTP\/1.1 408/);
  });

  it('--request-timeout: a body dribbled too slowly is cut', async () => {
    const slow = await new RawClient(server.url).ready();
    slow.write(`POST /v1/channels/${uniqueChannel('slow')}/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n`);
    const dribble = setInterval(() => slow.write(' '), 50);
    try {
      await waitFor(() => slow.closed, 3000, 'the slow body socket to be closed');
      assert.doesNotMatch(slow.text, /^HTTP\/1.1 201/, 'nothing published from a cut body');
    } finally {
      clearInterval(dribble);
      slow.destroy();
    }
  });

  it('headers larger than node accepts get 431 headers_too_large as problem+json', async () => {
    const big = await new RawClient(server.url).ready();
    big.write(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    await waitFor(() => answerAt(big.text) !== undefined, 3000, 'the 431 answer');
    assertProblem(asAnswer(answerAt(big.text)!), 431, 'headers_too_large');
    big.destroy();
  });

  it('an SSE stream and a long poll outlive both timeouts', async () => {
    const channel = uniqueChannel('long');
    const sse = await RawSse.open(`${server.url}/v1/events?channel=${channel}`);
    try {
      const poll = request<{ messages: unknown[] }>(server.url, `/v1/poll?channel=${channel}&wait=1`);
      await delay(1200);
      assert.equal(sse.ended, false, 'the SSE stream is still open after twice --request-timeout');
      const answered = await poll;
      assert.equal(answered.status, 200, 'the long poll answered at its own deadline, not cut');
      await publish(server.url, channel, 'late');
      await waitFor(() => sse.events().length === 1, 3000, 'a message on the SSE stream after the timeouts');
    } finally {
      sse.close();
    }
  });
});

describe('raw refusals are problem+json', () => {
  let server: TidingsServer;
  before(async () => (server = await startTestServer()));
  after(() => server.close());

  it('an upgrade on a wrong path gets 404 not_found, a non-websocket upgrade 400', async () => {
    const wrong = await new RawClient(server.url).ready();
    wrong.write('GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
    await waitFor(() => answerAt(wrong.text) !== undefined, 3000, 'the 404');
    assertProblem(asAnswer(answerAt(wrong.text)!), 404, 'not_found');
    const h2c = await new RawClient(server.url).ready();
    h2c.write('GET /v1/ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n');
    await waitFor(() => answerAt(h2c.text) !== undefined, 3000, 'the 400');
    assertProblem(asAnswer(answerAt(h2c.text)!), 400, 'invalid_parameter');
    wrong.destroy();
    h2c.destroy();
  });

  it('a WebSocket upgrade from an origin not allowed gets 403 forbidden (cross-site WebSocket hijacking)', async () => {
    const strict = await startTestServer({ corsOrigins: ['https://app.example'] });
    try {
      const upgrade = (origin: string) =>
        `GET /v1/ws HTTP/1.1\r\nHost: x\r\nOrigin: ${origin}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`;
      const evil = await new RawClient(strict.url).ready();
      evil.write(upgrade('https://evil.example'));
      await waitFor(() => answerAt(evil.text) !== undefined, 3000, 'the 403');
      assertProblem(asAnswer(answerAt(evil.text)!), 403, 'forbidden');
      const good = await new RawClient(strict.url).ready();
      good.write(upgrade('https://app.example'));
      await waitFor(() => good.text.includes('\r\n\r\n'), 3000, 'the 101');
      assert.match(good.text, /^HTTP\/1.1 101/);
      evil.destroy();
      good.destroy();
    } finally {
      await strict.close();
    }
  });

  it('a broken WebSocket handshake or a Host-less HTTP/1.1 request gets 400 invalid_request, not a bare 400', async () => {
    const upgrade = (headers: string) => `GET /v1/ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n${headers}\r\n`;
    const cases = [
      upgrade('Sec-WebSocket-Version: 13\r\n'), // no key
      upgrade('Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: short\r\n'),
      upgrade('Sec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n'),
      upgrade('Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: a b\r\n'),
      'GET /v1/ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      'GET /healthz HTTP/1.1\r\n\r\n',
    ];
    for (const raw of cases) {
      const client = await new RawClient(server.url).ready();
      client.write(raw);
      await waitFor(() => answerAt(client.text) !== undefined, 3000, `the answer to ${JSON.stringify(raw.slice(0, 60))}`);
      assertProblem(asAnswer(answerAt(client.text)!), 400, 'invalid_request');
      client.destroy();
    }
    const old = await new RawClient(server.url).ready();
    old.write('GET /healthz HTTP/1.0\r\n\r\n');
    await waitFor(() => answerAt(old.text) !== undefined, 3000, 'the HTTP/1.0 answer');
    assert.match(old.text, /^HTTP\/1.1 200/, 'HTTP/1.0 needs no Host');
    old.destroy();
  });

  it('a request node cannot parse gets 400 invalid_request', async () => {
    const junk = await new RawClient(server.url).ready();
    junk.write('NOT HTTP AT ALL\r\n\r\n');
    await waitFor(() => answerAt(junk.text) !== undefined, 3000, 'the 400');
    assertProblem(asAnswer(answerAt(junk.text)!), 400, 'invalid_request');
    junk.destroy();
  });
});

describe('lingering close after an early 413', { concurrency: true }, () => {
  it('a 2 MiB body to the publish endpoint sees the 413 answer, 50 times out of 50', async () => {
    const server = await startTestServer();
    try {
      const channel = uniqueChannel('big');
      const body = Buffer.alloc(2 * 1024 * 1024, 'a');
      const outcomes: string[] = [];
      for (let i = 0; i < 50; i++) {
        try {
          const res = await fetch(`${server.url}/v1/channels/${channel}/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
          const problem = (await res.json()) as { code: string };
          outcomes.push(`${res.status} ${problem.code}`);
        } catch (err) {
          outcomes.push(`failed: ${(err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message}`);
        }
      }
      assert.deepEqual(outcomes, Array<string>(50).fill('413 payload_too_large'));
    } finally {
      await server.close();
    }
  });

  it('the drain is bounded: past --lingering-bytes, or --lingering-time, the socket is closed', async () => {
    const server = await startTestServer({ lingeringBytes: 256 * 1024, lingeringTimeMs: 500 });
    const head = (length: number) => `POST /v1/channels/${uniqueChannel('huge')}/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;
    try {
      // A fast sender of 64 MiB: cut after about 256 KiB, long before the end.
      const flood = await new RawClient(server.url).ready();
      flood.write(head(64 * 1024 * 1024));
      let sent = 0;
      const chunk = Buffer.alloc(64 * 1024, 'a');
      while (!flood.closed && flood.error === undefined && sent < 64 * 1024 * 1024) {
        flood.write(chunk);
        sent += chunk.length;
        await new Promise((r) => setImmediate(r));
      }
      assert.ok(sent < 64 * 1024 * 1024, `cut before the whole body was sent (sent ${sent})`);
      assert.match(flood.text, /^HTTP\/1.1 413/);

      // A slow sender: cut by time, about 500 ms after the answer.
      const trickle = await new RawClient(server.url).ready();
      trickle.write(head(1024 * 1024));
      const dribble = setInterval(() => trickle.write('a'.repeat(100)), 20);
      try {
        await waitFor(() => trickle.text.startsWith('HTTP/1.1 413'), 3000, 'the 413');
        const answeredAt = Date.now();
        await waitFor(() => trickle.closed, 6000, 'the lingering socket to be closed');
        // Unbounded, this 1 MiB body at 5 KB/s would keep the socket for minutes.
        assert.ok(Date.now() - answeredAt < 4000, 'closed by --lingering-time');
      } finally {
        clearInterval(dribble);
        trickle.destroy();
      }
      flood.destroy();
    } finally {
      await server.close();
    }
  });
});
