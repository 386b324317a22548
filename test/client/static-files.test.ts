import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { PUBLIC_DIR } from '../../src/http/static-files.js';
import type { TidingsServer } from '../../src/server.js';
import { startTestServer } from '../helpers/server.js';

describe('GET /client.js: the browser SDK bundle', () => {
  let server: TidingsServer;
  before(async () => (server = await startTestServer()));
  after(() => server.close());

  it('is served as JavaScript with a strong ETag and Cache-Control, 304 on If-None-Match', async () => {
    const res = await fetch(`${server.url}/client.js`, { headers: { 'accept-encoding': 'identity' } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/javascript/);
    assert.match(res.headers.get('cache-control') ?? '', /max-age=\d+/);
    const etag = res.headers.get('etag');
    assert.match(etag ?? '', /^"[\w-]+"$/);
    const body = await res.text();
    assert.equal(body, await readFile(`${PUBLIC_DIR}client.js`, 'utf8'));
    assert.match(body, /export\s*\{[^}]*\bTidings\b/, 'an ES module exporting Tidings');

    const again = await fetch(`${server.url}/client.js`, { headers: { 'if-none-match': etag! } });
    assert.equal(again.status, 304);
    assert.equal(await again.text(), '');
    const changed = await fetch(`${server.url}/client.js`, { headers: { 'if-none-match': '"other"' } });
    assert.equal(changed.status, 200);
    await changed.arrayBuffer();
  });

  it('is gzipped for clients that take it, and HEAD has no body', async () => {
    const { request } = await import('node:http');
    const raw = await new Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
      const req = request(`${server.url}/client.js`, { headers: { 'accept-encoding': 'gzip' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(raw.status, 200);
    assert.equal(raw.headers['content-encoding'], 'gzip');
    assert.equal(gunzipSync(raw.body).toString(), await readFile(`${PUBLIC_DIR}client.js`, 'utf8'));
    const head = await fetch(`${server.url}/client.js`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
  });

  it('POST is 405 problem+json', async () => {
    const res = await fetch(`${server.url}/client.js`, { method: 'POST' });
    assert.equal(res.status, 405);
    assert.equal((await res.json()).code, 'method_not_allowed');
  });

  it('is within the 8 KB min+gzip budget (issue #6)', async () => {
    const { gzipSync } = await import('node:zlib');
    const gzip = gzipSync(await readFile(`${PUBLIC_DIR}client.js`), { level: 9 }).length;
    assert.ok(gzip <= 8 * 1024, `client.js is ${gzip} bytes min+gzip`);
  });

  it('has no Node-only import: the browser build stands alone', async () => {
    const body = await readFile(`${PUBLIC_DIR}client.js`, 'utf8');
    assert.doesNotMatch(body, /\bfrom\s*["'](node:|ws["'])|require\(/);
  });
});

describe('the package export tidings/client', () => {
  it('resolves, under Node, to the client with a ws-backed WebSocket', async () => {
    const mod = (await import('tidings/client' as string)) as typeof import('../../src/client/node.js');
    const server = await startTestServer();
    const client = new mod.Tidings(server.url, { transports: ['ws'] });
    try {
      client.subscribe('export-check', () => {});
      await new Promise<void>((resolve) => client.on('state', (s) => s.state === 'connected' && resolve()));
      assert.equal(client.transport, 'ws');
    } finally {
      client.close();
      await server.close();
    }
  });
});
