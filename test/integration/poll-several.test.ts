import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeCursor, encodeCursor } from '../../src/core/cursor.js';
import type { TidingsServer } from '../../src/server.js';
import { RedisServer, skipWithoutRedis } from '../helpers/redis.js';
import {
  channelInfo,
  delay,
  offsets,
  publish,
  publishSeries,
  request,
  startPoll,
  startTestServer,
  uniqueChannel,
  waitFor,
  waitForSubscribers,
  within,
  type Envelope,
  type PollAnswer,
} from '../helpers/server.js';

const byChannel = (messages: readonly Envelope[]) => messages.map((m) => [m.channel, m.offset]);

describe('long polls without a cursor, and of several channels', () => {
  let server: TidingsServer;
  before(async () => (server = await startTestServer()));
  after(() => server.close());

  const parkedGauge = async () => Number(/^tidings_long_polls_parked (\d+)/m.exec((await request<string>(server.url, '/metrics')).body)?.[1]);

  it('a first long poll of several channels waits for either; a message on the second answers it, and its cursor resumes both', async () => {
    const a = uniqueChannel('sev-a');
    const b = uniqueChannel('sev-b');
    await publishSeries(server.url, a, 2);
    const poll = startPoll(server.url, `channel=${a}&channel=${b}&wait=10`);
    await waitForSubscribers(server.url, a, 1);
    await waitForSubscribers(server.url, b, 1);
    assert.equal(poll.state.done, false, 'what a had before the poll does not answer it');
    await publish(server.url, b, 'on b');
    const res = await within(poll.answer, 3000, 'long poll of several');
    assert.equal(res.status, 200);
    assert.deepEqual(byChannel(res.body.messages), [[b, 1]]);
    assert.deepEqual([...decodeCursor(res.body.cursor).keys()], [a, b], 'the cursor names every channel, in the order asked');
    await publish(server.url, a, 'on a');
    const next = await request<PollAnswer>(server.url, `/v1/poll?channel=${a}&channel=${b}&cursor=${res.body.cursor}`);
    assert.deepEqual(byChannel(next.body.messages), [[a, 3]]);
    await waitForSubscribers(server.url, a, 0);
    await waitForSubscribers(server.url, b, 0);
  });

  it('a long poll of several channels with last=N answers at once with what each has, channel by channel', async () => {
    const a = uniqueChannel('sev-last-a');
    const b = uniqueChannel('sev-last-b');
    const c = uniqueChannel('sev-last-c');
    await publishSeries(server.url, a, 3);
    await publishSeries(server.url, c, 1);
    const res = await within(startPoll(server.url, `channel=${a}&channel=${b}&channel=${c}&last=2&wait=30`).answer, 3000, 'immediate answer');
    assert.deepEqual(byChannel(res.body.messages), [
      [a, 2],
      [a, 3],
      [c, 1],
    ]);
  });

  it('a first long poll with last=N on a channel with nothing parks, and the next message answers it', async () => {
    const channel = uniqueChannel('last-parks');
    const poll = startPoll(server.url, `channel=${channel}&last=5&wait=10`);
    await waitForSubscribers(server.url, channel, 1);
    assert.equal(poll.state.done, false);
    await publish(server.url, channel, 'first');
    const res = await within(poll.answer, 3000, 'long poll');
    assert.deepEqual(offsets(res.body.messages), [1]);
    assert.equal(res.body.messages[0]!.channel, channel, 'one channel: the full envelope, as asked');
  });

  it('messages published together on several channels come in one answer', async () => {
    const a = uniqueChannel('sev-batch-a');
    const b = uniqueChannel('sev-batch-b');
    const first = await request<PollAnswer>(server.url, `/v1/poll?channel=${a}&channel=${b}`);
    const poll = startPoll(server.url, `channel=${a}&channel=${b}&cursor=${first.body.cursor}&wait=10`);
    await waitForSubscribers(server.url, a, 1);
    await waitForSubscribers(server.url, b, 1);
    const batch = { messages: [a, b, a].map((channel, n) => ({ channel, data: n })) };
    const pub = await request(server.url, '/v1/publish', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(batch) });
    assert.equal(pub.status, 201);
    const res = await within(poll.answer, 3000, 'long poll');
    assert.deepEqual(byChannel(res.body.messages), [
      [a, 1],
      [a, 2],
      [b, 1],
    ]);
  });

  it('the parked gauge counts a poll of several channels once; a client that gives up leaves no subscription on any of them', async () => {
    const a = uniqueChannel('sev-gone-a');
    const b = uniqueChannel('sev-gone-b');
    const baseline = await parkedGauge();
    const abort = new AbortController();
    const poll = startPoll(server.url, `channel=${a}&channel=${b}&wait=30`, abort.signal);
    poll.answer.catch(() => {});
    await waitForSubscribers(server.url, a, 1);
    await waitForSubscribers(server.url, b, 1);
    await waitFor(async () => (await parkedGauge()) === baseline + 1, 3000, 'gauge up by one');
    abort.abort();
    await waitForSubscribers(server.url, a, 0);
    await waitForSubscribers(server.url, b, 0);
    await waitFor(async () => (await parkedGauge()) === baseline, 3000, 'gauge down');
  });

  it('a cursor ahead of the history is clamped to its end: the long poll is answered by the next message', async () => {
    const channel = uniqueChannel('ahead');
    await publishSeries(server.url, channel, 2);
    const at = decodeCursor((await request<PollAnswer>(server.url, `/v1/poll?channel=${channel}`)).body.cursor).get(channel)!;
    const ahead = encodeCursor([[channel, { epoch: at.epoch, offset: 5 }]]);
    const short = await request<PollAnswer>(server.url, `/v1/poll?channel=${channel}&cursor=${ahead}`);
    assert.deepEqual(decodeCursor(short.body.cursor).get(channel), at, 'the short poll answers with the clamped cursor');
    const poll = startPoll(server.url, `channel=${channel}&cursor=${ahead}&wait=10`);
    await waitForSubscribers(server.url, channel, 1);
    await publish(server.url, channel, 'third');
    const res = await within(poll.answer, 3000, 'long poll from a cursor ahead');
    assert.deepEqual(offsets(res.body.messages), [3]);
  });
});

describe('a first poll whose client leaves while its start is resolved', { skip: skipWithoutRedis }, () => {
  let redis: RedisServer | undefined;
  let server: TidingsServer | undefined;
  before(async () => {
    redis = await RedisServer.start();
    server = await startTestServer({ engine: 'redis', redisUrl: redis.url, redisTimeoutMs: 10_000 });
  });
  after(async () => {
    await server?.close();
    await redis?.stop();
  });

  it('does not park: no subscriber is left on its channels', async () => {
    const url = server!.url;
    const a = uniqueChannel('left-a');
    const b = uniqueChannel('left-b');
    await publishSeries(url, a, 1);
    const abort = new AbortController();
    // Redis paused: the polls wait for channel info, and their client leaves meanwhile.
    redis!.signal('SIGSTOP');
    try {
      const polls = [`channel=${a}&wait=30`, `channel=${a}&channel=${b}&wait=30`].map((q) => startPoll(url, q, abort.signal).answer.catch(() => {}));
      await delay(300);
      abort.abort();
      await Promise.all(polls);
      await delay(200);
    } finally {
      redis!.signal('SIGCONT');
    }
    // A poll that parked now would be there within a few Redis round trips. (No publish
    // to the channels here: it would answer, and so hide, a poll parked for nobody.)
    await delay(1000);
    assert.equal((await channelInfo(url, a)).subscribers, 0);
    assert.equal((await channelInfo(url, b)).subscribers, 0);
  });
});
