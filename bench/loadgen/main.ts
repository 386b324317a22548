/**
 * The load generator: a process of its own (pinned to another core than the server by the
 * runner), driven over the IPC channel. It opens the subscribers, publishes, checks every
 * delivery and measures the window; the server's CPU and RSS are read from /proc.
 */
import { fork } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { cpuTimes, rssBytes } from '../lib/proc.js';
import type { ConnectCmd, GenCommand, GenEvent, IdleCmd, RunCmd, RunStats, Target } from '../lib/types.js';
import { within, type Fleet, type FleetContext } from './fleet.js';
import { collectGarbage } from './gc.js';
import { nchanPoll } from './nchan-poll.js';
import { PollFleet } from './poll-fleet.js';
import type { PacedCmd, PacedEvent } from './paced-publisher.js';
import { Publisher } from './publisher.js';
import { SocketIoFleet } from './socketio-fleet.js';
import { SseFleet } from './sse-fleet.js';
import { tidingsPoll } from './tidings-poll.js';
import { nowMs, Tracker } from './tracker.js';
import { WsFleet } from './ws-fleet.js';

/** Subscribers opening at once: enough to connect 10,000 in seconds, few enough for the backlog. */
const CONNECT_CONCURRENCY = 200;

function send(ev: GenEvent): void {
  process.send?.(ev);
}

function makeFleet(ctx: FleetContext): Fleet {
  switch (ctx.target.transport) {
    case 'ws':
      return new WsFleet(ctx);
    case 'sse':
      return new SseFleet(ctx);
    case 'socketio':
      return new SocketIoFleet(ctx);
    case 'short-poll':
    case 'long-poll':
      return ctx.target.system === 'nchan'
        ? new PollFleet(ctx, nchanPoll(ctx.target.transport === 'long-poll'))
        : new PollFleet(ctx, tidingsPoll(ctx.target.channel));
  }
}

let fleet: Fleet | undefined;
let tracker: Tracker | undefined;
let target: Target | undefined;
let connected = 0;
let published = 0;
let phase: 'connect' | 'publish' | 'drain' | 'idle' = 'connect';

const progress = setInterval(() => {
  if (tracker === undefined) return;
  send({ ev: 'progress', phase, connected, published, delivered: tracker.delivered, expected: published * tracker.subscribers });
}, 500);
progress.unref();

/** Opens subscribers `from`…`to - 1`, CONNECT_CONCURRENCY at a time; returns how many failed. */
async function connectRange(from: number, to: number): Promise<number> {
  let next = from;
  let failed = 0;
  let firstError: unknown;
  const worker = async () => {
    while (next < to) {
      const i = next++;
      try {
        await within(fleet!.add(i), 30_000, `subscriber ${i}`);
        connected++;
      } catch (err) {
        failed++;
        firstError ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONNECT_CONCURRENCY, to - from) }, worker));
  if (firstError !== undefined) process.stderr.write(`loadgen: ${failed} subscribers failed to connect, first: ${(firstError as Error).message}\n`);
  return failed;
}

async function connect(cmd: ConnectCmd): Promise<void> {
  target = cmd.target;
  tracker = new Tracker(cmd.subscribers);
  fleet = makeFleet({ target, tracker, pollIntervalMs: cmd.pollIntervalMs, longPollWaitS: cmd.longPollWaitS, capacity: cmd.subscribers });
  const t0 = Date.now();
  const failed = await connectRange(0, cmd.subscribers);
  send({ ev: 'connected', connected, failed, ms: Date.now() - t0, rssBytes: rssBytes(target.pid) });
}

/** Connections only: the server's RSS before and after opening them, once it has settled. */
async function idle(cmd: IdleCmd): Promise<void> {
  target = cmd.target;
  phase = 'idle';
  const total = cmd.warm + cmd.connections;
  tracker = new Tracker(total);
  fleet = makeFleet({ target, tracker, pollIntervalMs: 1000, longPollWaitS: 30, capacity: total });
  await connectRange(0, cmd.warm);
  await sleep(cmd.settleMs);
  await collectGarbage(target.inspector);
  const before = rssBytes(target.pid);
  const failed = await connectRange(cmd.warm, total);
  await sleep(cmd.settleMs);
  await collectGarbage(target.inspector);
  await sleep(500);
  const after = rssBytes(target.pid);
  const opened = cmd.connections - failed;
  send({
    ev: 'idle-done',
    connections: opened,
    rssBeforeBytes: before,
    rssAfterBytes: after,
    bytesPerConnection: before === undefined || after === undefined || opened === 0 ? undefined : (after - before) / opened,
  });
}

/**
 * Starts the paced publisher's process and waits until its connection is warm; `go()`
 * starts publishing and resolves when every publish is answered. It inherits this
 * process's CPU affinity, so it shares the generator's core, not the server's.
 */
