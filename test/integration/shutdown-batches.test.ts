import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import WebSocket from 'ws';
import { CLOSE_REASONS } from '../../src/core/close-reasons.js';
import { startTestServer, within } from '../helpers/server.js';

describe('shutdown with more connections than one close batch', () => {
  it('every one of 1,200 WebSockets gets the shutdown close, closed in batches across event-loop turns', async () => {
    const server = await startTestServer();
    const url = `${server.url.replace(/^http/, 'ws')}/v1/ws?channel=batch`;
    const codes: number[] = [];
    const open = () =>
      within(
        new Promise<WebSocket>((resolve, reject) => {
          const ws = new WebSocket(url);
          ws.once('open', () => resolve(ws));
          ws.once('error', reject);
          ws.once('close', (code) => codes.push(code));
        }),
        20_000,
        'a WebSocket to open',
      );
    // In waves of 200: 1,200 handshakes at once overflow the listen backlog (511), and the test
    // then leans on the kernel's SYN retries (a CI run saw a handshake reset) instead of on the
    // close batches it is about.
    const sockets: WebSocket[] = [];
    while (sockets.length < 1200) sockets.push(...(await Promise.all(Array.from({ length: 200 }, open))));
    assert.equal(sockets.length, 1200);
    await within(server.close(), 20_000, 'the server to close');
    await within(
      new Promise<void>((resolve) => {
        const check = () => (codes.length === 1200 ? resolve() : setTimeout(check, 10));
        check();
      }),
      10_000,
      'every client to see its close',
    );
    assert.ok(codes.every((c) => c === CLOSE_REASONS.shutdown.ws), `every close is ${CLOSE_REASONS.shutdown.ws}: ${[...new Set(codes)].join(', ')}`);
  });
});
