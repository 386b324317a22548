import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import type { TidingsServer } from '../../src/server.js';
import { RawSse } from '../helpers/sse-raw.js';
import { assertProblem, publish, request, startTestServer, uniqueChannel, waitFor, waitForSubscribers, within } from '../helpers/server.js';

interface PollAnswer {
  messages: Record<string, unknown>[];
  cursor: string;
}

/** A WebSocket whose every frame is kept, parsed. */
async function openWs(url: string): Promise<{ ws: WebSocket; frames: Record<string, unknown>[] }> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  const frames: Record<string, unknown>[] = [];
  ws.on('message', (d) => frames.push(JSON.parse(String(d)) as Record<string, unknown>));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return { ws, frames };
}

describe('compact envelope (envelope=compact, docs/protocol.md § Compact envelope)', () => {
  let server: TidingsServer;
  before(async () => (server = await startTestServer()));
  after(() => server.close());

  it('poll: offset, event and data only; channel where the answer has several; the cursor resumes', async () => {
    const channel = uniqueChannel('cpoll');
    await publish(server.url, channel, { a: 1 });
    await publish(server.url, channel, 'two', { event: 'named' });
    const first = await request<PollAnswer>(server.url, `/v1/poll?channel=${channel}&last=2&envelope=compact`);
    assert.equal(first.status, 200);
    assert.deepEqual(first.body.messages, [
      { offset: 1, data: { a: 1 } },
      { offset: 2, event: 'named', data: 'two' },
    ]);
    // From the cursor: a long poll parked with others at that position, answered compact.
    const parked = request<PollAnswer>(server.url, `/v1/poll?channel=${channel}&cursor=${first.body.cursor}&wait=10&envelope=compact`);
    const full = request<PollAnswer>(server.url, `/v1/poll?channel=${channel}&cursor=${first.body.cursor}&wait=10`);
    await waitForSubscribers(server.url, channel, 2);
    await publish(server.url, channel, 3);
    assert.deepEqual((await within(parked, 3000, 'compact long poll')).body.messages, [{ offset: 3, data: 3 }]);
    const fullMessage = (await within(full, 3000, 'full long poll')).body.messages[0]!;
    assert.deepEqual(Object.keys(fullMessage), ['channel', 'offset', 'epoch', 'time', 'data'], 'the default is still the full envelope');

    const other = uniqueChannel('cpoll2');
    await publish(server.url, other, 'o');
    const both = await request<PollAnswer>(server.url, `/v1/poll?channel=${channel}&channel=${other}&last=1&envelope=compact`);
    assert.deepEqual(both.body.messages, [
      { channel, offset: 3, data: 3 },
      { channel: other, offset: 1, data: 'o' },
    ]);
  });

  it('SSE: no event line for plain messages, the compact data, and an id: that resumes', async () => {
    const channel = uniqueChannel('csse');
    const sse = await RawSse.open(`${server.url}/v1/events?channel=${channel}&envelope=compact`);
    try {
      await waitForSubscribers(server.url, channel, 1);
      await publish(server.url, channel, 'x');
      await publish(server.url, channel, 'y', { event: 'named' });
      await waitFor(() => sse.blocks().filter((b) => b.data !== undefined).length === 2, 3000, 'two SSE messages');
      const [x, y] = sse.blocks().filter((b) => b.data !== undefined);
      assert.equal(x!.event, undefined);
      assert.deepEqual(JSON.parse(x!.data!), { offset: 1, data: 'x' });
      assert.equal(y!.event, 'named');
      assert.deepEqual(JSON.parse(y!.data!), { offset: 2, event: 'named', data: 'y' });
      const resumed = await request<PollAnswer>(server.url, `/v1/poll?channel=${channel}&cursor=${x!.id}&envelope=compact`);
      assert.deepEqual(resumed.body.messages, [{ offset: 2, event: 'named', data: 'y' }]);
    } finally {
      sse.close();
    }
  });

  it('WebSocket: the cursor and compact fields; the channel named while there are several subscriptions', async () => {
    const a = uniqueChannel('cwsa');
    const b = uniqueChannel('cwsb');
    const { ws, frames } = await openWs(`${server.url.replace('http', 'ws')}/v1/ws?channel=${a}&envelope=compact`);
    try {
      await waitFor(() => frames.some((f) => f.type === 'subscribed'), 3000, 'subscribed');
      await publish(server.url, a, 1);
      await waitFor(() => frames.some((f) => f.type === 'message'), 3000, 'first message');
      const one = frames.find((f) => f.type === 'message')!;
      assert.deepEqual(Object.keys(one), ['type', 'cursor', 'offset', 'data']);
      assert.deepEqual([one.offset, one.data], [1, 1]);
      ws.send(JSON.stringify({ type: 'subscribe', channel: b }));
      await waitFor(() => frames.filter((f) => f.type === 'subscribed').length === 2, 3000, 'second subscribed');
      await publish(server.url, b, 2);
      await waitFor(() => frames.filter((f) => f.type === 'message').length === 2, 3000, 'second message');
      const two = frames.filter((f) => f.type === 'message')[1]!;
      assert.deepEqual([two.channel, two.offset, two.data, two.epoch, two.time], [b, 1, 2, undefined, undefined]);
      const resumed = await request<PollAnswer>(server.url, `/v1/poll?channel=${a}&cursor=${String(one.cursor)}`);
      assert.deepEqual(resumed.body.messages, []);
    } finally {
      ws.close();
    }
  });

  it('anything but full or compact is 400 invalid_parameter', async () => {
    const channel = uniqueChannel('cbad');
    assertProblem(await request(server.url, `/v1/poll?channel=${channel}&envelope=tiny`), 400, 'invalid_parameter');
    assertProblem(await request(server.url, `/v1/events?channel=${channel}&envelope=tiny`, { headers: { accept: 'text/event-stream' } }), 400, 'invalid_parameter');
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`${server.url.replace('http', 'ws')}/v1/ws?channel=${channel}&envelope=tiny`);
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('error', () => undefined);
    });
    assert.equal(status, 400);
  });
});
