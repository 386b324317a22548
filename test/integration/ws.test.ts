import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { CLOSE_REASONS } from '../../src/core/close-reasons.js';
import type { TidingsServer } from '../../src/server.js';
import { CLOSE_ANSWER_GRACE_MS } from '../../src/transports/ws-close.js';
import {
  channelInfo,
  delay,
  offsets,
  publish,
  publishSeries,
  range,
  request,
  startTestServer,
  uniqueChannel,
  waitFor,
  waitForSubscribers,
  within,
} from '../helpers/server.js';
import { WsSubscriber } from '../helpers/subscribers.js';
import { SilentWsPeer } from '../helpers/ws-raw.js';

const rawSocket = (ws: WsSubscriber): Socket => (ws.socket as unknown as { _socket: Socket })._socket;

describe('WebSocket frames (GET /v1/ws)', () => {
  let server: TidingsServer;
  before(async () => (server = await startTestServer({ maxMessageBytes: 2048, maxFrameBytes: 4096 })));
  after(() => server.close());

  it('subscribe answers subscribed with epoch and the current last offset; messages carry a cursor and the envelope', async () => {
    const channel = uniqueChannel('sub');
    await publishSeries(server.url, channel, 3);
    const ws = new WsSubscriber(server.url);
    const raw: string[] = [];
    try {
      await ws.connect();
      ws.socket!.on('message', (d) => raw.push(d.toString()));
      const subscribed = await ws.call({ type: 'subscribe', channel });
      const info = await channelInfo(server.url, channel);
      assert.equal(typeof subscribed.cursor, 'string');
      assert.deepEqual({ ...subscribed, cursor: undefined }, { type: 'subscribed', channel, epoch: info.epoch, last: 3, cursor: undefined, id: subscribed.id });
      const empty = await ws.call({ type: 'subscribe', channel: uniqueChannel('empty') });
      assert.equal(empty.last, 0, 'last is 0 for an empty channel');
      await publish(server.url, channel, { hello: 'ws' }, { event: 'greet' });
      await waitFor(() => ws.messages.length === 1, 3000, 'message frame');
      const frame = ws.frames.find((f) => f.type === 'message')!;
      assert.equal(typeof frame.cursor, 'string');
      assert.deepEqual(
        { ...frame, cursor: undefined, time: undefined },
        { type: 'message', cursor: undefined, channel, offset: 4, epoch: info.epoch, time: undefined, event: 'greet', data: { hello: 'ws' } },
      );
      assert.ok(raw.every((text) => text.startsWith('{"type":')), 'type comes first in every frame');
    } finally {
      await ws.close();
    }
  });

  it('subscribed carries the start cursor, so a client that drops before any message resumes with no loss', async () => {
    const channel = uniqueChannel('startcursor');
    await publishSeries(server.url, channel, 2);
    const first = new WsSubscriber(server.url);
    let cursor: string;
    try {
      await first.connect();
      const subscribed = await first.call({ type: 'subscribe', channel });
      cursor = subscribed.cursor as string;
    } finally {
      await first.close();
    }
    await publishSeries(server.url, channel, 3);
    const again = new WsSubscriber(server.url);
    try {
      await again.connect();
      await again.call({ type: 'subscribe', channel, cursor });
      await waitFor(() => again.messages.length === 3, 3000, 'the three messages published while away');
      assert.deepEqual(offsets(again.messages), [3, 4, 5]);
    } finally {
      await again.close();
    }
  });

  it('subscribe with last=N replays, and channel= on the upgrade URL subscribes at once', async () => {
    const channel = uniqueChannel('init');
    await publishSeries(server.url, channel, 5);
    const viaFrame = new WsSubscriber(server.url);
    const viaQuery = new WsSubscriber(server.url);
    try {
      await viaFrame.connect();
      await viaFrame.call({ type: 'subscribe', channel, last: 2 });
      await viaQuery.connect(`?channel=${channel}&last=3`);
      await waitFor(() => viaFrame.messages.length === 2 && viaQuery.messages.length === 3, 3000, 'replays');
      assert.deepEqual(offsets(viaFrame.messages), [4, 5]);
      assert.deepEqual(offsets(viaQuery.messages), [3, 4, 5]);
      assert.ok(viaQuery.frames.some((f) => f.type === 'subscribed' && f.channel === channel));
    } finally {
      await viaFrame.close();
      await viaQuery.close();
    }
  });

  it('publish gets an ack with the offset, and the message is delivered (to itself and others)', async () => {
    const channel = uniqueChannel('wspub');
    const publisher = new WsSubscriber(server.url);
    const listener = new WsSubscriber(server.url);
    try {
      await listener.subscribe({ channels: [channel] });
      await publisher.subscribe({ channels: [channel] });
      const ack = await publisher.call({ type: 'publish', channel, data: [1, 2], event: 'ev' });
      const info = await channelInfo(server.url, channel);
      assert.deepEqual(ack, { type: 'ack', id: ack.id, channel, offset: 1, epoch: info.epoch });
      const ack2 = await publisher.call({ type: 'publish', channel, data: null });
      assert.equal(ack2.offset, 2);
      await waitFor(() => listener.messages.length === 2 && publisher.messages.length === 2, 3000, 'deliveries');
      assert.deepEqual(listener.messages[0]!.data, [1, 2]);
      assert.equal(listener.messages[0]!.event, 'ev');
      assert.equal(listener.messages[1]!.data, null);
      const history = await request<{ messages: unknown[] }>(server.url, `/v1/channels/${channel}/messages`);
      assert.equal(history.body.messages.length, 2);
    } finally {
      await publisher.close();
      await listener.close();
    }
  });

  it('publish with an idempotencyKey: a repeat (a retry after a reconnect) answers the first offset and publishes nothing', async () => {
    const channel = uniqueChannel('wsidem');
    const publisher = new WsSubscriber(server.url);
    try {
      await publisher.connect();
      const first = await publisher.call({ type: 'publish', channel, data: 'once', idempotencyKey: 'order-17' });
      const again = await publisher.call({ type: 'publish', channel, data: 'once', idempotencyKey: 'order-17' });
      assert.deepEqual([first.type, first.offset, again.type, again.offset], ['ack', 1, 'ack', 1]);
      assert.equal((await channelInfo(server.url, channel)).last, 1);
      const bad = await publisher.call({ type: 'publish', channel, data: 1, idempotencyKey: '' });
      assert.deepEqual([bad.type, bad.code], ['error', 'invalid_parameter']);
    } finally {
      await publisher.close();
    }
  });

  it('ping → pong with the same id', async () => {
    const ws = new WsSubscriber(server.url);
    try {
      await ws.connect();
      const pong = await ws.call({ type: 'ping' });
      assert.deepEqual(pong, { type: 'pong', id: pong.id });
      ws.send({ type: 'ping', id: 7 });
      await waitFor(() => ws.frames.some((f) => f.type === 'pong' && f.id === 7), 3000, 'numeric id pong');
    } finally {
      await ws.close();
    }
  });

  it('subscribing twice is an error; unsubscribe stops delivery; unsubscribing again is an error', async () => {
    const channel = uniqueChannel('twice');
    const ws = new WsSubscriber(server.url);
    try {
      await ws.connect();
      assert.equal((await ws.call({ type: 'subscribe', channel })).type, 'subscribed');
      const again = await ws.call({ type: 'subscribe', channel });
      assert.equal(again.type, 'error');
      assert.equal(again.code, 'already_subscribed');
      assert.equal(typeof again.message, 'string');
      await publish(server.url, channel, 1);
      await waitFor(() => ws.messages.length === 1, 3000, 'first message');
      const un = await ws.call({ type: 'unsubscribe', channel });
      assert.deepEqual(un, { type: 'unsubscribed', channel, id: un.id });
      await waitForSubscribers(server.url, channel, 0);
      await publish(server.url, channel, 2);
      await ws.call({ type: 'ping' }); // anything sent before the pong has arrived
      assert.equal(ws.messages.length, 1, 'nothing after unsubscribe');
      const notSub = await ws.call({ type: 'unsubscribe', channel });
      assert.equal(notSub.code, 'not_subscribed');
      // Subscribing again after unsubscribe works.
      assert.equal((await ws.call({ type: 'subscribe', channel, last: 1 })).type, 'subscribed');
      await waitFor(() => ws.messages.length === 2, 3000, 'replayed message');
      assert.equal(ws.messages[1]!.offset, 2);
    } finally {
      await ws.close();
    }
  });

  it('malformed frames get an error frame and the connection stays open', async () => {
    const ws = new WsSubscriber(server.url);
    try {
      await ws.connect();
      const bad: [string | Buffer, string][] = [
        ['not json', 'invalid_json'],
        ['[1,2]', 'invalid_frame'],
        ['"str"', 'invalid_frame'],
        ['{"no":"type"}', 'invalid_frame'],
        ['{"type":"explode"}', 'invalid_frame'],
        ['{"type":"subscribe","channel":"bad name"}', 'invalid_channel'],
        ['{"type":"subscribe","channel":"ok","last":5000}', 'invalid_parameter'],
        ['{"type":"subscribe","channel":"ok","cursor":42}', 'invalid_cursor'],
        ['{"type":"publish","channel":"ok"}', 'invalid_frame'],
        [`{"type":"publish","channel":"ok","data":"${'x'.repeat(3000)}"}`, 'payload_too_large'],
      ];
      for (const [frame, code] of bad) {
        const from = ws.frames.length;
        ws.socket!.send(frame);
        await waitFor(() => ws.frames.length > from, 3000, `answer to ${String(frame).slice(0, 30)}`);
        const answer = ws.frames[from]!;
        assert.equal(answer.type, 'error', String(frame).slice(0, 40));
        assert.equal(answer.code, code, String(frame).slice(0, 40));
        // A good frame in between keeps the count of bad ones in a row from closing it.
        assert.equal((await ws.call({ type: 'ping' })).type, 'pong');
      }
      const from = ws.frames.length;
      ws.socket!.send(Buffer.from([1, 2, 3]), { binary: true });
      await waitFor(() => ws.frames.length > from, 3000, 'answer to a binary frame');
      assert.equal(ws.frames[from]!.code, 'invalid_frame');
      const withId = await ws.call({ type: 'nonsense' });
      assert.equal(withId.type, 'error', 'an error frame carries the id of the frame it answers');
      assert.equal(ws.socket!.readyState, WebSocket.OPEN);
      assert.equal(ws.closeCode, undefined);
    } finally {
      await ws.close();
    }
  });

  it('a client that keeps sending garbage is closed with 1008', async () => {
    const ws = new WsSubscriber(server.url);
    try {
      await ws.connect();
      for (let i = 0; i < 50 && ws.socket!.readyState === WebSocket.OPEN; i++) ws.socket!.send(`garbage ${i}`);
      await waitFor(() => ws.closeCode !== undefined, 3000, 'close');
      assert.equal(ws.closeCode, 1008);
      assert.ok(ws.frames.some((f) => f.type === 'error'), 'it was told why before');
    } finally {
      await ws.close();
    }
  });

  it('a frame over --max-frame-size closes with 1009', async () => {
    const ws = new WsSubscriber(server.url);
    try {
      await ws.connect();
      ws.socket!.send(JSON.stringify({ type: 'ping', pad: 'x'.repeat(5000) }));
      await waitFor(() => ws.closeCode !== undefined, 3000, 'close');
      assert.equal(ws.closeCode, 1009);
    } finally {
      await ws.close();
    }
    // The server is fine afterwards.
    assert.equal((await request(server.url, '/healthz')).status, 200);
  });

  it('an upgrade on another path is refused', async () => {
    const ws = new WebSocket(server.url.replace('http', 'ws') + '/v1/nope');
    const status = await within(
      new Promise<number>((resolve) => {
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('error', () => resolve(-1));
      }),
      3000,
      'refusal',
    );
    assert.equal(status, 404);
  });

  it('GET /v1/ws without an upgrade is a 400 problem', async () => {
    const res = await request(server.url, '/v1/ws');
    assert.equal(res.status, 400);
    assert.match(res.headers.get('content-type') ?? '', /problem\+json/);
  });
});

