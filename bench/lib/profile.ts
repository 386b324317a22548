import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileEntry {
  name: string;
  where: string;
  selfPct: number;
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  /** Percentages below are of the busy time: everything but `(idle)`. */
  busyMs: number;
  /** Self time grouped by where it is spent: Tidings' own code, ws, node internals, GC, idle. */
  byArea: { area: string; pct: number }[];
  top: ProfileEntry[];
}

function area(url: string, name: string): string {
  if (name === '(idle)') return 'idle';
  if (name === '(garbage collector)') return 'GC';
  if (name === '(program)') return 'V8/native (program)';
  if (url.includes('/node_modules/ws/')) return 'ws library';
  if (url.includes('/node_modules/')) return 'other dependencies';
  if (url.includes('/dist/src/')) return 'Tidings code';
  if (url.startsWith('node:')) return 'Node core (net, http, streams)';
  return url === '' ? 'native (writev, syscalls, builtins)' : 'other';
}

/** Self time per function of a `node --cpu-prof` profile, heaviest first. */
export function summariseProfile(file: string, topN = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + dt);
    total += dt;
  });
  const perFunction = new Map<string, { name: string; where: string; us: number }>();
  const perArea = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const name = functionName === '' ? '(anonymous)' : functionName;
    const short = url.replace(/^.*\/(dist|node_modules)\//, '$1/');
    const where = url === '' ? '' : `${short}:${lineNumber + 1}`;
    const key = `${name} ${where}`;
    const entry = perFunction.get(key) ?? { name, where, us: 0 };
    entry.us += us;
    perFunction.set(key, entry);
    const a = area(url, name);
    perArea.set(a, (perArea.get(a) ?? 0) + us);
  }
  const busy = total - (perArea.get('idle') ?? 0);
  const pct = (us: number) => (busy > 0 ? (100 * us) / busy : 0);
  return {
    file,
    totalMs: total / 1000,
    busyMs: busy / 1000,
    byArea: [...perArea]
      .filter(([a]) => a !== 'idle')
      .map(([a, us]) => ({ area: a, pct: pct(us) }))
      .sort((x, y) => y.pct - x.pct),
    top: [...perFunction.values()]
      .filter((e) => e.name !== '(idle)')
      .sort((x, y) => y.us - x.us)
      .slice(0, topN)
      .map((e) => ({ name: e.name, where: e.where, selfPct: pct(e.us) })),
  };
}
