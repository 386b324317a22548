import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { spawnServer, type SpawnedServer } from '../helpers/cli.js';
import { RedisServer, skipWithoutRedis } from '../helpers/redis.js';
import { delay, publish, range, request, uniqueChannel, waitFor, waitForSubscribers, within, type Envelope } from '../helpers/server.js';
import { PollSubscriber, SseSubscriber, WsSubscriber, transportCases, type Subscriber } from '../helpers/subscribers.js';

/**
 * Three `tidings serve --engine redis` processes on one private redis-server: any node
 * answers any request, for every transport, with no sticky sessions.
 */

async function startNodes(redisUrl: string, count: number): Promise<SpawnedServer[]> {
  return Promise.all(Array.from({ length: count }, () => spawnServer(['--engine', 'redis', '--redis-url', redisUrl, '--log-level', 'info'])));
}

function stopNodes(nodes: readonly SpawnedServer[]): Promise<unknown> {
  return Promise.all(
    nodes.map(async (n) => {
      if (n.child.exitCode !== null || n.child.signalCode !== null) return;
      n.child.kill('SIGTERM');
      await within(n.exited, 10_000, 'node exit').catch(() => n.child.kill('SIGKILL'));
    }),
  );
}

/** The data values a subscriber saw, in order. */
const dataOf = (messages: readonly Envelope[]) => messages.map((m) => (m.data as { n: number }).n);

/** A subscriber's messages over its life and its successors' on other nodes. */
function allMessages(subs: readonly Subscriber[]): Envelope[] {
  return subs.flatMap((s) => s.messages);
}

/** Where a subscriber stands, as a cursor another node will take. */
function cursorOf(sub: Subscriber): string {
  const cursor = sub.cursor;
  assert.ok(cursor !== undefined, `${sub.name} has a cursor`);
  return cursor;
}

