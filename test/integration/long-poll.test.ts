import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect } from 'node:net';
import { configWith } from '../../src/config.js';
import { historyLimits } from '../../src/engines/create.js';
import type { ReadResult } from '../../src/engines/engine.js';
import { MemoryEngine } from '../../src/engines/memory.js';
import { startServer, type TidingsServer } from '../../src/server.js';
import {
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
  type PollAnswer,
} from '../helpers/server.js';

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

/** A memory engine whose next history read waits until the test lets it go. */
class HeldReadEngine extends MemoryEngine {
  private hold: { reached: () => void; release: Promise<void> } | undefined;

  /** Holds the next read; resolves with the function that lets it go once the read has begun. */
  holdNextRead(): Promise<() => void> {
    return new Promise((reached) => {
      let release!: () => void;
      const released = new Promise<void>((r) => (release = r));
      this.hold = { reached: () => reached(release), release: released };
    });
  }

  override async read(channel: string, after: number, limit: number): Promise<ReadResult> {
    const hold = this.hold;
    this.hold = undefined;
    if (hold !== undefined) {
      hold.reached();
      await hold.release;
    }
    return super.read(channel, after, limit);
  }
}

describe('long polling: a client that leaves before its poll parks', () => {
  it('is not left parked: the poll ends with its client, not at its deadline', async () => {
    const config = configWith({ host: '127.0.0.1', port: 0, logLevel: 'silent' });
    const engine = new HeldReadEngine(historyLimits(config));
    const server = await startServer(config, { engine });
    const url = server.url;
    try {
      const channel = uniqueChannel('gone-before-park');
      const start = await request<PollAnswer>(url, `/v1/poll?channel=${channel}`);
      const parked = async () => Number(/^tidings_long_polls_parked (\d+)/m.exec((await request<string>(url, '/metrics')).body)?.[1]);
      const held = engine.holdNextRead();
      const { port } = new URL(url);
      const socket = connect(Number(port), '127.0.0.1');
      socket.on('error', () => {});
      socket.write(`GET /v1/poll?channel=${channel}&cursor=${start.body.cursor}&wait=30 HTTP/1.1\r\nHost: x\r\n\r\n`);
      const release = await within(held, 5000, 'the poll to read history');
      // The client leaves while the read is under way. Loopback shows the server its socket
      // closing within a few milliseconds; 300 ms leaves room for a loaded machine.
      socket.destroy();
      await delay(300);
      release();
      // Nothing to read, so the poll would park; with its client gone it must have ended instead.
      await waitForSubscribers(url, channel, 0);
      await waitFor(async () => (await parked()) === 0, 5000, 'no long poll parked');
    } finally {
      await server.close();
    }
  });
});
