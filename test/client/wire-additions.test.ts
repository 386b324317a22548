import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TidingsServer } from '../../src/server.js';
import { publishSeries, request, startTestServer, uniqueChannel } from '../helpers/server.js';
import { WsSubscriber } from '../helpers/subscribers.js';

/** The protocol additions the SDK relies on (docs/protocol.md § Additions), checked on the wire. */
describe('wire additions for the SDK', () => {
  let server: TidingsServer;
  before(async () => (server = await startTestServer()));
  after(() => server.close());

  it('a WebSocket publish frame with idempotencyKey publishes once and acks the first offset again', async () => {
    const channel = uniqueChannel('idem');
    const ws = new WsSubscriber(server.url);
    await ws.connect();
    try {
      const first = await ws.call({ type: 'publish', channel, data: 1, idempotencyKey: 'key-1' });
      const repeat = await ws.call({ type: 'publish', channel, data: 1, idempotencyKey: 'key-1' });
      const other = await ws.call({ type: 'publish', channel, data: 2, idempotencyKey: 'key-2' });
      assert.equal(first.type, 'ack');
      assert.equal(repeat.offset, first.offset);
      assert.equal(other.offset, (first.offset as number) + 1);
      const bad = await ws.call({ type: 'publish', channel, data: 3, idempotencyKey: 'white space' });
      assert.equal(bad.type, 'error');
      assert.equal(bad.code, 'invalid_parameter');
      const history = await request<{ messages: unknown[] }>(server.url, `/v1/channels/${channel}/messages`);
      assert.equal(history.body.messages.length, 2);
    } finally {
      await ws.close();
    }
  });

  it('several cursor= parameters are merged in order; the later one wins for a channel named twice', async () => {
    const a = uniqueChannel('a');
    const b = uniqueChannel('b');
    const cursorOf = async (query: string) => (await request<{ cursor: string }>(server.url, `/v1/poll?${query}&last=0`)).body.cursor;
    await publishSeries(server.url, a, 2);
    const a2 = await cursorOf(`channel=${a}`); // a after 2
    await publishSeries(server.url, a, 3, 3);
    const a5b0 = await cursorOf(`channel=${a}&channel=${b}`); // a after 5, b after 0
    await publishSeries(server.url, a, 1, 6);
    await publishSeries(server.url, b, 2);
    const poll = async (...cursors: string[]) => {
      const q = `channel=${a}&channel=${b}${cursors.map((c) => `&cursor=${c}`).join('')}`;
      const answer = await request<{ messages: { channel: string; offset: number }[] }>(server.url, `/v1/poll?${q}`);
      assert.equal(answer.status, 200);
      return answer.body.messages.map((m) => `${m.channel === a ? 'a' : 'b'}${m.offset}`).sort();
    };
    assert.deepEqual(await poll(a5b0, a2), ['a3', 'a4', 'a5', 'a6', 'b1', 'b2'], 'a from the later cursor (after 2)');
    assert.deepEqual(await poll(a2, a5b0), ['a6', 'b1', 'b2'], 'a from the later cursor (after 5)');
    assert.deepEqual(await poll(a5b0), ['a6', 'b1', 'b2'], 'one cursor= as before');
  });
});
