import { setTimeout as sleep } from 'node:timers/promises';
import { Generator } from '../harness.js';
import { spawnLogged, stopChild, waitHealthy } from '../lib/child-process.js';
import { freePort } from '../lib/free-port.js';
import { pinPrefix, withFdLimit } from '../lib/proc.js';
import { SYSTEMS } from '../lib/systems.js';
import type { RunStats, Transport } from '../lib/types.js';
import { treeCpuSeconds } from './processes.js';

/** One way of running Tidings for the fan-out comparison. */
export interface Setup {
  name: string;
  /** Extra `serve` flags (engine, Redis URL, workers). */
  args: string[];
}

export interface FanoutSpec {
  transport: Transport;
  subscribers: number;
  messages: number;
  rate: number;
}

export interface FanoutResult {
  setup: string;
  spec: FanoutSpec;
  stats?: RunStats;
  /** Tidings CPU (every process of the setup, workers included) per delivery, µs. */
  cpuUsPerDelivery?: number;
  /** With several rounds: each round's CPU per delivery. */
  rounds?: (number | undefined)[];
  error?: string;
}

/**
 * One fan-out run: Tidings pinned to core 0 (all its workers too), the load generator of
 * `npm run bench` on core 1, CPU summed over the whole Tidings process tree around the
 * run, so that a second worker's share isn't hidden.
 */
export async function fanout(setup: Setup, spec: FanoutSpec, onProgress: (line: string) => void): Promise<FanoutResult> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const script = SYSTEMS.tidings.script;
  const [cmd, args] = withFdLimit([...pinPrefix(0), process.execPath, script, 'serve', '--port', String(port), '--host', '127.0.0.1', '--log-level', 'warn', ...setup.args]);
  const server = spawnLogged([cmd, ...args]);
  const result: FanoutResult = { setup: setup.name, spec };
  const gen = new Generator((p) => onProgress(`${setup.name} · ${spec.transport}: ${p.phase} ${p.delivered}/${p.expected}`));
  try {
    await waitHealthy(url, server.child, server.log, 20_000);
    // Workers come up one by one; give the last a moment after the first answers.
    await sleep(1500);
    const target = { system: 'tidings' as const, transport: spec.transport, url, channel: `bench-redis-${Date.now()}`, pid: undefined };
    const connect = await gen.ask({ cmd: 'connect', target, subscribers: spec.subscribers, pollIntervalMs: 500, longPollWaitS: 30 }, 'connected', 180_000);
    if (connect.failed > 0) throw new Error(`${connect.failed} subscribers failed to connect`);
    const pid = server.child.pid!;
    const cpu0 = treeCpuSeconds(pid);
    result.stats = await gen.ask(
      { cmd: 'run', messages: spec.messages, rate: spec.rate, durationMs: undefined, window: 1000, drainTimeoutMs: 60_000 },
      'done',
      (spec.messages * 1000) / spec.rate + 120_000,
    );
    const cpu = treeCpuSeconds(pid) - cpu0;
    if (result.stats.delivered > 0) result.cpuUsPerDelivery = (cpu * 1e6) / result.stats.delivered;
  } catch (err) {
    result.error = (err as Error).message;
  } finally {
    await gen.stop();
    await stopChild(server.child, 'SIGKILL', 15_000);
  }
  return result;
}
