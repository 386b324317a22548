import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

/** A child the bench started, with the last few KB of what it wrote, for error messages. */
export interface LoggedChild {
  child: ChildProcess;
  log: () => string;
}

/** Spawns argv, keeping the last 4 KB of its stdout and stderr. */
export function spawnLogged(argv: string[]): LoggedChild {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  const keep = (d: Buffer) => (tail = (tail + d.toString()).slice(-4000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  return { child, log: () => tail.trim() };
}

const running = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;

/** GET `url`/healthz answered 200 within 5 s. */
export async function isHealthy(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5000) });
    await res.text();
    return res.status === 200;
  } catch {
    return false; // not listening yet, or not answering
  }
}

/** Resolves once `url`/healthz answers 200; rejects, with the child's log, if it exits first or after `timeoutMs`. */
export async function waitHealthy(url: string, child: ChildProcess, log: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!running(child)) throw new Error(`server exited (${child.exitCode ?? child.signalCode}): ${log()}`);
    if (await isHealthy(url)) return;
    await sleep(50);
  }
  throw new Error(`server not healthy after ${timeoutMs} ms: ${log()}`);
}

/**
 * Asks a child to end (a signal, or what `ask` does, e.g. an IPC message) and resolves once
 * it has exited; one still running after `graceMs` is killed. A graceful end lets a
 * `--cpu-prof` child write its profile, or a server drain.
 */
export async function stopChild(child: ChildProcess, ask: NodeJS.Signals | (() => void), graceMs: number): Promise<void> {
  if (!running(child)) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  if (typeof ask === 'function') ask();
  else child.kill(ask);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
