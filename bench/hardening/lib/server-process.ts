import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isHealthy, stopChild, waitHealthy } from '../../lib/child-process.js';
import { collectGarbage } from '../../loadgen/gc.js';
import { pinPrefix, rssBytes, withFdLimit } from '../../lib/proc.js';

/** dist/ of this build: bench/hardening/lib/ sits three folders below it. */
export const DIST = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/** The repository: dist/ is one folder below it. */
export const REPO = join(DIST, '..');
export const CLI = join(DIST, 'src', 'cli', 'main.js');

export interface ServerStart {
  /** The node script to run (default: the Tidings CLI with `serve`). */
  script?: string;
  args: string[];
  port: number;
  /** Pin to core 0 (the scripts keep to core 1), as the bench does. */
  pin?: boolean;
  /** More node flags, e.g. from TIDINGS_PROOF_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/p". */
  nodeFlags?: string[];
}

/**
 * A Tidings server under test in a child process: pinned to core 0, its fd limit raised,
 * its inspector open on loopback so that a full GC can be asked for before an RSS reading
 * (no change to the server's code). Lines it logs at level error or worse are counted:
 * any of them during a run is a finding.
 */
export class ServerProcess {
  private tail = '';
  private partial = '';
  /** pino lines at level ≥ 50 (error, fatal), kept whole up to 50. */
  readonly errorLines: string[] = [];
  errorCount = 0;
  exited: { code: number | null; signal: string | null } | undefined;
  /** Called with every line the server writes that parses as JSON. */
  private readonly lineListeners: ((line: Record<string, unknown>) => void)[] = [];

  private constructor(
    readonly child: ChildProcess,
    readonly url: string,
    readonly port: number,
  ) {
    child.stdout!.on('data', (d: Buffer) => this.take(d));
    child.stderr!.on('data', (d: Buffer) => this.take(d));
    child.on('exit', (code, signal) => (this.exited = { code, signal }));
  }

  private take(d: Buffer): void {
    const text = d.toString();
    this.tail = (this.tail + text).slice(-8000);
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) {
      if (this.lineListeners.length > 0 && line.startsWith('{')) {
        try {
          const parsed = JSON.parse(line) as Record<string, unknown>;
          for (const l of this.lineListeners) l(parsed);
        } catch {
          // not a JSON line
        }
      }
      const m = /"level":(\d+)/.exec(line);
      if (m !== null && Number(m[1]) >= 50) {
        this.errorCount++;
        if (this.errorLines.length < 50) this.errorLines.push(line.slice(0, 2000));
      }
    }
  }

  onJsonLine(listener: (line: Record<string, unknown>) => void): void {
    this.lineListeners.push(listener);
  }

  get log(): string {
    return this.tail.trim();
  }

  get pid(): number {
    return this.child.pid!;
  }

  private inspectorUrl: string | undefined;

  /** Kept from the first lines: the log tail soon scrolls past them. */
  get inspector(): string | undefined {
    this.inspectorUrl ??= /Debugger listening on (ws:\/\/\S+)/.exec(this.tail)?.[1];
    return this.inspectorUrl;
  }

  static async start(opts: ServerStart): Promise<ServerProcess> {
    const script = opts.script ?? CLI;
    const args = opts.script === undefined ? ['serve', ...opts.args] : opts.args;
    const extra = opts.nodeFlags ?? (process.env.TIDINGS_PROOF_NODE_FLAGS ?? '').split(' ').filter((f) => f !== '');
    const node = [process.execPath, '--inspect=127.0.0.1:0', ...extra, script, ...args];
    const [cmd, argv] = withFdLimit([...(opts.pin === false ? [] : pinPrefix(0)), ...node]);
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    // A script stopped early (Ctrl-C, a timeout) takes its server with it.
    const orphan = () => child.kill('SIGKILL');
    process.once('exit', orphan);
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
    child.once('exit', () => process.off('exit', orphan));
    const server = new ServerProcess(child, `http://127.0.0.1:${opts.port}`, opts.port);
    await server.waitHealthy(15_000);
    void server.inspector;
    return server;
  }

  waitHealthy(timeoutMs: number): Promise<void> {
    return waitHealthy(this.url, this.child, () => this.log.slice(-2000), timeoutMs);
  }

  /** GET /healthz answered 200 within 5 s. */
  healthy(): Promise<boolean> {
    return isHealthy(this.url);
  }

  rss(): number | undefined {
    return rssBytes(this.child.pid);
  }

  /** RSS after two full GCs and a moment for the allocator to hand pages back. */
  async settledRss(): Promise<number | undefined> {
    await collectGarbage(this.inspector);
    await sleep(1000);
    await collectGarbage(this.inspector);
    await sleep(500);
    return this.rss();
  }

  /** SIGTERM (graceful drain), SIGKILL after 20 s. */
  stop(): Promise<void> {
    return stopChild(this.child, 'SIGTERM', 20_000);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** Samples of the server's own metrics, read from /metrics (prom-client default metrics). */
export interface MetricsSample {
  /** `nodejs_eventloop_lag_p99_seconds`: p99 of monitorEventLoopDelay since the previous scrape. */
  loopP99Ms: number | undefined;
  loopMaxMs: number | undefined;
  rssBytes: number | undefined;
  heapUsedBytes: number | undefined;
  externalBytes: number | undefined;
}

/**
 * Reads the event-loop delay the server measures itself (prom-client's
 * `monitorEventLoopDelay`, 10 ms resolution, reset at every scrape: each reading covers
 * the time since the previous one) and its RSS.
 */
export async function scrapeMetrics(url: string): Promise<MetricsSample> {
  const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  const value = (name: string): number | undefined => {
    const m = new RegExp(`^${name} ([0-9.eE+-]+)`, 'm').exec(text);
    return m === null ? undefined : Number(m[1]);
  };
  const s = (v: number | undefined) => (v === undefined ? undefined : v * 1000);
  return {
    loopP99Ms: s(value('tidings_process_nodejs_eventloop_lag_p99_seconds')),
    loopMaxMs: s(value('tidings_process_nodejs_eventloop_lag_max_seconds')),
    rssBytes: value('tidings_process_resident_memory_bytes'),
    heapUsedBytes: value('tidings_process_nodejs_heap_size_used_bytes'),
    externalBytes: value('tidings_process_nodejs_external_memory_bytes'),
  };
}
