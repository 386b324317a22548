import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configWith } from '../../src/config.js';
import type { LogLine } from '../../src/demo/deploy-log.js';
import type { Tick } from '../../src/demo/ticker.js';
import { MemoryEngine } from '../../src/engines/memory.js';
import { startServer } from '../../src/server.js';
import { delay, request, startTestServer, waitFor, type Envelope, type PollAnswer } from '../helpers/server.js';

const DEMO_CHANNELS = ['demo:ticker', 'demo:deploy', 'demo:score'];

describe('the demo feed (--demo)', () => {
  it('publishes the ticker, deploy log and score on demo: channels through the publish path, and stops on shutdown', async () => {
    const server = await startTestServer({ demo: true });
    try {
      assert.equal(server.demo?.running, true);
      const seen = new Map<string, Envelope[]>();
      let cursor = '';
      const query = () => DEMO_CHANNELS.map((c) => `channel=${c}`).join('&') + (cursor === '' ? '&last=0' : `&cursor=${cursor}`) + '&wait=2';
      await waitFor(
        async () => {
          const res = await request<PollAnswer>(server.url, `/v1/poll?${query()}`);
          assert.equal(res.status, 200);
          cursor = res.body.cursor;
          for (const m of res.body.messages) seen.set(m.channel, [...(seen.get(m.channel) ?? []), m]);
          return DEMO_CHANNELS.every((c) => (seen.get(c)?.length ?? 0) >= 2);
        },
        // The deploy log pauses between deploys (up to one 28 s slot of ticks): a run that
        // starts near a deploy's end waits for the next one.
        35_000,
        'two messages on each demo channel',
      );
      assert.deepEqual(seen.get('demo:ticker')!.map((m) => m.event), seen.get('demo:ticker')!.map(() => 'tick'));
      assert.ok(seen.get('demo:deploy')!.every((m) => m.event === 'log'));
      assert.ok(seen.get('demo:score')!.every((m) => m.event === 'ball'));
      // Counted like every other publish.
      const metrics = (await request(server.url, '/metrics')).body as unknown as string;
      const published = Number(/^tidings_messages_published_total (\d+)/m.exec(metrics)?.[1]);
      assert.ok(published >= 6, `published counter ${published}`);
    } finally {
      await server.close();
    }
    assert.equal(server.demo?.running, false, 'the timer stops on shutdown');
  });

  it('two servers on one engine, both with --demo, publish each message once', async () => {
    const engine = new MemoryEngine({ maxCount: 1000, maxAgeMs: 3_600_000, dedupeWindowMs: 300_000 });
    const config = configWith({ host: '127.0.0.1', port: 0, logLevel: 'silent', demo: true });
    const a = await startServer(config, { engine });
    await delay(400); // b's timer runs at another phase of the same ticks
    const b = await startServer(config, { engine });
    try {
      const history = async <T>(channel: string) =>
        ((await request<{ messages: Envelope[] }>(a.url, `/v1/channels/${channel}/messages?limit=1000`)).body.messages).map((m) => m.data as T);
      // A deploy may be in its pause between deploys when the test starts (within one 28 s slot).
      await waitFor(async () => (await history('demo:deploy')).length >= 4, 35_000, 'four deploy lines');
      const lines = await history<LogLine>('demo:deploy');
      const keys = lines.map((l) => `${l.deploy}#${l.line}`);
      assert.ok(lines.length >= 3, `deploy lines: ${keys.join(' ')}`);
      assert.equal(new Set(keys).size, keys.length, `no line twice: ${keys.join(' ')}`);
      for (let i = 1; i < lines.length; i++) {
        const [p, l] = [lines[i - 1]!, lines[i]!];
        assert.ok(l.deploy === p.deploy ? l.line === p.line + 1 : l.line === 1, `${keys[i - 1]} then ${keys[i]}`);
      }
      const ticks = await history<Tick>('demo:ticker');
      assert.ok(ticks.length >= 10);
      for (let i = 1; i < ticks.length; i++) assert.notEqual(ticks[i]!.sym, ticks[i - 1]!.sym, 'each tick once: symbols take turns');
    } finally {
      await b.close();
      await a.close();
    }
  });

  it('is off unless asked for', async () => {
    const server = await startTestServer();
    try {
      assert.equal(server.demo, undefined);
      const res = await request<{ last: number }>(server.url, '/v1/channels/demo:ticker');
      assert.equal(res.body.last, 0);
    } finally {
      await server.close();
    }
  });
});
