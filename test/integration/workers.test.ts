import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { CLI, spawnServer, type SpawnedServer } from '../helpers/cli.js';
import { RedisServer, skipWithoutRedis } from '../helpers/redis.js';
import { channelInfo, publish, uniqueChannel, waitFor, within } from '../helpers/server.js';
import { SseSubscriber } from '../helpers/subscribers.js';

/** pids of the workers that logged 'tidings listening', in order. */
const listeningPids = (s: SpawnedServer) => s.logs.filter((l) => l.msg === 'tidings listening').map((l) => l.pid as number);

describe('tidings serve --workers', () => {
  it('with the memory engine more than one worker is refused: one line, exit 2', async () => {
    const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--workers', '2'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const code = await within(new Promise((resolve) => child.once('close', resolve)), 20_000, 'exit');
    assert.equal(code, 2);
    assert.match(stderr.trim(), /^tidings: --workers 2 needs --engine redis/);
    assert.equal(stderr.trim().split('\n').length, 1);
  });

  describe('on Redis', { skip: skipWithoutRedis }, () => {
    let redis: RedisServer | undefined;
    before(async () => {
      redis = await RedisServer.start();
    });
    after(async () => redis?.stop());

    it('runs N workers on one port, restarts one that dies, and SIGTERM drains them all', async () => {
      const server = await spawnServer(['--engine', 'redis', '--redis-url', redis!.url, '--workers', '2', '--log-level', 'info']);
      try {
        await waitFor(() => listeningPids(server).length === 2, 20_000, 'two workers listening');
        const ports = new Set(server.logs.filter((l) => l.msg === 'tidings listening').map((l) => l.port));
        assert.equal(ports.size, 1, 'one shared port');
        const [first, second] = listeningPids(server) as [number, number];
        assert.notEqual(first, second);
        assert.ok(![first, second].includes(server.child.pid!), 'the primary serves nothing itself');

        const channel = uniqueChannel('workers');
        const subs = Array.from({ length: 4 }, () => new SseSubscriber(server.url));
        await Promise.all(subs.map((s) => s.subscribe({ channels: [channel] })));
        await waitFor(async () => (await channelInfo(server.url, channel)).subscribers === 4, 8000, 'four subscribers counted over both workers');
        for (let n = 1; n <= 5; n++) await publish(server.url, channel, { n });
        await waitFor(() => subs.every((s) => s.messages.length === 5), 5000, 'every subscriber to get every message');
        for (const s of subs) s.close();

        process.kill(first, 'SIGKILL');
        await waitFor(() => listeningPids(server).length === 3, 20_000, 'a replacement worker');
        assert.ok(server.logs.some((l) => l.msg === 'worker died; starting another'));
        await publish(server.url, channel, { n: 6 });

        server.child.kill('SIGTERM');
        const code = await within(server.exited, 20_000, 'the primary to exit');
        assert.equal(code, 0, `the primary exited ${code}; its and the workers' warnings and errors:\n${server.logs.filter((l) => (l.level as number) >= 40).map((l) => JSON.stringify(l)).join('\n')}\n${server.stderr}`);
        assert.equal(server.logs.filter((l) => l.msg === 'stopped').length, 2, 'both live workers shut down gracefully');
      } finally {
        if (server.child.exitCode === null) server.child.kill('SIGKILL');
      }
    });

    it('exits 1 with a one-line reason when no worker can start', async () => {
      const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--engine', 'redis', '--redis-url', 'redis://127.0.0.1:1/0', '--workers', '2', '--log-level', 'silent'], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr!.on('data', (d) => (stderr += d));
      assert.equal(await within(new Promise((resolve) => child.once('close', resolve)), 20_000, 'exit'), 1);
      assert.match(stderr, /cannot start the redis engine/);
      assert.match(stderr, /the workers failed to start/);
    });
  });
});
