import type { RunResult } from './harness.js';
import { kb, mb, ms, num, ratio, small, table } from './lib/format.js';
import type { SystemName } from './lib/types.js';
import { SCENARIOS } from './scenarios.js';

/** The peer run of the same scenario and size that a row is compared with. */
export function baseline(results: RunResult[], r: RunResult, system: SystemName): RunResult | undefined {
  return results.find((b) => b.spec.system === system && samePlace(b, r) && b.error === undefined);
}

/** Same scenario, size and pair: the runs a row may be compared with. */
function samePlace(a: RunResult, b: RunResult): boolean {
  return a.spec.scenario === b.spec.scenario && a.spec.subscribers === b.spec.subscribers && a.spec.pair === b.spec.pair;
}

/** The Nchan run of the same scenario, size and transport: the peer every transport is held against. */
export function nchanPeer(results: RunResult[], r: RunResult): RunResult | undefined {
  return results.find((b) => b.spec.system === 'nchan' && b.spec.transport === r.spec.transport && samePlace(b, r) && b.error === undefined);
}

/** One fan-out pair: a Tidings run and its Nchan run, same transport, one after the other. */
export interface Pair {
  pair: number;
  mine: RunResult;
  peer: RunResult | undefined;
  /** Tidings' CPU per delivery over Nchan's; undefined when either is missing. */
  ratio: number | undefined;
}

/** The fan-out pairs of a transport, the `fanout` scenario's first, then the `pairs` scenario's. */
export function fanoutPairs(results: RunResult[], transport: string): Pair[] {
  return results
    .filter((r) => r.spec.system === 'tidings' && r.spec.transport === transport && (r.spec.scenario === 'fanout' || r.spec.scenario === 'pairs'))
    .map((mine) => {
      const peer = nchanPeer(results, mine);
      const a = cpu(mine);
      const b = cpu(peer);
      return { pair: mine.spec.pair ?? 1, mine, peer, ratio: a !== undefined && b ? a / b : undefined };
    });
}

/** The median of the pairs' ratios (the mean of the middle two for an even count); undefined when no pair has one. */
export function medianRatio(pairs: readonly Pair[]): number | undefined {
  const rs = pairs.map((p) => p.ratio).filter((r): r is number => r !== undefined).sort((a, b) => a - b);
  if (rs.length === 0) return undefined;
  const mid = rs.length >> 1;
  return rs.length % 2 === 1 ? rs[mid] : (rs[mid - 1]! + rs[mid]!) / 2;
}

type Figure = (r: RunResult | undefined) => number | undefined;

const cpu: Figure = (r) => r?.stats?.cpuUsPerDelivery;
const perConn: Figure = (r) => r?.idle?.bytesPerConnection;

/** The `× bare ws`, `× Socket.IO` and `× Nchan` cells of a row: its figure over the same figure of each peer's run (Nchan only for Tidings rows). */
function peerRatioCells(results: RunResult[], r: RunResult, figure: Figure): string[] {
  return [
    ratio(figure(r), figure(baseline(results, r, 'ws-bare'))),
    ratio(figure(r), figure(baseline(results, r, 'socketio'))),
    r.spec.system === 'tidings' ? ratio(figure(r), figure(nchanPeer(results, r))) : '',
  ];
}

/** A run that failed: its name, size and first line of error, the other `width - 3` cells empty. */
function errorRow(r: RunResult, width: number): string[] {
  return [r.name, num(r.spec.subscribers), `error: ${(r.error ?? '').split('\n')[0]!.slice(0, 80)}`, ...Array<string>(width - 3).fill('')];
}

