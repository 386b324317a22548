import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { spawnServer, type SpawnedServer } from '../helpers/cli.js';
import { RedisServer, skipWithoutRedis } from '../helpers/redis.js';
import { delay, range, request, uniqueChannel, waitFor, within, type Envelope } from '../helpers/server.js';
import { SseSubscriber, WsSubscriber, type Subscriber } from '../helpers/subscribers.js';

/**
 * Redis failing under running nodes: killed and restarted (AOF on, fsync always), and
 * paused longer than the command timeout. Publishes are refused with 503 in bounded time,
 * never acknowledged and lost; open subscribers stay connected and catch up.
 */

interface Attempt {
  n: number;
  status: number;
  ms: number;
}

/** One publish, timed; a network-level failure counts as status 0. */
async function tryPublish(url: string, channel: string, n: number): Promise<Attempt> {
  const started = Date.now();
  try {
    const res = await fetch(`${url}/v1/channels/${channel}/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ n }), signal: AbortSignal.timeout(10_000) });
    await res.text();
    return { n, status: res.status, ms: Date.now() - started };
  } catch {
    return { n, status: 0, ms: Date.now() - started };
  }
}

/** Publishes {n} every few ms, alternating between nodes, until stopped. */
function publisherLoop(urls: readonly string[], channel: string): { attempts: Attempt[]; stop(): Promise<void> } {
  const attempts: Attempt[] = [];
  let running = true;
  let n = 0;
  const loop = (async () => {
    while (running) {
      n++;
      attempts.push(await tryPublish(urls[n % urls.length]!, channel, n));
      await delay(10);
    }
  })();
  return {
    attempts,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

const healthz = (url: string) => request<{ status: string; reason?: string }>(url, '/healthz');

describe('Redis failing under running nodes', { skip: skipWithoutRedis }, () => {
  let redis: RedisServer | undefined;
  let nodes: SpawnedServer[] = [];
  const subs: Subscriber[] = [];

  before(async () => {
    redis = await RedisServer.start({ aof: true });
    const url = redis.url;
    nodes = await Promise.all([0, 1].map(() => spawnServer(['--engine', 'redis', '--redis-url', url, '--log-level', 'info'])));
  });
  after(async () => {
    await Promise.all(subs.map((s) => s.close()));
    await Promise.all(
      nodes.map(async (n) => {
        n.child.kill('SIGTERM');
        await within(n.exited, 10_000, 'exit').catch(() => n.child.kill('SIGKILL'));
      }),
    );
    await redis?.stop();
  });

  it('killed and restarted mid-stream: no acknowledged message lost, refused publishes were 503, subscribers catch up on the same connection', async () => {
    const urls = nodes.map((n) => n.url);
    const channel = uniqueChannel('restart');
    const sse = new SseSubscriber(urls[0]!);
    const ws = new WsSubscriber(urls[1]!);
    subs.push(sse, ws);
    await Promise.all([sse.subscribe({ channels: [channel] }), ws.subscribe({ channels: [channel] })]);
    const pub = publisherLoop(urls, channel);
    await waitFor(() => pub.attempts.filter((a) => a.status === 201).length >= 20, 5000, 'publishes before the crash');

    await redis!.kill();
    await waitFor(async () => (await healthz(urls[0]!)).status === 503, 3000, '/healthz 503 while Redis is down');
    const down = await healthz(urls[1]!);
    assert.equal(down.status, 503);
    assert.match(down.body.reason ?? '', /Redis/);
    await delay(1200);
    await redis!.run();
    await waitFor(async () => (await healthz(urls[0]!)).status === 200 && (await healthz(urls[1]!)).status === 200, 8000, '/healthz 200 once Redis is back');
    await waitFor(() => pub.attempts.filter((a) => a.status === 201).length >= 60, 8000, 'publishes after the restart');
    await pub.stop();

    const refused = pub.attempts.filter((a) => a.status !== 201);
    assert.ok(refused.length > 0, 'some publishes hit the outage');
    assert.deepEqual([...new Set(refused.map((a) => a.status))], [503], 'every refused publish was 503');
    assert.ok(refused.every((a) => a.ms < 2500), `refused within 2.5 s: ${JSON.stringify(refused.map((a) => a.ms))}`);

    const history = await request<{ messages: Envelope[]; last: number; epoch: string }>(urls[0]!, `/v1/channels/${channel}/messages?after=0&limit=1000`);
    const stored = history.body.messages.map((m) => (m.data as { n: number }).n);
    const acked = pub.attempts.filter((a) => a.status === 201).map((a) => a.n);
    for (const n of acked) assert.ok(stored.includes(n), `acknowledged message ${n} survived the Redis restart`);
    // Anything stored but not acknowledged was a publish cut off mid-answer, never invented.
    const tried = new Set(pub.attempts.map((a) => a.n));
    for (const n of stored) assert.ok(tried.has(n));
    assert.deepEqual(history.body.messages.map((m) => m.offset), range(1, history.body.last), 'offsets stayed one sequence');

    const last = history.body.last;
    await waitFor(() => [sse, ws].every((s) => s.messages.at(-1)?.offset === last), 10_000, 'open subscribers to catch up');
    for (const s of [sse, ws]) {
      assert.deepEqual(s.messages.map((m) => m.offset), range(1, last), `${s.name}: every message once, in order`);
      assert.deepEqual(s.gaps, []);
    }
    assert.equal(sse.opens, 1, 'the SSE stream stayed open through the outage');
    assert.equal(ws.closeCode, undefined, 'the WebSocket stayed open through the outage');
  });

  it('paused longer than the command timeout: publishes get 503 in time, are not published later, and work again once it resumes', async () => {
    const url = nodes[0]!.url;
    const channel = uniqueChannel('pause');
    assert.equal((await tryPublish(url, channel, 1)).status, 201);
    redis!.signal('SIGSTOP');
    let during: Attempt[];
    try {
      during = await Promise.all([2, 3, 4].map((n) => tryPublish(url, channel, n)));
      await waitFor(async () => (await healthz(url)).status === 503, 3000, '/healthz 503 while Redis is paused');
    } finally {
      redis!.signal('SIGCONT');
    }
    for (const a of during) {
      assert.equal(a.status, 503, `publish ${a.n} while paused`);
      assert.ok(a.ms < 2500, `publish ${a.n} answered after ${a.ms} ms`);
    }
    await waitFor(async () => (await tryPublish(url, channel, 5)).status === 201, 5000, 'publishing again after SIGCONT');
    // The refused publishes reached Redis only after the node gave up on them: none ran.
    const history = await request<{ messages: Envelope[] }>(url, `/v1/channels/${channel}/messages?after=0&limit=100`);
    assert.deepEqual(
      history.body.messages.map((m) => (m.data as { n: number }).n).filter((n) => n !== 5),
      [1],
      'a publish answered 503 is not published afterwards',
    );
  });
});
