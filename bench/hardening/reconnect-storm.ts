#!/usr/bin/env node
/**
 * `npm run reconnect-storm`: 20,000 SDK subscribers, half WebSocket and half SSE, on one
 * Tidings server on 127.0.0.1; the server restarts (same port) while a publisher keeps
 * publishing, and every client comes back with the SDK's backoff (full jitter) and resumes
 * by cursor. Reports the time until all are back, the server's peak RSS and event-loop
 * delay, and what was lost or repeated.
 *
 *   npm run reconnect-storm -- --subscribers 2000 --out /tmp/rs
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { Agent, request } from 'node:http';
import type { ClientsCommand, ClientsStatus } from './reconnect-clients.js';
import { conditions, DEFAULT_OUT, mb, percentile, writeSection } from './lib/results.js';
import { freePort } from '../lib/free-port.js';
import { DIST, ServerProcess, sleep } from './lib/server-process.js';
import { cpuSeconds, withFdLimit } from '../lib/proc.js';
import { table } from '../lib/format.js';

const program = new Command()
  .name('npm run reconnect-storm --')
  .option('--subscribers <n>', 'subscribers in all, half WebSocket and half SSE', '20000')
  .option('--processes <n>', 'client processes they are spread over', '4')
  .option('--channels <n>', 'channels (each subscriber takes one)', '20')
  .option('--rate <n>', 'messages published per second, all through the restart', '10')
  .option('--out <dir>', 'where hardening.md and hardening/reconnect-storm.json go', DEFAULT_OUT)
  .option('--label <name>', 'a second section beside the full-size one: reconnect-storm-<name>')
  .showHelpAfterError();
program.parse(process.argv);
const o = program.opts<{ subscribers: string; processes: string; channels: string; rate: string; out: string; label?: string }>();
const ASKED = Number(o.subscribers);
const PROCESSES = Number(o.processes);
const CHANNELS = Number(o.channels);
const RATE = Number(o.rate);
if (!(ASKED >= 2 && ASKED <= 100_000) || !(PROCESSES >= 1 && PROCESSES <= 16) || !(CHANNELS >= 1 && CHANNELS <= 1000) || !(RATE > 0 && RATE <= 1000)) {
  process.stderr.write('reconnect-storm: --subscribers 2..100000, --processes 1..16, --channels 1..1000, --rate 0..1000\n');
  process.exit(2);
}

/** The most open files a process here may have (the hard limit a child can raise itself to). */
function hardFdLimit(): number {
  try {
    const v = execFileSync('bash', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim();
    return v === 'unlimited' ? 1_048_576 : Number(v);
  } catch {
    return 1024;
  }
}

/** Every core for this process (and so for its children), whatever affinity it was started with. */
function unpinSelf(): void {
  try {
    execFileSync('taskset', ['-p', '-a', '-c', `0-${cpus().length - 1}`, String(process.pid)], { stdio: 'ignore' });
  } catch {
    // no taskset: nothing was pinned by us either
  }
}

const log = (s: string) => process.stderr.write(`reconnect-storm: ${s}\n`);

/**
 * The kernel's count of connections dropped because a listener's accept queue was full
 * (TcpExt ListenOverflows, system-wide): a client whose SYN is dropped retries after 1, 3,
 * 7, 15 … s, which is what makes a reconnect storm's tail long.
 */
function listenOverflows(): number | undefined {
  try {
    const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n').filter((l) => l.startsWith('TcpExt:'));
    const names = lines[0]!.split(' ');
    const values = lines[1]!.split(' ');
    const i = names.indexOf('ListenOverflows');
    return i < 0 ? undefined : Number(values[i]);
  } catch {
    return undefined;
  }
}

/** One client process, spoken to over IPC. */
class ClientProcess {
  readonly child: ChildProcess;
  private waiters: ((m: { ev: string }) => void)[] = [];
  exitCode: number | null | undefined;

  constructor() {
    const script = join(DIST, 'bench', 'hardening', 'reconnect-clients.js');
    // Not pinned: 20,000 SDK clients need more than the one core the bench gives its load generator.
    const [cmd, args] = withFdLimit([process.execPath, '--max-old-space-size=4096', script]);
    this.child = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (m) => {
      const w = this.waiters.shift();
      w?.(m as { ev: string });
    });
    this.child.on('exit', (code) => (this.exitCode = code));
  }

  ask<T>(cmd: ClientsCommand, timeoutMs = 60_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`client process gave no answer to ${cmd.cmd} in ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push((m) => {
        clearTimeout(timer);
        resolve(m as T);
      });
      this.child.send(cmd);
    });
  }
}

function sum(statuses: ClientsStatus[]): ClientsStatus {
  const s = statuses.reduce(
    (a, b) => ({
      ...a,
      total: a.total + b.total,
      connected: a.connected + b.connected,
      backSinceMark: a.backSinceMark + b.backSinceMark,
      lastBackAt: a.lastBackAt === undefined || b.lastBackAt === undefined ? undefined : Math.max(a.lastBackAt, b.lastBackAt),
      delivered: a.delivered + b.delivered,
      lost: a.lost + b.lost,
      duplicates: a.duplicates + b.duplicates,
      gaps: a.gaps + b.gaps,
      epochChanges: a.epochChanges + b.epochChanges,
      errors: a.errors + b.errors,
      errorExamples: [...a.errorExamples, ...b.errorExamples].slice(0, 10),
      caughtUp: a.caughtUp === undefined || b.caughtUp === undefined ? undefined : a.caughtUp && b.caughtUp,
      rssBytes: a.rssBytes + b.rssBytes,
    }),
    { ...statuses[0]!, total: 0, connected: 0, backSinceMark: 0, lastBackAt: 0, delivered: 0, lost: 0, duplicates: 0, gaps: 0, epochChanges: 0, errors: 0, errorExamples: [], caughtUp: true, rssBytes: 0 } as ClientsStatus,
  );
  return s;
}

async function main(): Promise<void> {
  // Not pinned: children inherit this process's CPU affinity, and the server and the client
  // processes need both cores (a first try had all of them on core 1 through inheritance).
  unpinSelf();
  const t0 = Date.now();
  // The server holds one socket per subscriber, plus its listener, stdio, the publisher, its
  // inspector, and sockets of clients that gave up on opening and are not yet closed: on a
  // box whose hard limit is 20,000 files a process, 20,000 can't fit (a first try at 19,900
  // ran the server out of files). Keep 1,000 spare.
  const fdLimit = hardFdLimit();
  const SUBSCRIBERS = Math.min(ASKED, fdLimit - 1000);
  if (SUBSCRIBERS < ASKED) log(`asked for ${ASKED} subscribers, but a process may open at most ${fdLimit} files here (ulimit -Hn): running ${SUBSCRIBERS}`);
  const perProcess = Math.ceil(SUBSCRIBERS / PROCESSES);
  if (perProcess > fdLimit - 100) throw new Error(`${perProcess} subscribers per process pass the file limit ${fdLimit}: use more --processes`);

  const port = await freePort();
  // Not pinned either: on a box shared with other work, a server held to one busy core was
  // starved (5 % CPU, its accept queue full) while 19,000 clients waited to come back.
  const server = await ServerProcess.start({ script: join(DIST, 'bench', 'hardening', 'restartable-server.js'), args: ['--port', String(port)], port, pin: false });
  const url = server.url;
  const samples: { at: number; loopP99Ms: number; loopMaxMs: number; rssBytes: number | undefined }[] = [];
  let restarted: { startedAt: number; closedAt: number; listeningAt: number } | undefined;
  server.onJsonLine((line) => {
    if (line.sample !== undefined) samples.push(line.sample as (typeof samples)[number]);
    if (line.restarted !== undefined) restarted = line.restarted as typeof restarted;
  });

  const channels = Array.from({ length: CHANNELS }, (_, i) => `rs-${i}`);
  const procs = Array.from({ length: PROCESSES }, () => new ClientProcess());
  const status = async (finalOffsets?: Record<string, number>) => sum(await Promise.all(procs.map((p) => p.ask<ClientsStatus>({ cmd: 'status', finalOffsets }))));
  try {
    // Connect: each process gets its own eight 127.0.0.x source addresses.
    const tConnect = Date.now();
    await Promise.all(
      procs.map((p, i) => {
        const count = Math.min(perProcess, SUBSCRIBERS - i * perProcess);
        const addresses = Array.from({ length: 8 }, (_, k) => `127.0.0.${10 + i * 8 + k}`);
        return p.ask({ cmd: 'init', init: { url, firstId: i * perProcess, count, channels, addresses } });
      }),
    );
    let s = await status();
    while (s.connected < SUBSCRIBERS) {
      if (Date.now() - tConnect > 900_000) throw new Error(`only ${s.connected} of ${SUBSCRIBERS} connected after 900 s`);
      if (server.exited !== undefined) throw new Error(`the server exited (${server.exited.code ?? server.exited.signal})`);
      await sleep(1000);
      s = await status();
      log(`connecting: ${s.connected}/${SUBSCRIBERS}`);
    }
    const connectSeconds = (Date.now() - tConnect) / 1000;
    await sleep(2000);
    const rssConnected = server.rss();
    log(`${s.total} connected in ${connectSeconds.toFixed(1)} s; server RSS ${mb(rssConnected)} MB`);

    // Every channel's current position: each subscriber must get everything after it.
    // node:http with a small keep-alive pool and a hard 10 s limit per attempt: a publish
    // either gets its answer or fails and is retried with the same Idempotency-Key.
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    const post = (channel: string, body: unknown, key: string): Promise<{ offset: number; epoch: string }> =>
      new Promise((resolve, reject) => {
        const text = JSON.stringify(body);
        const req = request(
          `${url}/v1/channels/${channel}/messages`,
          { method: 'POST', agent, timeout: 10_000, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'idempotency-key': key } },
          (res) => {
            let answer = '';
            res.setEncoding('utf8');
            res.on('data', (d: string) => (answer += d));
            res.on('end', () => {
              if (res.statusCode !== 201 && res.statusCode !== 200) return reject(new Error(`publish answered ${res.statusCode}`));
              resolve(JSON.parse(answer) as { offset: number; epoch: string });
            });
            res.on('error', reject);
          },
        );
        req.on('timeout', () => req.destroy(new Error('publish timed out')));
        req.on('error', reject);
        req.end(text);
      });
    const positions: Record<string, { epoch: string; offset: number }> = {};
    for (const c of channels) positions[c] = await post(c, { warm: true }, `warm-${c}`);
    await Promise.all(procs.map((p) => p.ask({ cmd: 'arm', positions })));

    // The publisher: `RATE` a second, round robin; each message retried with its own
    // Idempotency-Key until acknowledged, so the restart can't lose or double one.
    const finalOffsets: Record<string, number> = Object.fromEntries(channels.map((c) => [c, positions[c]!.offset]));
    const perChannel: Record<string, number> = Object.fromEntries(channels.map((c) => [c, 0]));
    let publishing = true;
    let publishedCount = 0;
    let retries = 0;
    const inWindow = { from: Number.POSITIVE_INFINITY, to: Number.POSITIVE_INFINITY, count: 0 };
    const inflight = new Set<Promise<void>>();
    const publisher = (async () => {
      let n = 0;
      let next = Date.now();
      while (publishing) {
        const channel = channels[n % CHANNELS]!;
        const key = `m-${n}`;
        const body = { n };
        n++;
        const firstTry = Date.now();
        const job = (async () => {
          for (;;) {
            try {
              const ack = await post(channel, body, key);
              finalOffsets[channel] = Math.max(finalOffsets[channel]!, ack.offset);
              perChannel[channel]!++;
              publishedCount++;
              if (firstTry >= inWindow.from && firstTry <= inWindow.to) inWindow.count++;
              return;
            } catch {
              retries++;
              await sleep(100);
            }
          }
        })();
        inflight.add(job);
        void job.then(() => inflight.delete(job));
        next += 1000 / RATE;
        await sleep(Math.max(0, next - Date.now()));
      }
    })();

    await sleep(10_000);
    await Promise.all(procs.map((p) => p.ask({ cmd: 'mark' })));
    const overflowsBefore = listenOverflows();
    const cpuBefore = cpuSeconds(server.pid);
    const restartAt = Date.now();
    inWindow.from = restartAt;
    log(`restarting the server (${s.total} subscribers, ${RATE} messages/s)`);
    server.child.kill('SIGUSR2');
    let back = await status();
    while (back.backSinceMark < back.total && Date.now() - restartAt < 900_000) {
      await sleep(500);
      back = await status();
      log(`back: ${back.backSinceMark}/${back.total}, connected now ${back.connected}`);
      if (server.exited !== undefined) throw new Error(`the server exited (${server.exited.code ?? server.exited.signal})`);
    }
    const overflowsAfter = listenOverflows();
    const cpuAfter = cpuSeconds(server.pid);
    const allBack = back.lastBackAt !== undefined;
    const lastBackAt = back.lastBackAt ?? Date.now();
    inWindow.to = lastBackAt;
    const allBackSeconds = allBack ? (lastBackAt - restartAt) / 1000 : undefined;
    log(allBack ? `all back ${allBackSeconds!.toFixed(1)} s after the restart began` : `only ${back.backSinceMark} of ${back.total} back after 900 s`);

    await sleep(5000);
    publishing = false;
    await publisher;
    await Promise.race([Promise.all(inflight), sleep(60_000)]);
    if (inflight.size > 0) log(`${inflight.size} publishes still unacknowledged after 60 s`);
    const tDrain = Date.now();
    let end = await status(finalOffsets);
    while (end.caughtUp !== true && Date.now() - tDrain < 60_000) {
      await sleep(500);
      end = await status(finalOffsets);
      log(`catching up: ${end.delivered} delivered so far`);
    }
    const closed = sum(await Promise.all(procs.map((p) => p.ask<ClientsStatus>({ cmd: 'close', finalOffsets }))));
    agent.destroy();

    // Publishes that made a second message (never expected: one Idempotency-Key each).
    const repeatedPublishes = channels.reduce((a, c) => a + (finalOffsets[c]! - positions[c]!.offset - perChannel[c]!), 0);
    const hwm = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'));
    // The drain (closing every connection) and the comeback load the loop differently: split them.
    const listeningAt = restarted?.listeningAt ?? restartAt;
    const storm = samples.filter((x) => x.at >= restartAt && x.at <= lastBackAt + 2000);
    const draining = samples.filter((x) => x.at >= restartAt && x.at <= listeningAt + 1000);
    const comeback = samples.filter((x) => x.at > listeningAt + 1000 && x.at <= lastBackAt + 2000);
    const steady = samples.filter((x) => x.at < restartAt);
    const figures = {
      command: `npm run reconnect-storm -- --subscribers ${ASKED} --processes ${PROCESSES} --channels ${CHANNELS} --rate ${RATE}`,
      subscribersAsked: ASKED,
      subscribers: s.total,
      fdLimit,
      processes: PROCESSES,
      channels: CHANNELS,
      ratePerSecond: RATE,
      connectSeconds,
      restart: restarted === undefined ? undefined : { drainSeconds: (restarted.closedAt - restarted.startedAt) / 1000, downSeconds: (restarted.listeningAt - restarted.startedAt) / 1000 },
      allBackSeconds,
      /** CPU the server spent from the restart to the last one back: what the comeback cost, whatever the box lent it. */
      serverCpuSecondsComeback: cpuBefore === undefined || cpuAfter === undefined ? undefined : cpuAfter - cpuBefore,
      backAfterRestart: back.backSinceMark,
      published: publishedCount,
      publishedDuringRestart: inWindow.count,
      unacknowledgedPublishes: inflight.size,
      publishRetries: retries,
      listenOverflowsDuringComeback: overflowsBefore === undefined || overflowsAfter === undefined ? undefined : overflowsAfter - overflowsBefore,
      repeatedPublishes,
      delivered: closed.delivered,
      lost: closed.lost,
      duplicates: closed.duplicates,
      gaps: closed.gaps,
      epochChanges: closed.epochChanges,
      caughtUp: end.caughtUp,
      clientErrors: closed.errors,
      clientErrorExamples: closed.errorExamples,
      server: {
        rssConnectedBytes: rssConnected,
        rssPeakBytes: hwm === null ? Math.max(0, ...samples.map((x) => x.rssBytes ?? 0)) : Number(hwm[1]) * 1024,
        rssPeakDuringStormBytes: Math.max(0, ...storm.map((x) => x.rssBytes ?? 0)),
        loopP99SteadyMs: percentile(steady.map((x) => x.loopP99Ms), 0.5),
        loopP99WorstDrainMs: Math.max(0, ...draining.map((x) => x.loopP99Ms)),
        loopP99WorstComebackMs: Math.max(0, ...comeback.map((x) => x.loopP99Ms)),
        loopP99MedianComebackMs: percentile(comeback.map((x) => x.loopP99Ms), 0.5),
        errorLogs: server.errorCount,
        errorExamples: server.errorLines.slice(0, 5),
      },
      clientProcessesRssBytes: closed.rssBytes,
      seconds: (Date.now() - t0) / 1000,
      samples,
    };
    const ok = allBack && closed.lost === 0 && closed.duplicates === 0 && closed.gaps === 0 && repeatedPublishes === 0 && end.caughtUp === true && server.errorCount === 0;
    const md = markdown(figures, ok);
    const section = o.label === undefined ? 'reconnect-storm' : `reconnect-storm-${o.label.replace(/[^a-z0-9-]/gi, '')}`;
    const paths = writeSection(o.out, section, o.label === undefined ? md : md.replace('## Reconnect storm', `## Reconnect storm (${o.label})`), figures);
    process.stdout.write(`${md}\n\nWritten: ${paths.md}, ${paths.json}\n`);
    for (const p of procs) p.child.kill();
    await server.stop();
    process.exit(ok ? 0 : 1);
  } catch (err) {
    log(`${(err as Error).stack}\nserver log: ${server.log.slice(-2000)}`);
    for (const p of procs) p.child.kill();
    await server.stop();
    process.exit(1);
  }
}

