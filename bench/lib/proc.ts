import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

let ticks: number | undefined;

/** Clock ticks per second of /proc/PID/stat times (`getconf CLK_TCK`, almost always 100). */
function clockTicks(): number {
  if (ticks === undefined) {
    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

/** User and system (kernel) CPU seconds of a process (proc(5): fields 14 and 15 of /proc/PID/stat). */
export function cpuTimes(pid: number | undefined): { user: number; system: number } | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces; everything after its ')' splits cleanly.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { user: Number(fields[11]) / clockTicks(), system: Number(fields[12]) / clockTicks() };
  } catch {
    return undefined;
  }
}

/** User + system CPU seconds of a process. */
export function cpuSeconds(pid: number | undefined): number | undefined {
  const t = cpuTimes(pid);
  return t === undefined ? undefined : t.user + t.system;
}

/** Resident set size of a process in bytes (VmRSS of /proc/PID/status). */
export function rssBytes(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? undefined : Number(m[1]) * 1024;
  } catch {
    return undefined;
  }
}

/** `taskset -c N` prefix when taskset exists and the box has a core for each side. */
export function pinPrefix(core: number): string[] {
  if (cpus().length < 2) return [];
  try {
    execFileSync('taskset', ['-c', String(core), 'true'], { stdio: 'ignore' });
    return ['taskset', '-c', String(core)];
  } catch {
    return [];
  }
}

/** Pins this process to a core, where taskset is there; the runner keeps off the server's core. */
export function pinSelf(core: number): void {
  if (pinPrefix(core).length === 0) return;
  try {
    execFileSync('taskset', ['-p', '-c', String(core), String(process.pid)], { stdio: 'ignore' });
  } catch {
    // Not pinned: the figures are still right, only noisier.
  }
}

/**
 * argv for spawn that raises the open-file limit to the hard limit first: the large
 * scenarios hold 10,000 sockets on each side, more than a default soft limit of 1024.
 */
export function withFdLimit(argv: string[]): [string, string[]] {
  return ['bash', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', 'bench', ...argv]];
}
