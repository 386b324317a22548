import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { FLAP_MS } from '../src/client/connector.js';
import { Tidings } from '../src/client/node.js';
import type { TransportName } from '../src/client/types.js';
import { CuttableProxy } from '../test/helpers/proxy.js';
import { ms } from './lib/format.js';
import { freePort } from './lib/free-port.js';
import { Histogram } from './lib/histogram.js';
import { pinPrefix } from './lib/proc.js';
import { SYSTEMS } from './lib/systems.js';

/**
 * `npm run bench -- --scenario client`: the client SDK's own figures.
 * - The browser bundle, minified and min+gzip (zlib level 9), beside the anchors of
 *   issue #6 (measured the same way on their published ESM builds).
 * - Resume time per transport: a TCP relay between client and server cuts every
 *   connection; the time from the cut to the first message published after it reaching
 *   the client. It is mostly the reconnect backoff (defaults: full jitter over 0–500 ms
 *   for a first retry), plus the transport's own reconnect (and for short polling, the
 *   wait for the next poll).
 */
export const CLIENT_SCENARIO = 'client';

const DIST = join(dirname(fileURLToPath(import.meta.url)), '..');
const ANCHORS: [string, number][] = [
  ['socket.io-client 4 (ESM)', 12.9],
  ['@microsoft/signalr', 13.7],
  ['centrifuge-js', 23.1],
];

export function bundleSize(): { minified: number; gzip: number } {
  const body = readFileSync(join(DIST, 'public', 'client.js'));
  return { minified: body.length, gzip: gzipSync(body, { level: 9 }).length };
}

async function publish(url: string, channel: string, n: number): Promise<void> {
  const res = await fetch(`${url}/v1/channels/${channel}/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: String(n) });
  await res.text();
}

/** How one transport's resume is measured: drops, and how long the connection lives between them. */
interface DropPlan {
  drops: number;
  /** From a message's arrival to the next cut. */
  livedMs: number;
}

interface ResumeFigures {
  hist: Histogram;
  /** Published and never delivered, after a final wait. */
  lost: number;
  repeated: number;
}

/** Drops the client's connections `plan.drops` times; the histogram of cut → next message. */
async function resumeTimes(serverUrl: string, transport: TransportName, plan: DropPlan): Promise<ResumeFigures> {
  const proxy = await CuttableProxy.start(serverUrl);
  const client = new Tidings(proxy.url, { transports: [transport] });
  const channel = `resume-${transport}-${plan.livedMs}-${Date.now()}`;
  const seen: number[] = [];
  let notify: (() => void) | undefined;
  client.subscribe(channel, (m) => {
    seen.push(m.data as number);
    notify?.();
  });
  /** Resolves true when message `n` arrived, false after `ms`: a late message is not waited on forever. */
  const arrival = (n: number, ms: number) =>
    new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      notify = () => seen.includes(n) && (clearTimeout(timer), resolve(true));
      notify();
    });
  const hist = new Histogram();
  try {
    await new Promise<void>((resolve) => client.on('state', (s) => s.state === 'connected' && resolve()));
    let n = 0;
    await publish(serverUrl, channel, ++n);
    await arrival(n, 10_000);
    for (let i = 0; i < plan.drops; i++) {
      await new Promise((r) => setTimeout(r, plan.livedMs));
      proxy.cut();
      proxy.restore(); // a drop, not an outage: the client may reconnect at once
      const t0 = performance.now();
      await publish(serverUrl, channel, ++n);
      if (await arrival(n, 10_000)) hist.record(performance.now() - t0);
    }
    // Late is not lost: give the last ones time to come before counting what never did.
    for (let m = 1; m <= n; m++) if (!(await arrival(m, 15_000))) break;
    const lost = n - new Set(seen).size;
    return { hist, lost, repeated: seen.length - new Set(seen).size };
  } finally {
    client.close();
    await proxy.close();
  }
}

/** Runs the client figures, prints them as markdown, and writes `client-sdk.md` into `outDir`. */
export async function clientSdkBench(quick: boolean, outDir: string | undefined): Promise<string> {
  const size = bundleSize();
  const lines = [
    '## Client SDK',
    '',
    `Bundle \`/client.js\`: ${(size.minified / 1024).toFixed(1)} KB minified, **${(size.gzip / 1024).toFixed(1)} KB min+gzip** (budget 8 KB; ${ANCHORS.map(([n, kb]) => `${n} ${kb} KB`).join(', ')}).`,
    '',
    'Resume time: a relay cuts every connection of the client; the time until the next message published reaches it,',
    'with the default backoff. The four transports run side by side, each with its own client and relay.',
    '',
  ];
  const lasting: DropPlan = { drops: quick ? 2 : 8, livedMs: FLAP_MS + 500 };
  const flapping: DropPlan = { drops: quick ? 6 : 20, livedMs: 50 };
  const plans: [string, DropPlan][] = [
    [
      `**After a connection that lasted** (${lasting.drops} drops per transport, each after ${((FLAP_MS + 500) / 1000).toFixed(1)} s connected): the first retry waits a full-jitter backoff below the \`reconnectDelay\` option’s \`min\`.`,
      lasting,
    ],
    [
      `**Flapping** (${flapping.drops} drops per transport, each ${flapping.livedMs} ms after the last message arrived): a connection that ends within ${FLAP_MS / 1000} s of opening doesn’t reset the backoff, so it grows towards the \`reconnectDelay\` option’s \`max\`, by design (a server that accepts and drops at once is not hammered). "lost" is what never arrived, after a last wait.`,
      flapping,
    ],
  ];
  const port = await freePort();
  const def = SYSTEMS.tidings;
  const [cmd, ...args] = [...pinPrefix(0), process.execPath, def.script, ...def.args(port)];
  const child = spawn(cmd!, args, { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  try {
    for (let i = 0; ; i++) {
      const ok = await fetch(`${url}/healthz`).then((r) => r.ok, () => false);
      if (ok) break;
      if (i > 300) throw new Error('server did not start');
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const [title, plan] of plans) {
      const transports = ['ws', 'sse', 'long-poll', 'short-poll'] as const;
      const figures = await Promise.all(transports.map((t) => resumeTimes(url, t, plan)));
      lines.push(title, '', '| transport | p50 ms | p99 ms | max ms | lost | repeated |', '| --- | ---: | ---: | ---: | ---: | ---: |');
      transports.forEach((transport, i) => {
        const { hist, lost, repeated } = figures[i]!;
        lines.push(`| ${transport} | ${ms(hist.quantile(0.5))} | ${ms(hist.quantile(0.99))} | ${ms(hist.max)} | ${lost} | ${repeated} |`);
      });
      lines.push('');
    }
  } finally {
    child.kill('SIGKILL');
  }
  const text = `${lines.join('\n')}\n`;
  process.stdout.write(`\n${text}`);
  if (outDir !== undefined) {
    mkdirSync(outDir, { recursive: true });
    writeFileSync(join(outDir, 'client-sdk.md'), text);
  }
  return text;
}