function markdown(f: Record<string, unknown> & Record<'server', Record<string, unknown>>, ok: boolean): string {
  const mark = (b: boolean) => (b ? '✅' : '❌');
  const n = (x: unknown) => Number(x).toLocaleString('en-US');
  const ms = (x: unknown) => (x === undefined ? '–' : `${Number(x).toFixed(0)} ms`);
  const r = f.restart as { drainSeconds: number; downSeconds: number } | undefined;
  const short = (f.subscribers as number) < (f.subscribersAsked as number);
  return [
    '## Reconnect storm',
    '',
    `\`${f.command}\`: ${n(f.subscribers)} subscribers${short ? ` (asked ${n(f.subscribersAsked)}: this box lets a process open at most ${n(f.fdLimit)} files, \`ulimit -Hn\`, and the server needs one per subscriber plus its own)` : ''}, half WebSocket and half SSE, each an SDK client (\`Tidings\` from src/client, the SDK’s reconnect backoff with full jitter, 0.5 s doubling to 20 s), on ${f.channels} channels, in ${f.processes} client processes on 127.0.0.x source addresses (8 each); server and clients not pinned to cores (all share both). All connected in ${Number(f.connectSeconds).toFixed(1)} s. A publisher sends ${f.ratePerSecond} messages/s over HTTP throughout, each with its own Idempotency-Key and retried until acknowledged. Then the server restarts on the same port: it drains as on SIGTERM (WebSocket close 1001, SSE \`event: close\`, listener closed) and a new server listens; only the engine carries over, as a persistent engine’s history would (the memory engine loses history in a real process restart, so a new process would make every message published while it was down unknowable). ${conditions()}.`,
    '',
    table(
      ['goal', 'result', 'measured'],
      [
        [
          'every subscriber back (within 900 s)',
          mark(f.allBackSeconds !== undefined),
          `${f.allBackSeconds === undefined ? `only ${n(f.backAfterRestart)} of ${n(f.subscribers)}` : `all ${n(f.subscribers)}`} back ${f.allBackSeconds === undefined ? 'after 900 s' : `${Number(f.allBackSeconds).toFixed(1)} s after the restart began`} (drain ${r?.drainSeconds.toFixed(1) ?? '–'} s, listening again after ${r?.downSeconds.toFixed(1) ?? '–'} s; ${n(f.listenOverflowsDuringComeback)} connection attempts dropped by the kernel on a full accept queue, backlog 511, each retried by TCP after 1, 3, 7 … s; the server used ${Number(f.serverCpuSecondsComeback).toFixed(1)} s of CPU from the restart to the last one back)`,
        ],
        ['messages published during the restart lost: 0', mark(f.lost === 0 && f.gaps === 0 && f.caughtUp === true), `${n(f.lost)} lost, ${n(f.gaps)} gaps, of ${n(f.publishedDuringRestart)} published during the restart (${n(f.published)} in all, ${n(f.publishRetries)} publish retries); every subscriber reached every last offset: ${f.caughtUp === true ? 'yes' : 'NO'}`],
        ['repeated: 0', mark(f.duplicates === 0 && f.repeatedPublishes === 0), `${n(f.duplicates)} delivered twice to a handler, ${n(f.repeatedPublishes)} publishes that made a second message`],
        ['server peak RSS', '', `${mb(f.server.rssPeakBytes as number)} MB (with everyone connected before: ${mb(f.server.rssConnectedBytes as number)} MB; peak during the storm ${mb(f.server.rssPeakDuringStormBytes as number)} MB)`],
        [
          'server event-loop delay p99 (its own monitorEventLoopDelay, 1-s windows; idle ≈ 10.1 ms)',
          '',
          `${ms(f.server.loopP99SteadyMs)} steady before (median window); while draining (closing every connection) worst window ${ms(f.server.loopP99WorstDrainMs)}; while clients came back median window ${ms(f.server.loopP99MedianComebackMs)}, worst ${ms(f.server.loopP99WorstComebackMs)}`,
        ],
        ['no error logged by the server', mark(f.server.errorLogs === 0), `${f.server.errorLogs} error lines; ${f.clientErrors} errors reported on the SDK clients’ \`error\` event`],
      ],
      true,
    ),
    '',
    `Overall: ${ok ? '✅ every goal met' : '❌ goals missed'}. Delivered ${n(f.delivered)} messages to handlers. “Back” is an SDK client’s \`state\` turning \`connected\` again after the restart began. Lost and repeated are counted per subscriber by offset over the whole run, as its handler saw them (the SDK drops repeats by channel and offset; a repeat the server sent would be hidden, a lost message would not); the restart window is from the restart to the last subscriber back.`,
  ].join('\n');
}

void main();