describe('WebSocket slow consumers and dead peers', () => {
  it('a client that stops reading is closed with 4000 (slow_consumer) while a fast one gets everything', async () => {
    const server = await startTestServer({ maxQueueBytes: 64 * 1024 });
    const channel = uniqueChannel('slow');
    const fast = new WsSubscriber(server.url);
    const slow = new WsSubscriber(server.url);
    try {
      await fast.subscribe({ channels: [channel] });
      await slow.subscribe({ channels: [channel] });
      await waitForSubscribers(server.url, channel, 2);
      rawSocket(slow).pause();
      const payload = 'p'.repeat(60_000);
      let published = 0;
      // Enough 60 KB messages to fill the kernel's buffers and then the 64 KiB queue; bounded.
      while (published < 400) {
        await publish(server.url, channel, { n: ++published, payload });
        if (published % 10 === 0 && (await channelInfo(server.url, channel)).subscribers === 1) break;
      }
      await waitForSubscribers(server.url, channel, 1, 3000);
      await publishSeries(server.url, channel, 3, published + 1);
      const total = published + 3;
      await waitFor(() => fast.messages.length >= total, 10_000, `fast consumer gets all ${total}`);
      assert.deepEqual(offsets(fast.messages), range(1, total));
      assert.equal(fast.closeCode, undefined, 'the fast one is still connected');
      // Reading again, the slow one finds its backlog and then the close frame.
      rawSocket(slow).resume();
      await waitFor(() => slow.closeCode !== undefined, 10_000, 'slow consumer close');
      assert.equal(slow.closeCode, CLOSE_REASONS.slow_consumer.ws);
      assert.equal(slow.closeCode, 4000);
      assert.ok(slow.messages.length < total, 'the slow one was cut before the end');
      assert.deepEqual(offsets(slow.messages), range(1, slow.messages.length), 'what it got is in order');
      const metrics = (await request<string>(server.url, '/metrics')).body;
      assert.match(metrics, /^tidings_slow_consumers_dropped_total\{transport="ws"\} [1-9]/m);
      // It resumes by cursor with nothing lost.
      await slow.resume();
      await waitFor(() => slow.messages.length >= total, 10_000, 'slow consumer catches up');
      assert.deepEqual(offsets(slow.messages), range(1, total));
    } finally {
      await fast.close();
      await slow.close();
      await server.close();
    }
  });

  it('a client that does not answer pings is closed (dead_peer) and its subscriptions freed', async () => {
    const server = await startTestServer({ heartbeatMs: 100 });
    const channel = uniqueChannel('dead');
    const dead = new WsSubscriber(server.url);
    const alive = new WsSubscriber(server.url);
    try {
      await dead.subscribe({ channels: [channel] });
      await alive.subscribe({ channels: [channel] });
      await waitForSubscribers(server.url, channel, 2);
      rawSocket(dead).pause(); // no pong goes back: the ws client answers pings only as it reads them
      await waitForSubscribers(server.url, channel, 1, 3000);
      rawSocket(dead).resume();
      await waitFor(() => dead.closeCode !== undefined, 3000, 'dead peer noticed its socket closed');
      assert.notEqual(dead.closeCode, 1000);
      // The live one answered every ping (ws does that by itself) and stays.
      await publish(server.url, channel, 'still here');
      await waitFor(() => alive.messages.length === 1, 3000, 'alive one receives');
      assert.equal(alive.closeCode, undefined);
    } finally {
      await dead.close();
      await alive.close();
      await server.close();
    }
  });
});