describe('many nodes on one Redis', { skip: skipWithoutRedis }, () => {
  let redis: RedisServer | undefined;
  let nodes: SpawnedServer[] = [];
  const closers: (() => Promise<unknown>)[] = [];

  before(async () => {
    redis = await RedisServer.start();
    nodes = await startNodes(redis.url, 3);
    closers.push(() => stopNodes(nodes));
  });
  after(async () => {
    for (const close of closers) await close().catch(() => undefined);
    await stopNodes(nodes);
    await redis?.stop();
  });

  it('publishers and subscribers on every transport spread over all nodes: everyone gets every message once, in one order', async () => {
    const channel = uniqueChannel('fan');
    const subs: Subscriber[] = [];
    for (const node of nodes) for (const t of transportCases) subs.push(t.make(node.url));
    closers.push(() => Promise.all(subs.map((s) => s.close())));
    await Promise.all(subs.map((s) => s.subscribe({ channels: [channel] })));
    const total = 45;
    // Three publishers, one per node, at once: the order is the engine's, the same for all.
    await Promise.all(
      nodes.map(async (node, k) => {
        for (let i = 0; i < total / nodes.length; i++) await publish(node.url, channel, { n: k * 100 + i });
      }),
    );
    await waitFor(() => subs.every((s) => s.messages.length >= total), 15_000, 'every subscriber to get every message');
    await delay(100);
    const order = dataOf(subs[0]!.messages);
    for (const s of subs) {
      assert.deepEqual(s.messages.map((m) => m.offset), range(1, total), `${s.name}: offsets 1..${total}, once each`);
      assert.deepEqual(dataOf(s.messages), order, `${s.name}: the same order as everyone else`);
      assert.deepEqual(s.gaps, []);
    }
  });

  it('channel info counts subscribers on every node', async () => {
    const channel = uniqueChannel('presence');
    const subs = [new SseSubscriber(nodes[0]!.url), new WsSubscriber(nodes[1]!.url), new WsSubscriber(nodes[2]!.url), new SseSubscriber(nodes[2]!.url)];
    closers.push(() => Promise.all(subs.map((s) => s.close())));
    await Promise.all(subs.map((s) => s.subscribe({ channels: [channel] })));
    for (const node of nodes) await waitForSubscribers(node.url, channel, 4, 8000);
    await subs[1]!.close();
    await waitForSubscribers(nodes[0]!.url, channel, 3, 8000);
  });

  it('a cursor from node A works for a long poll on node B and an SSE resume on node C', async () => {
    const [a, b, c] = nodes as [SpawnedServer, SpawnedServer, SpawnedServer];
    const channel = uniqueChannel('cursor');
    await publish(a.url, channel, { n: 1 });
    await publish(b.url, channel, { n: 2 });
    const fromA = await request<{ messages: Envelope[]; cursor: string }>(a.url, `/v1/poll?channel=${channel}&last=10`);
    assert.deepEqual(dataOf(fromA.body.messages), [1, 2]);
    const cursor = fromA.body.cursor;

    const longPoll = request<{ messages: Envelope[]; cursor: string }>(b.url, `/v1/poll?channel=${channel}&cursor=${cursor}&wait=10`);
    await delay(200);
    await publish(c.url, channel, { n: 3 });
    const answer = await within(longPoll, 5000, 'the long poll on B');
    assert.deepEqual(dataOf(answer.body.messages), [3]);

    const sse = new SseSubscriber(c.url);
    closers.push(() => sse.close());
    await sse.subscribe({ channels: [channel], cursor });
    await waitFor(() => sse.messages.length === 1, 5000, 'SSE on C to replay from the cursor of A');
    await publish(a.url, channel, { n: 4 });
    await waitFor(() => sse.messages.length === 2, 5000, 'SSE on C to get the live message');
    assert.deepEqual(dataOf(sse.messages), [3, 4]);
    assert.deepEqual(sse.gaps, []);
  });

  it('a node killed with SIGKILL mid-stream: its clients resume on another node with nothing lost, and its acknowledged publishes stay', async () => {
    const victim = await spawnServer(['--engine', 'redis', '--redis-url', redis!.url, '--log-level', 'info']);
    const [a, b] = nodes as [SpawnedServer, SpawnedServer];
    const channel = uniqueChannel('crash');
    const onVictim: Subscriber[] = [new SseSubscriber(victim.url), new WsSubscriber(victim.url), new PollSubscriber(victim.url, 'long-poll')];
    const successors: Subscriber[] = [];
    closers.push(() => Promise.all([...onVictim, ...successors].map((s) => s.close())));
    await Promise.all(onVictim.map((s) => s.subscribe({ channels: [channel] })));

    // Two publishers: one through the victim (its acknowledged messages must survive it),
    // one through node A that keeps going.
    const acked: number[] = [];
    let n = 0;
    let publishing = true;
    const viaVictim = (async () => {
      while (publishing) {
        const mine = ++n;
        try {
          await publish(victim.url, channel, { n: mine });
          acked.push(mine);
        } catch {
          return; // the victim is gone
        }
      }
    })();
    const viaA = (async () => {
      while (publishing) {
        const mine = ++n;
        await publish(a.url, channel, { n: mine });
        acked.push(mine);
        await delay(5);
      }
    })();
    await waitFor(() => onVictim.every((s) => s.messages.length >= 5), 5000, 'traffic before the crash');
    victim.child.kill('SIGKILL');
    await victim.exited;
    await viaVictim;
    for (const s of onVictim) {
      await s.drop();
      const next = s.name === 'sse' ? new SseSubscriber(b.url) : s.name === 'ws' ? new WsSubscriber(b.url) : new PollSubscriber(b.url, 'long-poll');
      successors.push(next);
      await next.subscribe({ channels: [channel], cursor: cursorOf(s) });
    }
    await delay(300);
    publishing = false;
    await viaA;

    const history = await request<{ messages: Envelope[]; last: number }>(a.url, `/v1/channels/${channel}/messages?after=0&limit=1000`);
    const stored = new Set(dataOf(history.body.messages));
    for (const m of acked) assert.ok(stored.has(m), `acknowledged message ${m} is in the history`);
    const last = history.body.last;
    await waitFor(() => successors.every((s, i) => allMessages([onVictim[i]!, s]).at(-1)?.offset === last), 10_000, 'the resumed clients to reach the end');
    successors.forEach((s, i) => {
      const seen = allMessages([onVictim[i]!, s]);
      assert.deepEqual(seen.map((m) => m.offset), range(1, last), `${s.name}: every offset once, in order, across the two nodes`);
      assert.deepEqual(seen.map((m) => m.data), history.body.messages.map((m) => m.data));
    });
  });
});