/** One scenario's publish runs: every figure, and CPU per delivery as a ratio to bare ws and Socket.IO. */
function publishTable(results: RunResult[], rows: RunResult[], markdown: boolean): string {
  const head = ['run', 'subs', 'delivered/expected', 'lost', 'dup', 'ooo', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'deliveries/s', 'B/delivery', 'req/delivery', 'empty', 'CPU µs/delivery', 'kernel %', '× bare ws', '× Socket.IO', '× Nchan', 'RSS MB', 'gen CPU %'];
  const body = rows.map((r) => {
    const s = r.stats;
    if (s === undefined) return errorRow(r, head.length);
    return [
      r.name,
      num(r.spec.subscribers),
      `${num(s.delivered)}/${num(s.expected)}`,
      num(s.lost),
      num(s.duplicates),
      num(s.outOfOrder),
      ms(s.latencyMs.p50),
      ms(s.latencyMs.p90),
      ms(s.latencyMs.p99),
      ms(s.latencyMs.max),
      num(s.deliveriesPerSec),
      small(s.bytesPerDelivery),
      small(s.requestsPerDelivery),
      num(s.emptyAnswers),
      small(s.cpuUsPerDelivery),
      num(s.serverKernelShare === undefined ? undefined : s.serverKernelShare * 100),
      ...peerRatioCells(results, r, cpu),
      mb(s.serverRssBytes),
      num(s.generatorBusy === undefined ? undefined : s.generatorBusy * 100),
    ];
  });
  return table(head, body, markdown);
}

function idleTable(results: RunResult[], rows: RunResult[], markdown: boolean): string {
  const head = ['run', 'connections', 'RSS before MB', 'RSS after MB', 'KB/connection', '× bare ws', '× Socket.IO', '× Nchan'];
  const body = rows.map((r) => {
    const i = r.idle;
    if (i === undefined) return errorRow(r, head.length);
    return [
      r.name,
      num(i.connections),
      mb(i.rssBeforeBytes),
      mb(i.rssAfterBytes),
      kb(i.bytesPerConnection),
      ...peerRatioCells(results, r, perConn),
    ];
  });
  return table(head, body, markdown);
}

/** Every Tidings figure as a ratio to bare ws / Socket.IO / Nchan on the same transport (and bare SSE for SSE rows). */
export function ratioTable(results: RunResult[], rows: RunResult[], markdown: boolean): string {
  const figures: [string, Figure][] = [
    ['CPU/delivery', cpu],
    ['p50', (r) => r?.stats?.latencyMs.p50],
    ['p99', (r) => r?.stats?.latencyMs.p99],
    ['max', (r) => r?.stats?.latencyMs.max],
    ['deliveries/s', (r) => r?.stats?.deliveriesPerSec],
    ['B/delivery', (r) => r?.stats?.bytesPerDelivery],
    ['RSS', (r) => r?.stats?.serverRssBytes],
  ];
  const head = ['Tidings run', 'subs', ...figures.map(([f]) => `${f} ×ws / ×sio / ×Nchan`)];
  const body = rows
    .filter((r) => r.spec.system === 'tidings' && r.stats !== undefined)
    .map((r) => {
      const ws = baseline(results, r, 'ws-bare');
      const sio = baseline(results, r, 'socketio');
      const sse = r.spec.transport === 'sse' ? baseline(results, r, 'sse-bare') : undefined;
      const nchan = nchanPeer(results, r);
      return [
        r.name,
        num(r.spec.subscribers),
        ...figures.map(([, get]) => `${ratio(get(r), get(ws))} / ${ratio(get(r), get(sio))} / ${ratio(get(r), get(nchan))}${sse === undefined ? '' : ` (×sse ${ratio(get(r), get(sse))})`}`),
      ];
    });
  return table(head, body, markdown);
}

/** All scenarios' tables, in scenario order. */
export function scenarioTables(results: RunResult[], markdown: boolean, withRatios = markdown): string {
  const out: string[] = [];
  for (const sc of SCENARIOS) {
    const rows = results.filter((r) => r.spec.scenario === sc.name);
    if (rows.length === 0) continue;
    out.push(markdown ? `### ${sc.title}\n\n${sc.question}\n` : `\n${sc.title}: ${sc.question}`);
    if (sc.name === 'idle') out.push(idleTable(results, rows, markdown));
    else {
      out.push(publishTable(results, rows, markdown));
      if (withRatios && rows.some((r) => r.spec.system !== 'tidings')) out.push(`\n${markdown ? 'Ratios (Tidings ÷ peer; below 1× is better for every figure but deliveries/s):\n\n' : ''}${ratioTable(results, rows, markdown)}`);
    }
    out.push('');
  }
  return out.join('\n');
}
