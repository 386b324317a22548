import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TidingsServer } from '../../src/server.js';
import {
  offsets,
  publish,
  publishSeries,
  request,
  startTestServer,
  uniqueChannel,
  waitFor,
  waitForSubscribers,
  within,
  type Envelope,
  type GapNotice,
} from '../helpers/server.js';

interface PollAnswer {
  messages: Envelope[];
  cursor: string;
  gap?: GapNotice[];
}

/** A poll whose settling can be watched: `done` flips when the answer is in. */
function startPoll(baseUrl: string, query: string, signal?: AbortSignal) {
  const state = { done: false, started: Date.now(), elapsed: 0 };
  const answer = request<PollAnswer>(baseUrl, `/v1/poll?${query}`, { signal }).then((res) => {
    state.done = true;
    state.elapsed = Date.now() - state.started;
    return res;
  });
  return { state, answer };
}

describe('long polling (GET /v1/poll?wait=S)', () => {
  let server: TidingsServer;
  before(async () => (server = await startTestServer()));
  after(() => server.close());

  const cursorAtEnd = async (channel: string) => (await request<PollAnswer>(server.url, `/v1/poll?channel=${channel}`)).body.cursor;

  it('is held until a publish releases it, and answers with that message', async () => {
    const channel = uniqueChannel('held');
    await publishSeries(server.url, channel, 2);
    const cursor = await cursorAtEnd(channel);
    const poll = startPoll(server.url, `channel=${channel}&cursor=${cursor}&wait=10`);
    await waitForSubscribers(server.url, channel, 1);
    // Parked: a short poll to the same server answers while the long poll still hangs.
    assert.equal((await request(server.url, `/v1/poll?channel=${channel}`)).status, 200);
    assert.equal(poll.state.done, false, 'the long poll has not answered before the publish');
    await publish(server.url, channel, 'release');
    const res = await within(poll.answer, 3000, 'long poll release');
    assert.equal(res.status, 200);
    assert.deepEqual(offsets(res.body.messages), [3]);
    assert.equal(res.body.messages[0]!.data, 'release');
    assert.ok(poll.state.elapsed < 5000);
    await waitForSubscribers(server.url, channel, 0);
  });

  it('answers a burst published together in one answer', async () => {
    const channel = uniqueChannel('burst');
    const cursor = await cursorAtEnd(channel);
    const poll = startPoll(server.url, `channel=${channel}&cursor=${cursor}&wait=10`);
    await waitForSubscribers(server.url, channel, 1);
    const batch = { messages: [1, 2, 3, 4, 5].map((n) => ({ channel, data: n })) };
    const pub = await request(server.url, '/v1/publish', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(batch) });
    assert.equal(pub.status, 201);
    const res = await within(poll.answer, 3000, 'long poll');
    assert.deepEqual(offsets(res.body.messages), [1, 2, 3, 4, 5]);
  });

  it('times out with "messages":[] and a cursor that still works', async () => {
    const channel = uniqueChannel('timeout');
    await publishSeries(server.url, channel, 1);
    const cursor = await cursorAtEnd(channel);
    const poll = startPoll(server.url, `channel=${channel}&cursor=${cursor}&wait=1`);
    const res = await within(poll.answer, 4000, 'long poll timeout');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.messages, []);
    assert.equal(res.body.gap, undefined);
    assert.ok(poll.state.elapsed >= 900, `held for the wait (${poll.state.elapsed} ms)`);
    assert.ok(typeof res.body.cursor === 'string' && res.body.cursor.length > 1);
    await publish(server.url, channel, 'after timeout');
    const next = await request<PollAnswer>(server.url, `/v1/poll?channel=${channel}&cursor=${res.body.cursor}`);
    assert.deepEqual(offsets(next.body.messages), [2], 'the timed-out cursor resumes exactly after what was seen');
  });

  it('without a cursor answers only what is published while it waits', async () => {
    const channel = uniqueChannel('nocursor');
    await publishSeries(server.url, channel, 3);
    const poll = startPoll(server.url, `channel=${channel}&wait=10`);
    await waitForSubscribers(server.url, channel, 1);
    assert.equal(poll.state.done, false, 'old messages do not release it');
    await publish(server.url, channel, 'new');
    const res = await within(poll.answer, 3000, 'long poll');
    assert.deepEqual(offsets(res.body.messages), [4]);
    const next = await request<PollAnswer>(server.url, `/v1/poll?channel=${channel}&cursor=${res.body.cursor}`);
    assert.deepEqual(next.body.messages, []);
  });

  it('answers at once when messages are already there after the cursor', async () => {
    const channel = uniqueChannel('ready');
    const cursor = await cursorAtEnd(channel);
    await publishSeries(server.url, channel, 3);
    const res = await within(startPoll(server.url, `channel=${channel}&cursor=${cursor}&wait=30`).answer, 2000, 'immediate answer');
    assert.deepEqual(offsets(res.body.messages), [1, 2, 3]);
  });

  it('on several channels, a publish to any of them releases it, and the cursor covers all', async () => {
    const a = uniqueChannel('ma');
    const b = uniqueChannel('mb');
    await publishSeries(server.url, a, 2);
    const first = await request<PollAnswer>(server.url, `/v1/poll?channel=${a}&channel=${b}`);
    const poll = startPoll(server.url, `channel=${a}&channel=${b}&cursor=${first.body.cursor}&wait=10`);
    await waitForSubscribers(server.url, b, 1);
    await publish(server.url, b, 'on b');
    const res = await within(poll.answer, 3000, 'long poll');
    assert.deepEqual(
      res.body.messages.map((m) => [m.channel, m.offset]),
      [[b, 1]],
    );
    await publish(server.url, a, 'on a');
    const next = await request<PollAnswer>(server.url, `/v1/poll?channel=${a}&channel=${b}&cursor=${res.body.cursor}`);
    assert.deepEqual(
      next.body.messages.map((m) => [m.channel, m.offset]),
      [[a, 3]],
    );
  });

  it('a client that gives up leaves no subscription behind', async () => {
    const channel = uniqueChannel('abort');
    const abort = new AbortController();
    const poll = startPoll(server.url, `channel=${channel}&wait=30`, abort.signal);
    poll.answer.catch(() => {});
    await waitForSubscribers(server.url, channel, 1);
    abort.abort();
    await waitForSubscribers(server.url, channel, 0);
    // The channel still works for the next client.
    await publish(server.url, channel, 1);
    const res = await request<PollAnswer>(server.url, `/v1/poll?channel=${channel}&last=1`);
    assert.deepEqual(offsets(res.body.messages), [1]);
  });

  it('the parked gauge in /metrics follows parked long polls', async () => {
    const channel = uniqueChannel('gauge');
    const parked = async () => {
      const text = (await request<string>(server.url, '/metrics')).body;
      return Number(/^tidings_long_polls_parked (\d+)/m.exec(text)?.[1]);
    };
    const baseline = await parked();
    const poll = startPoll(server.url, `channel=${channel}&wait=10`);
    await waitFor(async () => (await parked()) === baseline + 1, 3000, 'gauge up');
    await publish(server.url, channel, 1);
    await within(poll.answer, 3000, 'long poll');
    await waitFor(async () => (await parked()) === baseline, 3000, 'gauge down');
  });
});

describe('long polling with a trimmed history', () => {
  let server: TidingsServer;
  before(async () => (server = await startTestServer({ historyCount: 3 })));
  after(() => server.close());

  it('a long poll from a trimmed position answers at once with the gap and the retained messages', async () => {
    const channel = uniqueChannel('lpgap');
    await publishSeries(server.url, channel, 1);
    const cursor = (await request<PollAnswer>(server.url, `/v1/poll?channel=${channel}&last=1`)).body.cursor;
    await publishSeries(server.url, channel, 6, 2); // 2..7; 5..7 retained
    const res = await within(startPoll(server.url, `channel=${channel}&cursor=${cursor}&wait=30`).answer, 2000, 'gap answer');
    assert.equal(res.status, 200);
    assert.equal(res.body.gap?.length, 1);
    assert.deepEqual({ ...res.body.gap![0], epoch: undefined }, { channel, epoch: undefined, from: 2, first: 5 });
    assert.deepEqual(offsets(res.body.messages), [5, 6, 7]);
  });
});
