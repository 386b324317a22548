import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnLogged, stopChild, waitHealthy, type LoggedChild } from './lib/child-process.js';
import { freePort } from './lib/free-port.js';
import { summariseProfile, type ProfileSummary } from './lib/profile.js';
import { pinPrefix, rssBytes, withFdLimit } from './lib/proc.js';
import { LOADGEN_SCRIPT, SYSTEMS, rowName } from './lib/systems.js';
import type { ConnectResult, GenCommand, GenEvent, IdleResult, Progress, RunStats, Target } from './lib/types.js';
import type { RunSpec } from './scenarios.js';

export interface RunResult {
  spec: RunSpec;
  name: string;
  connect?: ConnectResult;
  stats?: RunStats;
  idle?: IdleResult;
  /** Server RSS right after start, before any subscriber. */
  rssStartBytes?: number;
  profile?: ProfileSummary;
  error?: string;
}

export interface HarnessOptions {
  /** Run against this running Tidings server instead of starting servers (no peers). */
  targetUrl?: string;
  /** With targetUrl: the server's pid, for CPU and RSS. */
  targetPid?: number;
  /** Write a `node --cpu-prof` profile of the Tidings server into this folder. */
  profileDir?: string;
  onProgress?: (line: string) => void;
}

const CHANNEL = 'bench';

/** A server under test: a child process pinned to core 0, with its fd limit raised. */
class ServerProcess {
  private constructor(
    private readonly proc: LoggedChild,
    readonly url: string,
  ) {}

  get child(): ChildProcess {
    return this.proc.child;
  }

  get log(): string {
    return this.proc.log();
  }

  /** `ws://…` of the inspector, when started with --inspect. */
  get inspector(): string | undefined {
    return /Debugger listening on (ws:\/\/\S+)/.exec(this.log)?.[1];
  }

  static async start(spec: RunSpec, profileDir: string | undefined): Promise<ServerProcess> {
    const def = SYSTEMS[spec.system];
    const port = await freePort();
    const nodeFlags = profileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', profileDir];
    // Idle runs read RSS after a full GC, asked for through the inspector.
    if (spec.kind === 'idle') nodeFlags.push('--inspect=127.0.0.1:0');
    const argv = def.native === true ? [def.script, ...def.args(port)] : [process.execPath, ...nodeFlags, def.script, ...def.args(port)];
    const [cmd, args] = withFdLimit([...pinPrefix(0), ...argv]);
    const server = new ServerProcess(spawnLogged([cmd, ...args]), `http://127.0.0.1:${port}`);
    await waitHealthy(server.url, server.child, () => server.log, 15_000);
    return server;
  }

  /** SIGKILL is quick; a profiled server gets SIGTERM so that node writes the profile. */
  stop(graceful: boolean): Promise<void> {
    return stopChild(this.child, graceful ? 'SIGTERM' : 'SIGKILL', 30_000);
  }
}

/** The load generator child, pinned to core 1, spoken to over IPC. */
export class Generator {
  private readonly child: ChildProcess;
  private listener: ((ev: GenEvent) => void) | undefined;
  private exitError: string | undefined;

  constructor(onProgress: (p: Progress) => void) {
    // BENCH_LOADGEN_NODE_FLAGS (e.g. "--cpu-prof") profiles the generator itself: is the client the limit?
    const extra = (process.env.BENCH_LOADGEN_NODE_FLAGS ?? '').split(' ').filter((f) => f !== '');
    const [cmd, args] = withFdLimit([...pinPrefix(1), process.execPath, '--max-old-space-size=4096', ...extra, LOADGEN_SCRIPT]);
    this.child = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (raw) => {
      const ev = raw as GenEvent;
      if (ev.ev === 'progress') onProgress(ev);
      else this.listener?.(ev);
    });
    this.child.on('exit', (code, signal) => {
      this.exitError = `load generator exited (${code ?? signal})`;
      this.listener?.({ ev: 'error', message: this.exitError });
    });
  }

  /** Sends a command and waits for its answer (or an error, or the time limit). */
  ask<E extends GenEvent['ev']>(cmd: GenCommand, answer: E, timeoutMs: number): Promise<Extract<GenEvent, { ev: E }>> {
    return new Promise((resolve, reject) => {
      if (this.exitError !== undefined) return reject(new Error(this.exitError));
      const timer = setTimeout(() => reject(new Error(`load generator gave no ${answer} within ${timeoutMs} ms`)), timeoutMs);
      this.listener = (ev) => {
        if (ev.ev === 'error') {
          clearTimeout(timer);
          reject(new Error(ev.message));
        } else if (ev.ev === answer) {
          clearTimeout(timer);
          resolve(ev as Extract<GenEvent, { ev: E }>);
        }
      };
      this.child.send(cmd);
    });
  }

  /** Asks it to exit (so a --cpu-prof profile is written), then kills it if it lingers. */
  stop(): Promise<void> {
    return stopChild(
      this.child,
      () => {
        if (this.child.connected) this.child.send({ cmd: 'exit' } satisfies GenCommand);
      },
      3000,
    );
  }
}

