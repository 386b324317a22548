import type { RunResult } from './harness.js';
import { baseline, fanoutPairs, medianRatio, nchanPeer } from './tables.js';

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

  checks.push(...nchanTargets(results));

  const idle = (transport: string) => {
    const r = find(results, 'idle', 'tidings', transport);
    const peer = r && nchanPeer(results, r);
    const kb = (x: number | undefined) => (x === undefined ? undefined : x / 1024);
    return { mine: r?.idle?.bytesPerConnection, detail: `${f(kb(r?.idle?.bytesPerConnection), 1)} KB (Nchan ${f(kb(peer?.idle?.bytesPerConnection), 1)} KB)` };
  };
  const idleWs = idle('ws');
  const idleSse = idle('sse');
  checks.push({ target: 'Idle WebSocket ≤ 8 KB RSS (5,000 connections)', met: idleWs.mine === undefined ? undefined : idleWs.mine <= 8 * 1024, detail: idleWs.detail });
  checks.push({ target: 'Idle SSE ≤ 11 KB RSS (5,000 connections)', met: idleSse.mine === undefined ? undefined : idleSse.mine <= 11 * 1024, detail: idleSse.detail });

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

/** Tidings beside Nchan on the same transport, same scenario, same run (issue #10). */
function nchanTargets(results: RunResult[]): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const cpu = (r: RunResult | undefined) => r?.stats?.cpuUsPerDelivery;
  const versus = (scenario: string, transport: string) => {
    const mine = find(results, scenario, 'tidings', transport);
    return { mine, peer: mine && nchanPeer(results, mine) };
  };
  // The median of the fan-out pairs' ratios: on this machine one pair is one sample (bench/notes.md).
  const cpuRatio = (transport: string, goal: number, label: string) => {
    const pairs = fanoutPairs(results, transport);
    const r = medianRatio(pairs);
    const first = pairs[0];
    const each = pairs.map((p) => f(p.ratio)).join(', ');
    return {
      r,
      pairs,
      check: {
        target: `${label} fan-out CPU/delivery ≤ ${goal.toFixed(1)}× Nchan (median of the pairs)`,
        met: r === undefined ? undefined : r <= goal,
        detail: `${f(r)}× over ${pairs.length} pair${pairs.length === 1 ? '' : 's'} (${each}); first pair ${f(cpu(first?.mine))} µs vs ${f(cpu(first?.peer))} µs`,
      },
    };
  };
  checks.push(cpuRatio('ws', 1, 'WebSocket').check);
  checks.push(cpuRatio('sse', 1, 'SSE').check);

  const lp = cpuRatio('long-poll', 1.5, 'Long-poll');
  const offered = lp.pairs[0]?.mine.spec.rate;
  const rates = lp.pairs.map((p) => p.mine.stats?.publishesPerSec);
  const reached = offered !== undefined && rates.length > 0 && rates.every((x) => x !== undefined && x >= 0.95 * offered);
  checks.push({
    target: `${lp.check.target}, the full ${offered ?? 200} publishes/s reached in every pair`,
    met: lp.r === undefined || offered === undefined ? undefined : lp.r <= 1.5 && reached,
    detail: `${lp.check.detail}; publishes/s answered ${rates.map((x) => f(x, 0)).join(', ')} (Nchan ${lp.pairs.map((p) => f(p.peer?.stats?.publishesPerSec, 0)).join(', ')})`,
  });

  const { mine: flat, peer: flatPeer } = versus('throughput', 'long-poll');
  const dps = flat?.stats?.deliveriesPerSec;
  const peerDps = flatPeer?.stats?.deliveriesPerSec;
  checks.push({
    target: 'Long poll flat out: no gap notice at the default history, ≥ 0.5× Nchan’s deliveries/s',
    met: flat?.stats === undefined || peerDps === undefined ? undefined : flat.stats.gaps === 0 && dps! >= 0.5 * peerDps,
    detail: `${flat?.stats?.gaps ?? '–'} gaps; ${f(dps, 0)} vs ${f(peerDps, 0)} deliveries/s (${f(dps !== undefined && peerDps ? dps / peerDps : undefined)}×)`,
  });

  const sp = find(results, 'fanout', 'tidings', 'short-poll');
  const spPeer = sp && nchanPeer(results, sp);
  const lag = sp?.stats?.latencyMs.max;
  checks.push({
    target: 'Short poll at 200 msgs/s never lags more than one interval (max latency ≤ interval + 10 %)',
    met: sp?.stats === undefined ? undefined : sp.stats.lost === 0 && lag! <= 1.1 * sp.spec.pollIntervalMs,
    detail: `max ${f(lag, 0)} ms at a ${sp?.spec.pollIntervalMs ?? '–'} ms interval, lost ${sp?.stats?.lost ?? '–'} (Nchan: max ${f(spPeer?.stats?.latencyMs.max, 0)} ms)`,
  });
  return checks;
}
