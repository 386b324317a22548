import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { SETTINGS } from '../../src/config.js';
import { CLI, spawnServer } from '../helpers/cli.js';
import { RawSse } from '../helpers/sse-raw.js';
import { publish, request, uniqueChannel, waitFor, waitForSubscribers, within } from '../helpers/server.js';
import { WsSubscriber } from '../helpers/subscribers.js';
import { SilentWsPeer } from '../helpers/ws-raw.js';
import { CuttableProxy } from '../helpers/proxy.js';
import { RedisServer, skipWithoutRedis } from '../helpers/redis.js';

describe('graceful shutdown of the real CLI on SIGTERM', () => {
  it('answers parked long polls, says goodbye on SSE and WebSocket, turns /healthz 503, exits 0', async () => {
    const { child, url, logs, exited } = await spawnServer(['--shutdown-timeout', '5s', '--log-level', 'info']);
    let sse: RawSse | undefined;
    const ws = new WsSubscriber(url);
    let probing = true;
    try {
      const channel = uniqueChannel('bye');
      await publish(url, channel, 'before');
      const start = await request<{ cursor: string }>(url, `/v1/poll?channel=${channel}`);
      let longPollAnsweredAt = 0;
      const longPoll = request<{ messages: unknown[]; cursor: string }>(url, `/v1/poll?channel=${channel}&cursor=${start.body.cursor}&wait=30`).then((res) => {
        longPollAnsweredAt = Date.now();
        return res;
      });
      sse = await RawSse.open(`${url}/v1/events?channel=${channel}`);
      await ws.subscribe({ channels: [channel] });
      await waitForSubscribers(url, channel, 3);
      assert.equal((await request(url, '/healthz')).status, 200);

      // Probe /healthz all through the shutdown; answers to probes sent once the long poll
      // was released (draining had begun) must not be 200.
      const probes: { sentAt: number; status: number }[] = [];
      const prober = (async () => {
        while (probing) {
          const sentAt = Date.now();
          const status = await request(url, '/healthz').then(
            (r) => r.status,
            () => 0,
          );
          probes.push({ sentAt, status });
          await new Promise((r) => setTimeout(r, 5));
        }
      })();

      child.kill('SIGTERM');
      const answer = await within(longPoll, 5000, 'the parked long poll to answer');
      assert.equal(answer.status, 200);
      assert.deepEqual(answer.body.messages, []);
      assert.equal(typeof answer.body.cursor, 'string');
      assert.equal(answer.body.cursor, start.body.cursor, 'the cursor it holds is where it stood');

      await waitFor(() => sse!.ended, 5000, 'SSE stream to end');
      const closeEvent = sse.events().find((e) => e.event === 'close');
      assert.ok(closeEvent !== undefined, `event: close was sent (got ${JSON.stringify(sse.text.slice(-200))})`);
      assert.equal((JSON.parse(closeEvent.data!) as { reason: string }).reason, 'shutdown');

      await waitFor(() => ws.closeCode !== undefined, 5000, 'WebSocket close');
      assert.equal(ws.closeCode, 1001);

      const code = await within(exited, 8000, 'process exit');
      probing = false;
      await prober;
      assert.equal(code, 0);
      const late = probes.filter((p) => p.sentAt > longPollAnsweredAt);
      assert.ok(
        late.every((p) => p.status === 503 || p.status === 0),
        `healthz during drain: ${JSON.stringify(late.map((p) => p.status))}`,
      );
      assert.ok(logs.some((l) => l.msg === 'stopped'), 'logged stopped');
    } finally {
      probing = false;
      sse?.close();
      await ws.close();
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });


  it('a WebSocket peer that never answers the close frame is cut after a short grace: the exit does not wait for --shutdown-timeout', async () => {
    const { child, url, logs, exited } = await spawnServer(['--shutdown-timeout', '30s', '--log-level', 'info']);
    let peer: SilentWsPeer | undefined;
    try {
      peer = await SilentWsPeer.open(url);
      const channel = uniqueChannel('silent');
      peer.sendText(JSON.stringify({ type: 'subscribe', channel }));
      await waitForSubscribers(url, channel, 1);
      child.kill('SIGTERM');
      // ws alone waits 30 s for the peer's answer, as long as the shutdown timeout here.
      const code = await within(exited, 15_000, 'process exit well before --shutdown-timeout');
      assert.equal(code, 0);
      assert.equal(peer.closeCode(), 1001, 'it was sent the goodbye');
      // An exit before the timeout means the listener closed, which waits for every socket:
      // the server cut this one.
      assert.ok(logs.some((l) => l.msg === 'stopped'), 'logged stopped');
      await within(peer.closed, 5000, 'the silent peer sees its socket closed');
    } finally {
      peer?.destroy();
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('the same signal again while draining exits at once (a second Ctrl-C); another signal for the same stop is no reason to', async () => {
    // A silent WebSocket peer holds the drain about 2 s (the close grace): time to signal again.
    const drainWithPeer = async (second: NodeJS.Signals) => {
      const server = await spawnServer(['--shutdown-timeout', '30s', '--log-level', 'info']);
      const peer = await SilentWsPeer.open(server.url);
      try {
        const channel = uniqueChannel('again');
        peer.sendText(JSON.stringify({ type: 'subscribe', channel }));
        await waitForSubscribers(server.url, channel, 1);
        server.child.kill('SIGINT');
        await waitFor(() => server.logs.some((l) => l.msg === 'shutting down'), 10_000, 'the drain to begin');
        server.child.kill(second);
        return { code: await within(server.exited, 20_000, 'exit'), server };
      } finally {
        peer.destroy();
        if (server.child.exitCode === null) server.child.kill('SIGKILL');
      }
    };
    const again = await drainWithPeer('SIGINT');
    assert.equal(again.code, 1);
    assert.match(again.server.stderr, /SIGINT again while stopping: exiting now/);
    assert.ok(!again.server.logs.some((l) => l.msg === 'stopped'), 'it did not wait for the drain');

    // A --workers worker gets the terminal's SIGINT and then the primary's SIGTERM.
    const other = await drainWithPeer('SIGTERM');
    assert.equal(other.code, 0);
    assert.ok(other.server.logs.some((l) => l.msg === 'stopped'), 'drained to the end');
  });

  it('a SIGTERM while the server is still starting (waiting for Redis) stops it cleanly once started: exit 0, not killed half-made', { skip: skipWithoutRedis }, async () => {
    const redis = await RedisServer.start();
    // Through a relay, to see the server's first connection to Redis: by then it is starting.
    const relay = await CuttableProxy.start(redis.url.replace(/^redis:/, 'http:'));
    let child: ReturnType<typeof spawn> | undefined;
    try {
      redis.signal('SIGSTOP');
      const port = new URL(relay.url).port;
      child = spawn(process.execPath, [CLI, 'serve', '--host', '127.0.0.1', '--port', '0', '--engine', 'redis', '--redis-url', `redis://127.0.0.1:${port}/0`, '--log-level', 'info'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout!.on('data', (d) => (out += d));
      const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child!.once('close', (code, signal) => resolve([code, signal])));
      await waitFor(() => relay.connections > 0, 15_000, 'the server connecting to Redis');
      child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 300));
      redis.signal('SIGCONT');
      const [code, signal] = await within(exited, 20_000, 'exit');
      assert.deepEqual([code, signal], [0, null]);
      assert.match(out, /"msg":"tidings listening"/, 'it finished starting');
      assert.match(out, /"msg":"stopped"/, 'and then shut down gracefully');
    } finally {
      redis.signal('SIGCONT');
      if (child?.exitCode === null) child.kill('SIGKILL');
      await relay.close();
      await redis.stop();
    }
  });
});

describe('tidings serve flags', () => {
  const BAD: Record<string, string> = { string: '', secret: '', port: '70000', count: 'many', duration: 'soon', size: 'huge', list: ',', url: 'not a url', workers: '0' };

  it('every flag with a bad value stops the CLI with exit code 2 and a message naming that flag', async () => {
    // Four CLIs at a time: one per setting at once starves a busy two-core machine.
    const results: { flag: string; code: number | null; stderr: string }[] = [];
    // A boolean flag takes no value (--web / --no-web): its bad values come from the env var (below).
    const valued = SETTINGS.filter((s) => s.kind !== 'boolean');
    const queue = [...valued];
    const worker = async () => {
      for (let s = queue.shift(); s !== undefined; s = queue.shift()) results.push(await runOne(s));
    };
    const runOne = async (s: (typeof SETTINGS)[number]) => {
      const value = BAD[s.kind];
      assert.ok(value !== undefined, `a bad value for kind ${s.kind}`);
      const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', s.flag, value], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (d) => (stderr += d));
      const code = await within(new Promise<number | null>((resolve) => child.once('close', resolve)), 30_000, `exit for ${s.flag}`).finally(() => {
        if (child.exitCode === null) child.kill('SIGKILL');
      });
      return { flag: s.flag, code, stderr };
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    assert.equal(results.length, valued.length);
    for (const { flag, code, stderr } of results) {
      assert.equal(code, 2, `${flag}: exit code (stderr: ${stderr.trim()})`);
      assert.ok(stderr.includes(flag), `${flag} is named in: ${stderr.trim()}`);
    }
  });

  it('a boolean setting with a bad env value stops the CLI with exit code 2 naming the env var', async () => {
    for (const s of SETTINGS.filter((x) => x.kind === 'boolean')) {
      const child = spawn(process.execPath, [CLI, 'serve', '--port', '0'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, [s.env]: 'maybe' } });
      let stderr = '';
      child.stderr!.on('data', (d) => (stderr += d));
      const code = await within(new Promise<number | null>((resolve) => child.once('close', resolve)), 15_000, `exit for ${s.env}`).finally(() => {
        if (child.exitCode === null) child.kill('SIGKILL');
      });
      assert.equal(code, 2, `${s.env}: exit code (stderr: ${stderr.trim()})`);
      assert.match(stderr, new RegExp(`${s.env}: "maybe" is not a boolean`));
    }
  });

  it('boolean flags take effect: --no-web hides the pages, --demo runs the demo feed, the last of a pair wins', async () => {
    const { child, url, logs, exited } = await spawnServer(['--no-web', '--demo', '--no-demo', '--demo', '--log-level', 'info']);
    try {
      assert.equal((await request(url, '/')).status, 404);
      assert.equal((await request(url, '/client.js')).status, 200);
      await waitFor(async () => ((await request<{ last: number }>(url, '/v1/channels/demo:ticker')).body.last ?? 0) > 0, 5000, 'a demo tick');
      assert.ok(logs.some((l) => l.msg === 'demo feed running'));
      assert.ok(!logs.some((l) => l.msg === 'transport lab and sample apps'), 'no lab announced with --no-web');
    } finally {
      child.kill('SIGTERM');
      assert.equal(await within(exited, 8000, 'exit'), 0);
    }
  });

  it('exits 0 on SIGTERM when the reader of its stdout has gone (a log pipe closed under it), instead of hanging at exit', async () => {
    const { child, url, exited } = await spawnServer(['--shutdown-timeout', '5s', '--log-level', 'info']);
    try {
      const channel = uniqueChannel('pipe');
      const start = await request<{ cursor: string }>(url, `/v1/poll?channel=${channel}`);
      const polls = Array.from({ length: 20 }, () => request(url, `/v1/poll?channel=${channel}&cursor=${start.body.cursor}&wait=30`).catch(() => undefined));
      await waitForSubscribers(url, channel, 20);
      // The log's reader goes away: every later write to stdout fails with EPIPE.
      child.stdout!.destroy();
      child.kill('SIGTERM');
      await Promise.all(polls);
      assert.equal(await within(exited, 10_000, 'exit with its stdout gone'), 0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('flags take effect (--sse-retry, --heartbeat)', async () => {
    const { child, url, exited } = await spawnServer(['--sse-retry', '777ms', '--heartbeat', '100ms', '--log-level', 'info']);
    const sse = await RawSse.open(`${url}/v1/events?channel=flags`);
    try {
      await waitFor(() => sse.blocks().some((b) => b.comments.includes('ping')), 3000, 'a ping within 3 s at --heartbeat 100ms');
      assert.match(sse.text, /^retry: 777\n/);
    } finally {
      sse.close();
      child.kill('SIGTERM');
      assert.equal(await within(exited, 8000, 'exit'), 0);
    }
  });
});