function progressLine(spec: RunSpec, p: Progress): string {
  const name = `${spec.scenario} · ${rowName(spec.system, spec.transport)} · ${spec.subscribers} subs`;
  if (p.phase === 'connect' || p.phase === 'idle') return `${name}: ${p.phase} ${p.connected}/${spec.subscribers}`;
  const pct = p.expected > 0 ? ((100 * p.delivered) / p.expected).toFixed(1) : '0.0';
  return `${name}: ${p.phase} published ${p.published}, delivered ${p.delivered}/${p.expected} (${pct} %)`;
}

/** Runs one spec from start to end: server, generator, measure, stop both. Never throws. */
export async function runOne(spec: RunSpec, opts: HarnessOptions): Promise<RunResult> {
  const result: RunResult = { spec, name: `${rowName(spec.system, spec.transport)}${spec.pair === undefined ? '' : ` (pair ${spec.pair})`}` };
  let server: ServerProcess | undefined;
  let profileDir: string | undefined;
  if (opts.profileDir !== undefined && spec.system === 'tidings' && opts.targetUrl === undefined) {
    profileDir = join(opts.profileDir, `${spec.scenario}-${spec.transport}-${spec.subscribers}`);
    mkdirSync(profileDir, { recursive: true });
  }
  const gen = new Generator((p) => opts.onProgress?.(progressLine(spec, p)));
  try {
    let target: Target;
    if (opts.targetUrl !== undefined) {
      target = { system: 'tidings', transport: spec.transport, url: opts.targetUrl.replace(/\/$/, ''), channel: `${CHANNEL}-${Date.now()}`, pid: opts.targetPid };
    } else {
      server = await ServerProcess.start(spec, profileDir);
      await new Promise((r) => setTimeout(r, 300));
      target = { system: spec.system, transport: spec.transport, url: server.url, channel: CHANNEL, pid: server.child.pid, inspector: server.inspector };
    }
    result.rssStartBytes = rssBytes(target.pid);
    opts.onProgress?.(`${progressLine(spec, { ev: 'progress', phase: 'connect', connected: 0, published: 0, delivered: 0, expected: 0 })}`);
    if (spec.kind === 'idle') {
      const warm = Math.min(200, Math.ceil(spec.subscribers / 10));
      result.idle = await gen.ask({ cmd: 'idle', target, connections: spec.subscribers, warm, settleMs: 2000 }, 'idle-done', 180_000);
    } else {
      result.connect = await gen.ask(
        { cmd: 'connect', target, subscribers: spec.subscribers, pollIntervalMs: spec.pollIntervalMs, longPollWaitS: 30 },
        'connected',
        180_000,
      );
      if (result.connect.failed > 0) throw new Error(`${result.connect.failed} of ${spec.subscribers} subscribers failed to connect`);
      const expectMs = spec.rate === undefined ? spec.durationMs! : (spec.messages! * 1000) / spec.rate;
      result.stats = await gen.ask(
        { cmd: 'run', messages: spec.messages, rate: spec.rate, durationMs: spec.durationMs, window: 1000, drainTimeoutMs: 60_000 },
        'done',
        expectMs + 120_000,
      );
    }
  } catch (err) {
    result.error = `${(err as Error).message}${server !== undefined && server.log !== '' ? `\nserver log: ${server.log}` : ''}`;
  } finally {
    await gen.stop();
    await server?.stop(profileDir !== undefined);
  }
  if (profileDir !== undefined) {
    const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
    if (file !== undefined) result.profile = summariseProfile(join(profileDir, file));
  }
  return result;
}
