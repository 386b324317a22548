import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { TidingsServer } from '../../src/server.js';
import { CuttableProxy } from '../helpers/proxy.js';
import { TRANSPORTS } from '../helpers/sdk.js';
import { publishSeries, range, startTestServer, uniqueChannel, waitFor } from '../helpers/server.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

interface Run {
  stdout: string;
  stderr: string;
  code: Promise<number | null>;
}

function cli(args: string[], stdin?: string): Run {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const run: Run = { stdout: '', stderr: '', code: new Promise((resolve) => child.on('close', resolve)) };
  child.stdout.on('data', (d: Buffer) => (run.stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (run.stderr += d.toString()));
  child.stdin.end(stdin);
  return run;
}

const lines = (text: string) => text.split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as { offset: number; data: unknown });

describe('tidings subscribe / publish (the CLI on the SDK)', () => {
  let server: TidingsServer;
  before(async () => (server = await startTestServer()));
  after(() => server.close());

  it('subscribe --transport X prints one JSON line per message on every transport; publish - reads stdin', async () => {
    const ch = uniqueChannel('cli');
    await publishSeries(server.url, ch, 2);
    const subs = TRANSPORTS.map((t) => ({ t, run: cli(['subscribe', ch, '--transport', t, '--last', '2', '--count', '4', '--url', server.url]) }));
    // Each has printed its last 2, so each has fixed its start before offset 3 is published.
    await waitFor(() => subs.every(({ run }) => lines(run.stdout).length >= 2), 15_000, 'each CLI printed its last 2');
    const pub = cli(['publish', ch, '-', '--url', server.url], '{"from":"stdin"}\n');
    assert.equal(await pub.code, 0, pub.stderr);
    assert.equal(lines(pub.stdout)[0]!.offset, 3);
    const many = cli(['publish', ch, '-', '--lines', '--text', '--url', server.url], 'one\ntwo\n');
    assert.equal(await many.code, 0, many.stderr);
    for (const { t, run } of subs) {
      assert.equal(await run.code, 0, `${t}: ${run.stderr}`);
      const got = lines(run.stdout);
      assert.deepEqual(got.map((m) => m.offset), [1, 2, 3, 4], t);
      assert.deepEqual(got[2]!.data, { from: 'stdin' });
      assert.equal(got[3]!.data, 'one');
    }
  });

  it('subscribe resumes across dropped connections with nothing lost or repeated', async () => {
    const ch = uniqueChannel('cli-drop');
    const proxy = await CuttableProxy.start(server.url);
    const run = cli(['subscribe', ch, '--transport', 'ws', '--count', '10', '--url', proxy.url]);
    try {
      await waitFor(async () => (await fetch(`${server.url}/v1/channels/${ch}`).then((r) => r.json() as Promise<{ subscribers: number }>)).subscribers === 1, 8000, 'subscribed');
      await publishSeries(server.url, ch, 4);
      await waitFor(() => lines(run.stdout).length === 4, 5000, 'first 4');
      proxy.cut();
      await publishSeries(server.url, ch, 6, 5);
      proxy.restore();
      assert.equal(await run.code, 0, run.stderr);
      assert.deepEqual(lines(run.stdout).map((m) => m.offset), range(1, 10));
    } finally {
      await proxy.close();
    }
  });

  it('bad input is one line on stderr and exit 1', async () => {
    const bad = cli(['publish', 'x', 'not json', '--url', server.url]);
    assert.equal(await bad.code, 1);
    assert.match(bad.stderr, /^tidings: DATA is not valid JSON/);
    const transport = cli(['subscribe', 'x', '--transport', 'smoke', '--url', server.url]);
    assert.equal(await transport.code, 1);
    assert.match(transport.stderr, /^tidings: --transport smoke is not one of/);
    const channel = cli(['subscribe', 'bad name!', '--url', server.url]);
    assert.equal(await channel.code, 1);
    assert.match(channel.stderr, /invalid_channel/);
    assert.equal(channel.stderr.trim().split('\n').length, 1);
  });
});
