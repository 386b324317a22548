import type { RunResult } from './harness.js';
import { baseline } from './tables.js';

export interface TargetCheck {
  target: string;
  /** undefined when the runs it needs are missing (a partial run). */
  met: boolean | undefined;
  detail: string;
}

const f = (x: number | undefined, d = 2) => (x === undefined ? '–' : x.toFixed(d));

function find(results: RunResult[], scenario: string, system: string, transport: string, subscribers?: number): RunResult | undefined {
  return results.find(
    (r) => r.spec.scenario === scenario && r.spec.system === system && r.spec.transport === transport && (subscribers === undefined || r.spec.subscribers === subscribers),
  );
}

/** The targets, checked against this run's figures. */
export function checkTargets(results: RunResult[]): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const cpu = (r: RunResult | undefined) => r?.stats?.cpuUsPerDelivery;

  const ws = find(results, 'fanout', 'tidings', 'ws');
  const wsBare = ws && baseline(results, ws, 'ws-bare');
  const sio = ws && baseline(results, ws, 'socketio');
  const c = cpu(ws);
  checks.push({
    target: 'WebSocket fan-out CPU/delivery ≤ bare ws',
    met: c === undefined || cpu(wsBare) === undefined ? undefined : c <= cpu(wsBare)!,
    detail: `${f(c)} µs vs ${f(cpu(wsBare))} µs (${f(c !== undefined && cpu(wsBare) ? c / cpu(wsBare)! : undefined)}×)`,
  });
  checks.push({
    target: 'WebSocket fan-out CPU/delivery ≤ 2/3 of Socket.IO',
    met: c === undefined || cpu(sio) === undefined ? undefined : c <= (2 / 3) * cpu(sio)!,
    detail: `${f(c)} µs vs ${f(cpu(sio))} µs (${f(c !== undefined && cpu(sio) ? c / cpu(sio)! : undefined)}×)`,
  });

  const sse = find(results, 'fanout', 'tidings', 'sse');
  const sseBare = sse && baseline(results, sse, 'sse-bare');
  checks.push({
    target: 'SSE fan-out CPU/delivery ≤ bare node:http SSE',
    met: cpu(sse) === undefined || cpu(sseBare) === undefined ? undefined : cpu(sse)! <= cpu(sseBare)!,
    detail: `${f(cpu(sse))} µs vs ${f(cpu(sseBare))} µs (${f(cpu(sse) !== undefined && cpu(sseBare) ? cpu(sse)! / cpu(sseBare)! : undefined)}×)`,
  });

  // Long poll: requests per delivery by publish rate, lowest rate first.
  const lp = ['compare', 'fanout', 'throughput'].map((s) => find(results, s, 'tidings', 'long-poll')).filter((r) => r?.stats !== undefined) as RunResult[];
  const rpd = lp.map((r) => r.stats!.requestsPerDelivery);
  checks.push({
    target: 'Long poll: requests/delivery well below 1, falling as the rate rises',
    met: rpd.length < 2 ? undefined : rpd.at(-1)! < 0.5 && rpd.every((x, i) => i === 0 || x <= rpd[i - 1]! * 1.05),
    detail: lp.map((r) => `${r.spec.scenario}: ${f(r.stats!.requestsPerDelivery, 3)}`).join(', '),
  });

  // Short poll: everything arrives, and no later than about one interval after publishing.
  const sp = ['compare', 'fanout', 'throughput'].map((s) => find(results, s, 'tidings', 'short-poll')).filter((r) => r?.stats !== undefined) as RunResult[];
  checks.push({
    target: 'Short poll never falls behind the publisher (all delivered, p99 ≤ 2 poll intervals)',
    met: sp.length === 0 ? undefined : sp.every((r) => r.stats!.lost === 0 && r.stats!.latencyMs.p99 <= 2 * r.spec.pollIntervalMs),
    detail: sp.map((r) => `${r.spec.scenario}: lost ${r.stats!.lost}, p99 ${f(r.stats!.latencyMs.p99, 0)} ms`).join(', '),
  });

  const idleWs = find(results, 'idle', 'tidings', 'ws')?.idle?.bytesPerConnection;
  const idleSse = find(results, 'idle', 'tidings', 'sse')?.idle?.bytesPerConnection;
  checks.push({ target: 'Idle WebSocket ≤ 9 KB RSS', met: idleWs === undefined ? undefined : idleWs <= 9 * 1024, detail: `${f(idleWs === undefined ? undefined : idleWs / 1024, 1)} KB` });
  checks.push({ target: 'Idle SSE ≤ 12 KB RSS', met: idleSse === undefined ? undefined : idleSse <= 12 * 1024, detail: `${f(idleSse === undefined ? undefined : idleSse / 1024, 1)} KB` });

  const tidings = results.filter((r) => r.spec.system === 'tidings' && r.spec.kind === 'publish');
  const bad = tidings.filter((r) => r.stats === undefined || r.stats.lost + r.stats.duplicates + r.stats.outOfOrder + r.stats.dropped + r.stats.gaps > 0);
  checks.push({
    target: 'Nothing lost, duplicated or reordered in any Tidings run',
    met: tidings.length === 0 ? undefined : bad.length === 0,
    detail:
      bad.length === 0
        ? `${tidings.length} runs clean`
        : bad
            .map((r) =>
              r.stats === undefined
                ? `${r.spec.scenario} ${r.name}: ${r.error?.split('\n')[0]}`
                : `${r.spec.scenario} ${r.name} ×${r.spec.subscribers}: lost ${r.stats.lost}, dup ${r.stats.duplicates}, ooo ${r.stats.outOfOrder}, dropped ${r.stats.dropped}, gaps ${r.stats.gaps}`,
            )
            .join('; '),
  });
  return checks;
}
