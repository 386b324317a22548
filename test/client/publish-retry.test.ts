import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import type { WebSocketConstructor, WebSocketLike } from '../../src/client/types.js';
import type { TidingsServer } from '../../src/server.js';
import { Recorder } from '../helpers/sdk.js';
import { delay, request, startTestServer, uniqueChannel } from '../helpers/server.js';

async function history(url: string, channel: string): Promise<unknown[]> {
  return (await request<{ messages: { data: unknown }[] }>(url, `/v1/channels/${channel}/messages`)).body.messages.map((m) => m.data);
}

/** A publish whose answer is lost is retried with the same idempotency key: one message, not two. */
describe('SDK publish retries', () => {
  let server: TidingsServer;
  before(async () => (server = await startTestServer()));
  after(() => server.close());

  it('over HTTP: the answer lost after the server stored the message; the retry returns the same offset', async () => {
    const ch = uniqueChannel('lost-answer');
    let posts = 0;
    // The first POST reaches the server, but the client never sees the answer.
    const lossyFetch: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      if (init?.method === 'POST' && ++posts === 1) {
        await res.arrayBuffer();
        throw new TypeError('fetch failed (the answer was lost)');
      }
      return res;
    };
    const r = new Recorder(server.url, { transports: ['long-poll'], fetch: lossyFetch });
    try {
      const ack = await r.client.publish(ch, { once: true });
      assert.equal(posts, 2, 'retried once');
      assert.equal(ack.offset, 1);
      assert.deepEqual(await history(server.url, ch), [{ once: true }], 'stored once');
    } finally {
      r.close();
    }
  });

  it('over WebSocket: an ack that never comes is retried over HTTP with the same key', async () => {
    const ch = uniqueChannel('lost-ack');
    let swallowed = 0;
    // A WebSocket that loses the first ack frame, as a drop right after the publish would.
    class LossyWebSocket implements WebSocketLike {
      private readonly ws: WebSocket;
      onopen: WebSocketLike['onopen'] = null;
      onmessage: WebSocketLike['onmessage'] = null;
      onclose: WebSocketLike['onclose'] = null;
      onerror: WebSocketLike['onerror'] = null;
      constructor(url: string) {
        this.ws = new WebSocket(url);
        this.ws.onopen = (ev) => this.onopen?.(ev);
        this.ws.onclose = (ev) => this.onclose?.(ev);
        this.ws.onerror = (ev) => this.onerror?.(ev);
        this.ws.onmessage = (ev) => {
          if (swallowed === 0 && String(ev.data).startsWith('{"type":"ack"')) swallowed++;
          else this.onmessage?.(ev);
        };
      }
      get readyState(): number {
        return this.ws.readyState;
      }
      send(data: string): void {
        this.ws.send(data);
      }
      close(code?: number, reason?: string): void {
        this.ws.close(code, reason);
      }
    }
    const r = new Recorder(server.url, { transports: ['ws'], WebSocket: LossyWebSocket as unknown as WebSocketConstructor, requestTimeout: 300 });
    try {
      r.subscribe(ch);
      await r.connected('ws');
      const ack = await r.client.publish(ch, 'hello');
      assert.equal(swallowed, 1, 'the first ack was lost');
      assert.equal(ack.offset, 1);
      await r.received(ch, 1);
      await delay(50);
      assert.deepEqual(await history(server.url, ch), ['hello'], 'stored once');
      assert.deepEqual(r.offsets(ch), [1]);
    } finally {
      r.close();
    }
  });
});
