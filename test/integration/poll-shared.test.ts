import assert from 'node:assert/strict';
import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { TidingsServer } from '../../src/server.js';
import { offsets, publish, range, request, startTestServer, uniqueChannel, waitForSubscribers, within, type PollAnswer } from '../helpers/server.js';

interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** The request went out on a socket that had carried an earlier one. */
  reused: boolean;
}

/** One GET or HEAD on `agent`, the raw answer kept: headers and bytes exactly as sent. */
function rawGet(agent: Agent, url: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent, method: opts.method ?? 'GET', headers: opts.headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body, reused: req.reusedSocket }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('polls served together', () => {
  let server: TidingsServer;
  before(async () => (server = await startTestServer()));
  after(() => server.close());

  const cursorAtEnd = async (channel: string) => (await request<PollAnswer>(server.url, `/v1/poll?channel=${channel}`)).body.cursor;

  it('long polls parked at one position all get the same answer, and their keep-alive sockets carry the next poll', async () => {
    const channel = uniqueChannel('shared');
    const cursor = await cursorAtEnd(channel);
    const agent = new Agent({ keepAlive: true, maxSockets: 20 });
    try {
      const url = `${server.url}/v1/poll?channel=${channel}&cursor=${cursor}&wait=10`;
      const polls = range(1, 20).map(() => rawGet(agent, url));
      await waitForSubscribers(server.url, channel, 20);
      await publish(server.url, channel, { n: 1 });
      const answers = await within(Promise.all(polls), 5000, 'parked polls');
      for (const a of answers) {
        assert.equal(a.status, 200);
        assert.equal(a.body, answers[0]!.body, 'every poll got the same bytes');
        assert.equal(a.headers['content-type'], 'application/json; charset=utf-8');
        assert.equal(a.headers['cache-control'], 'no-store');
        assert.equal(Number(a.headers['content-length']), Buffer.byteLength(a.body));
        assert.ok(a.headers.date !== undefined && !Number.isNaN(Date.parse(a.headers.date)), 'a Date header');
      }
      const first = JSON.parse(answers[0]!.body) as PollAnswer;
      assert.deepEqual(offsets(first.messages), [1]);
      // The next poll of each client goes out on the socket the shared answer came on.
      const next = await Promise.all(range(1, 20).map(() => rawGet(agent, `${server.url}/v1/poll?channel=${channel}&cursor=${first.cursor}`)));
      for (const a of next) {
        assert.equal(a.status, 200);
        assert.ok(a.reused, 'the keep-alive socket was reused');
        assert.deepEqual((JSON.parse(a.body) as PollAnswer).messages, []);
      }
    } finally {
      agent.destroy();
    }
  });

  it('HEAD answers the head only, and a browser origin gets the CORS headers', async () => {
    const channel = uniqueChannel('head');
    await publish(server.url, channel, 'x');
    const cursor = (await request<PollAnswer>(server.url, `/v1/poll?channel=${channel}&last=1`)).body.cursor;
    await publish(server.url, channel, 'y');
    const agent = new Agent({ keepAlive: true });
    try {
      const url = `${server.url}/v1/poll?channel=${channel}&cursor=${cursor}&wait=5`;
      const head = await rawGet(agent, url, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.body, '');
      assert.ok(Number(head.headers['content-length']) > 0);
      const cors = await rawGet(agent, url, { headers: { origin: 'https://app.example' } });
      assert.equal(cors.headers['access-control-allow-origin'], '*');
      assert.deepEqual(
        (JSON.parse(cors.body) as PollAnswer).messages.map((m) => m.data),
        ['y'],
      );
    } finally {
      agent.destroy();
    }
  });

  it('pollers looping while messages pour in get every message once, in order', async () => {
    const channel = uniqueChannel('pour');
    const start = await cursorAtEnd(channel);
    const total = 300;
    const seen: number[][] = range(1, 12).map(() => []);
    const pollers = seen.map(async (got, i) => {
      let cursor = start;
      while (got.length < total) {
        // Half long polls, half short polls, on the same channel and often the same position.
        const wait = i % 2 === 0 ? '&wait=5' : '';
        const res = await request<PollAnswer>(server.url, `/v1/poll?channel=${channel}&cursor=${cursor}${wait}`);
        assert.equal(res.status, 200);
        got.push(...offsets(res.body.messages));
        cursor = res.body.cursor;
      }
    });
    for (let n = 1; n <= total; n++) await publish(server.url, channel, n);
    await within(Promise.all(pollers), 20_000, 'pollers');
    for (const got of seen) assert.deepEqual(got, range(1, total));
  });

  for (const several of [false, true]) {
    it(`while draining, a parked poll${several ? ' of several channels' : ''} answers with its cursor and Connection: close`, async () => {
      const own = await startTestServer();
      const channels = several ? [uniqueChannel('drain-a'), uniqueChannel('drain-b')] : [uniqueChannel('drain')];
      await publish(own.url, channels.at(-1)!, 'before');
      const query = channels.map((c) => `channel=${c}`).join('&');
      const cursor = (await request<PollAnswer>(own.url, `/v1/poll?${query}&last=1`)).body.cursor;
      const agent = new Agent({ keepAlive: true });
      try {
        const poll = rawGet(agent, `${own.url}/v1/poll?${query}&cursor=${cursor}&wait=30`);
        for (const channel of channels) await waitForSubscribers(own.url, channel, 1);
        const closing = own.close();
        const answer = await within(poll, 5000, 'drained poll');
        assert.equal(answer.status, 200);
        assert.equal(answer.headers.connection, 'close');
        assert.deepEqual(JSON.parse(answer.body), { messages: [], cursor });
        await closing;
      } finally {
        agent.destroy();
      }
    });
  }
});