async function pacedPublisher(cmd: PacedCmd, onProgress: (published: number) => void): Promise<{ go: () => Promise<PacedEvent & { ev: 'done' }> }> {
  const child = fork(fileURLToPath(new URL('./paced-publisher.js', import.meta.url)), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let done: (ev: PacedEvent & { ev: 'done' }) => void = () => undefined;
  let failed: (err: Error) => void = () => undefined;
  const finished = new Promise<PacedEvent & { ev: 'done' }>((resolve, reject) => {
    done = resolve;
    failed = reject;
  });
  const ready = new Promise<void>((resolve, reject) => {
    child.on('message', (raw) => {
      const ev = raw as PacedEvent;
      if (ev.ev === 'ready') resolve();
      else if (ev.ev === 'progress') onProgress(ev.published);
      else done(ev);
    });
    child.on('exit', (code) => {
      const err = new Error(`paced publisher exited with code ${code}`);
      reject(err);
      failed(err);
    });
  });
  child.send(cmd);
  await ready;
  return {
    go: () => {
      child.send({ go: true });
      return finished;
    },
  };
}

async function run(cmd: RunCmd): Promise<void> {
  const t = target!;
  const tr = tracker!;
  const fl = fleet!;
  const flat = cmd.rate === undefined;
  // Flat out, the publisher is paced by the slowest subscriber, so it lives here beside them.
  const publisher = flat ? new Publisher(t) : undefined;
  const paced = flat ? undefined : await pacedPublisher({ target: t, messages: cmd.messages!, rate: cmd.rate! }, (n) => (published = n));
  await publisher?.warm();

  const bytes0 = fl.wireBytes();
  const requests0 = fl.requests;
  const empty0 = fl.emptyAnswers;
  const cpu0 = cpuTimes(t.pid);
  const ownCpu0 = process.cpuUsage();
  tr.measuring = true;
  phase = 'publish';
  const start = nowMs();
  let lastDelivered = 0;
  let lastChange = start;
  let publishesPerSec: number | undefined;
  if (paced !== undefined) {
    const result = await paced.go();
    published = result.published;
    publishesPerSec = result.answeredMs > 0 ? (published * 1000) / result.answeredMs : undefined;
    if (result.failures > 0) throw new Error(`${result.failures} publishes failed, first: ${result.firstError}`);
  } else if (publisher !== undefined) {
    for (let seq = 1; nowMs() - start < cmd.durationMs!; seq++) {
      while (seq - tr.lowWater > cmd.window) await tr.advanced(50);
      await publisher.publish(seq, 64);
      published = seq;
    }
    await publisher.settled();
    if (publisher.failures > 0) throw new Error(`${publisher.failures} publishes failed, first: ${publisher.firstError}`);
  }
  phase = 'drain';
  const drainStart = nowMs();
  let lastDeliveryAt = nowMs();
  let drain: RunStats['drain'] = 'complete';
  // Done when every subscriber has every message, or when deliveries stall (a lost message).
  while (tr.lowWater < published) {
    await tr.advanced(20);
    const now = nowMs();
    if (tr.delivered !== lastDelivered) {
      lastDelivered = tr.delivered;
      lastChange = now;
      lastDeliveryAt = now;
    }
    if (now - lastChange > 3000) {
      drain = 'stalled';
      break;
    }
    if (now - drainStart > cmd.drainTimeoutMs) {
      drain = 'timed-out';
      break;
    }
  }
  if (tr.lowWater >= published) {
    lastDeliveryAt = nowMs();
    drain = 'complete';
  }
  const cpu1 = cpuTimes(t.pid);
  const ownCpu = process.cpuUsage(ownCpu0);
  const measuredMs = nowMs() - start;
  const bytes = fl.wireBytes() - bytes0;
  const requests = fl.requests - requests0;
  const windowMs = lastDeliveryAt - start;
  tr.measuring = false;
  publisher?.close();
  const expected = published * tr.subscribers;
  const delivered = tr.delivered;
  const cpu = cpu0 === undefined || cpu1 === undefined ? undefined : cpu1.user + cpu1.system - cpu0.user - cpu0.system;
  const kernel = cpu0 === undefined || cpu1 === undefined ? undefined : cpu1.system - cpu0.system;
  const stats: RunStats = {
    ev: 'done',
    subscribers: tr.subscribers,
    published,
    expected,
    delivered,
    lost: expected - delivered,
    drain,
    duplicates: tr.duplicates,
    outOfOrder: tr.outOfOrder,
    dropped: fl.dropped,
    gaps: tr.gaps,
    latencyMs: { p50: tr.latency.quantile(0.5), p90: tr.latency.quantile(0.9), p99: tr.latency.quantile(0.99), max: tr.latency.max },
    windowMs,
    deliveriesPerSec: windowMs > 0 ? (delivered * 1000) / windowMs : 0,
    wireBytes: bytes,
    bytesPerDelivery: delivered > 0 ? bytes / delivered : 0,
    httpRequests: requests,
    requestsPerDelivery: delivered > 0 ? requests / delivered : 0,
    emptyAnswers: fl.emptyAnswers - empty0,
    serverCpuSec: cpu,
    serverKernelShare: cpu === undefined || kernel === undefined || cpu <= 0 ? undefined : kernel / cpu,
    cpuUsPerDelivery: cpu === undefined || delivered === 0 ? undefined : (cpu * 1e6) / delivered,
    serverRssBytes: rssBytes(t.pid),
    generatorBusy: measuredMs > 0 ? (ownCpu.user + ownCpu.system) / 1000 / measuredMs : undefined,
    publishesPerSec,
  };
  send(stats);
}

process.on('message', (raw) => {
  const cmd = raw as GenCommand;
  const fail = (err: unknown) => send({ ev: 'error', message: (err as Error).stack ?? String(err) });
  switch (cmd.cmd) {
    case 'connect':
      connect(cmd).catch(fail);
      break;
    case 'run':
      run(cmd).catch(fail);
      break;
    case 'idle':
      idle(cmd).catch(fail);
      break;
    case 'exit':
      fleet?.close();
      setTimeout(() => process.exit(0), 100).unref();
      break;
  }
});
process.on('disconnect', () => process.exit(0));