/** `tidings_connections{transport="ws"}` as /metrics shows it now. */
async function wsConnections(url: string): Promise<number> {
  const metrics = (await request<string>(url, '/metrics')).body;
  const count = /^tidings_connections\{transport="ws"\} (\d+)$/m.exec(metrics);
  assert.ok(count !== null, 'tidings_connections{transport="ws"} is reported');
  return Number(count[1]);
}

/**
 * Subscribes `peer` to `channel`, stops reading and publishes 60 KB messages until the
 * server drops it as a slow consumer (bounded): its close frame then waits behind bytes
 * it hasn't read.
 */
async function stallBehindBacklog(url: string, peer: SilentWsPeer, channel: string): Promise<void> {
  peer.sendText(JSON.stringify({ type: 'subscribe', channel }));
  await waitForSubscribers(url, channel, 1);
  peer.socket.pause();
  const payload = 'p'.repeat(60_000);
  for (let n = 1; n <= 400; n++) {
    await publish(url, channel, { n, payload });
    if (n % 10 === 0 && (await channelInfo(url, channel)).subscribers === 0) return;
  }
  await waitForSubscribers(url, channel, 0, 3000);
}

describe('WebSocket peers that never answer the close frame', () => {
  it('a peer closed with 1008 that never answers is cut after a short grace, and no longer counted', async () => {
    const server = await startTestServer();
    const peer = await SilentWsPeer.open(server.url);
    try {
      assert.equal(await wsConnections(server.url), 1);
      for (let i = 0; i < 10; i++) peer.sendText(`garbage ${i}`);
      await waitFor(() => peer.closeCode() !== undefined, 5000, 'the close frame');
      assert.equal(peer.closeCode(), CLOSE_REASONS.policy_violation.ws);
      // ws alone waits 30 s for the answer.
      await within(peer.closed, 10_000, 'the server to cut the peer that never answered its close frame');
      assert.equal(await wsConnections(server.url), 0);
    } finally {
      peer.destroy();
      await server.close();
    }
  });

  it('a slow consumer gets its close frame behind its backlog when it reads again, however late, then a short grace to answer', async () => {
    const server = await startTestServer({ maxQueueBytes: 64 * 1024 });
    const peer = await SilentWsPeer.open(server.url);
    try {
      await stallBehindBacklog(server.url, peer, uniqueChannel('backlog'));
      assert.equal(await wsConnections(server.url), 0, 'a closed connection is not counted while its last bytes wait');
      // Its close frame is not sent yet, so no grace runs: reading again after two graces, it
      // still finds the frame (had the socket been destroyed meanwhile, the frame waiting in
      // the server's buffer would have been dropped with it).
      await delay(2 * CLOSE_ANSWER_GRACE_MS + 1000);
      peer.socket.resume();
      await waitFor(() => peer.closeCode() !== undefined, 10_000, 'the close frame behind the backlog');
      assert.equal(peer.closeCode(), CLOSE_REASONS.slow_consumer.ws);
      const messages = peer.frames.filter((f) => f.opcode === 0x1).map((f) => JSON.parse(f.payload.toString()) as { type: string; data?: { n: number } });
      const ns = messages.filter((m) => m.type === 'message').map((m) => m.data!.n);
      assert.ok(ns.length > 0, 'the backlog came first');
      assert.deepEqual(ns, range(1, ns.length), 'whole and in order');
      assert.equal(peer.frames.at(-1)!.opcode, 0x8, 'the close frame is the last');
      await within(peer.closed, 10_000, 'the server to cut the peer that read its close frame but never answered');
    } finally {
      peer.destroy();
      await server.close();
    }
  });

  it('at shutdown, a socket whose close frame still waits behind an unread backlog is cut when --shutdown-timeout runs out', async () => {
    const server = await startTestServer({ maxQueueBytes: 64 * 1024, shutdownTimeoutMs: 1000 });
    const peer = await SilentWsPeer.open(server.url);
    let stopped = false;
    try {
      await stallBehindBacklog(server.url, peer, uniqueChannel('backlog-bye'));
      await within(server.close(), 10_000, 'the shutdown');
      stopped = true;
      // Reading again, it finds what had reached the kernel, then the end of the stream;
      // ws alone would have kept the socket for its 30 s close timeout.
      peer.socket.resume();
      await within(peer.closed, 10_000, 'the socket to be cut once the shutdown ran out of time');
    } finally {
      peer.destroy();
      if (!stopped) await server.close();
    }
  });
});
