import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import WebSocket from 'ws';
import type { TidingsServer } from '../../src/server.js';
import { startTestServer, uniqueChannel, within } from '../helpers/server.js';

const SECRET = 'test-secret-that-is-long-enough-for-hs256';
const API_KEY = 'publisher-key';

async function hsToken(claims: Record<string, unknown>, expiresIn = '1h'): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setSubject('user-1').setIssuedAt().setExpirationTime(expiresIn).sign(new TextEncoder().encode(SECRET));
}

async function problemCode(res: Response): Promise<string> {
  assert.match(res.headers.get('content-type') ?? '', /application\/problem\+json/);
  return ((await res.json()) as { code: string }).code;
}

/** The first frame of each type the socket receives, or the close code. */
function openWs(url: string, headers: Record<string, string> = {}): Promise<{ ws: WebSocket; frames: Record<string, unknown>[] }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    const frames: Record<string, unknown>[] = [];
    ws.on('message', (d) => frames.push(JSON.parse(d.toString()) as Record<string, unknown>));
    ws.on('open', () => resolve({ ws, frames }));
    ws.on('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    ws.on('error', reject);
  });
}

async function nextFrame(frames: Record<string, unknown>[], type: string): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 3000;
  for (;;) {
    const f = frames.find((x) => x.type === type);
    if (f !== undefined) return f;
    if (Date.now() > deadline) throw new Error(`no ${type} frame; got ${JSON.stringify(frames)}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('JWT grants (--jwt-secret) with an API key', () => {
  let server: TidingsServer;
  before(async () => {
    server = await startTestServer({ jwtSecret: SECRET, apiKey: API_KEY });
  });
  after(() => server.close());

  it('refuses subscribing without credentials (401) and outside the grants (403)', async () => {
    const room = uniqueChannel('chat:');
    assert.equal((await fetch(`${server.url}/v1/poll?channel=${room}`)).status, 401);
    const token = await hsToken({ subscribe: ['chat:*'] });
    const ok = await fetch(`${server.url}/v1/poll?channel=${room}`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(ok.status, 200);
    const other = await fetch(`${server.url}/v1/poll?channel=news&channel=${room}`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(other.status, 403);
    assert.equal(await problemCode(other), 'forbidden');
    const history = await fetch(`${server.url}/v1/channels/news/messages`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(history.status, 403);
  });

  it('lets a token publish only to the channels in its publish claim', async () => {
    const room = uniqueChannel('chat:');
    const token = await hsToken({ publish: [room], subscribe: [room] });
    const post = (channel: string, t = token) =>
      fetch(`${server.url}/v1/channels/${channel}/messages`, { method: 'POST', headers: { authorization: `Bearer ${t}`, 'content-type': 'application/json' }, body: '1' });
    assert.equal((await post(room)).status, 201);
    const denied = await post(`${room}x`);
    assert.equal(denied.status, 403);
    assert.equal(await problemCode(denied), 'forbidden');
    const batch = await fetch(`${server.url}/v1/publish`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ channel: room, data: 2 }, { channel: 'elsewhere', data: 3 }] }),
    });
    assert.equal(batch.status, 403);
    const info = (await (await fetch(`${server.url}/v1/channels/${room}`, { headers: { authorization: `Bearer ${API_KEY}` } })).json()) as { last: number };
    assert.equal(info.last, 1, 'the refused batch published nothing');
  });

  it('refuses expired and forged tokens with 401, and the API key may do everything', async () => {
    const room = uniqueChannel('chat:');
    const expired = await hsToken({ subscribe: ['*'] }, '-10s');
    const res = await fetch(`${server.url}/v1/poll?channel=${room}`, { headers: { authorization: `Bearer ${expired}` } });
    assert.equal(res.status, 401);
    assert.equal(await problemCode(res), 'token_expired', 'an expired token has its own code: the remedy is a fresh one');
    const forged = (await hsToken({ subscribe: ['*'] })).slice(0, -3) + 'abc';
    const refused = await fetch(`${server.url}/v1/poll?channel=${room}`, { headers: { authorization: `Bearer ${forged}` } });
    assert.equal(refused.status, 401);
    assert.equal(await problemCode(refused), 'unauthorized');
    assert.equal((await fetch(`${server.url}/v1/poll?channel=${room}`, { headers: { authorization: `Bearer ${API_KEY}` } })).status, 200);
  });

  it('takes token= in the URL for SSE, where a browser cannot set headers', async () => {
    const room = uniqueChannel('chat:');
    const token = await hsToken({ subscribe: ['chat:*'] });
    const controller = new AbortController();
    const res = await fetch(`${server.url}/v1/events?channel=${room}&token=${token}`, { signal: controller.signal });
    assert.equal(res.status, 200);
    controller.abort();
    assert.equal((await fetch(`${server.url}/v1/events?channel=${room}`)).status, 401);
  });

  it('checks WebSocket credentials at upgrade and grants per frame', async () => {
    const room = uniqueChannel('chat:');
    const wsUrl = server.url.replace('http', 'ws') + '/v1/ws';
    await assert.rejects(openWs(wsUrl), /upgrade refused: 401/);
    const token = await hsToken({ subscribe: [room], publish: [room] });
    const { ws, frames } = await openWs(`${wsUrl}?token=${token}`);
    try {
      ws.send(JSON.stringify({ type: 'subscribe', channel: 'secret', id: 1 }));
      const error = await nextFrame(frames, 'error');
      assert.equal(error.code, 'forbidden');
      assert.equal(error.id, 1);
      ws.send(JSON.stringify({ type: 'subscribe', channel: room, id: 2 }));
      await nextFrame(frames, 'subscribed');
      ws.send(JSON.stringify({ type: 'publish', channel: room, data: 'hi', id: 3 }));
      const ack = await nextFrame(frames, 'ack');
      assert.equal(ack.offset, 1);
      const message = await nextFrame(frames, 'message');
      assert.equal(message.data, 'hi');
    } finally {
      ws.close();
    }
  });
});

describe('JWT grants from a JWKS URL', () => {
  let jwks: Server;
  let server: TidingsServer;
  let sign: (claims: Record<string, unknown>) => Promise<string>;

  before(async () => {
    const { privateKey, publicKey } = await generateKeyPair('RS256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    jwks = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] })));
    await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
    const port = (jwks.address() as AddressInfo).port;
    server = await startTestServer({ jwksUrl: `http://127.0.0.1:${port}/.well-known/jwks.json` });
    sign = (claims) => new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setExpirationTime('1h').sign(privateKey);
  });
  after(async () => {
    await server.close();
    await new Promise((r) => jwks.close(r));
  });

  it('verifies RS256 tokens against the fetched keys', async () => {
    const room = uniqueChannel('feed:');
    const token = await sign({ subscribe: ['feed:*'], publish: ['feed:*'] });
    const published = await within(
      fetch(`${server.url}/v1/channels/${room}/messages`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: '"x"' }),
      3000,
      'publish',
    );
    assert.equal(published.status, 201);
    const hs = await hsToken({ subscribe: ['*'] });
    assert.equal((await fetch(`${server.url}/v1/poll?channel=${room}`, { headers: { authorization: `Bearer ${hs}` } })).status, 401, 'an HS256 token is not accepted where keys are RS256');
  });
});
