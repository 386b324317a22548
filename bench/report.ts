import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { renderChart } from './chart.js';
import type { RunResult } from './harness.js';
import type { RunStats } from './lib/types.js';
import { kb, ms, small, table } from './lib/format.js';
import { PAIRED_TRANSPORTS } from './scenarios.js';
import { fanoutPairs, medianRatio, nchanPeer, scenarioTables } from './tables.js';
import { checkTargets, type TargetCheck } from './targets.js';

export interface RunInfo {
  command: string;
  startedAt: string;
  durationS: number;
  quick: boolean;
  target: string | undefined;
  /** Box, Node version and Tidings commit the figures were measured on. */
  environment?: string;
}

function git(args: string[], cwd: string): string {
  try {
    return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '?';
  }
}

export function environment(repo: string): string {
  const cpu = cpus();
  const commit = git(['rev-parse', '--short', 'HEAD'], repo);
  const dirty = git(['status', '--porcelain', '--', 'src'], repo) === '' ? '' : ' (src/ with uncommitted changes)';
  return `${cpu.length} × ${cpu[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux, Node ${process.version}; Tidings at ${commit}${dirty}`;
}

function targetLines(checks: TargetCheck[]): string {
  const mark = (m: boolean | undefined) => (m === undefined ? '· not measured' : m ? '✅ met' : '❌ missed');
  return table(
    ['target', 'result', 'measured'],
    checks.map((c) => [c.target, mark(c.met), c.detail]),
    true,
  );
}

function profileSection(results: RunResult[]): string {
  const profiled = results.filter((r) => r.profile !== undefined);
  if (profiled.length === 0) return '';
  const out = ['## CPU profiles (`node --cpu-prof`, separate runs: profiling slows the server)\n'];
  for (const r of profiled) {
    const p = r.profile!;
    out.push(`### ${r.name}, ${r.spec.scenario.replace('-profiled', '')}, ${r.spec.subscribers} subscribers: ${(p.busyMs ?? p.totalMs).toFixed(0)} ms busy of ${p.totalMs.toFixed(0)} ms sampled (process start included)\n`);
    out.push('Shares of the busy time:\n');
    out.push(table(['where the time goes', 'self %'], p.byArea.map((a) => [a.area, a.pct.toFixed(1)]), true));
    out.push('');
    out.push(table(['function', 'location', 'self %'], p.top.map((e) => [`\`${e.name}\``, e.where === '' ? '' : `\`${e.where}\``, e.selfPct.toFixed(1)]), true));
    out.push('');
  }
  return out.join('\n');
}

/** The Markdown report: how it was run, the targets, every table, profiles, the hand-written analysis. */
function markdown(results: RunResult[], info: RunInfo, env: string, checks: TargetCheck[], notes: string | undefined): string {
  return [
    '# Tidings benchmarks',
    '',
    `Produced by \`${info.command}\` on ${info.startedAt} in ${Math.round(info.durationS)} s${info.quick ? ' (quick: small sizes, a smoke run)' : ''}.`,
    `Box: ${env}.`,
    '',
    'Server under test in its own process pinned to core 0 (`taskset -c 0`), the load generator (all subscribers and',
    'the publisher) in another pinned to core 1. Every figure is over the measured window, from the first publish',
    'to the last delivery. CPU is the server process’s user + system time from `/proc/PID/stat` over that window,',
    'divided by deliveries; RSS from `/proc/PID/status`. Bytes are socket bytes read and written by the subscribers',
    'in the window (HTTP headers, chunk and WebSocket framing included; the publisher’s own requests not). The',
    'publisher pipelines up to 64 POSTs on one keep-alive connection (a busy server cannot slow it down); order is',
    'checked on Tidings’ offsets (on seq for the peers); latency is publish time (in the message) to receive time,',
    'both on the generator’s clock. Idle RSS is read after a full GC asked for through the inspector. Short polls are every 500 ms,',
    'long polls `wait=30`. Peers: `bench/peers/` (bare `ws` broadcast, bare `node:http` SSE broadcast, Socket.IO 4',
    'on its WebSocket transport, and Nchan 1.3: nginx with one worker, `master_process off`, pinned to core 0 like the',
    'others, `bench/peers/nchan.conf`, on all four transports: its long poll answers every message after the client’s',
    'id as multipart/mixed, its short poll (`intervalpoll`) one message per answer, so a Nchan short poller asks again at',
    'once after a message and waits one interval after a 304). `lost` counts what was not delivered when the wait for',
    'the last deliveries ended; a run with losses says whether deliveries had stopped for 3 s (lost) or were still',
    'arriving when the 60 s drain ran out (lagging).',
    '',
    'Under abuse and time (hostile storm, soak, reconnect storm): [hardening.md](hardening.md).',
    '',
    '![chart](chart.svg)',
    '',
    '## Targets',
    '',
    targetLines(checks),
    '',
    notes === undefined ? '' : `## Analysis\n\n${notes.trim()}\n`,
    '## Results',
    '',
    scenarioTables(results, true),
    profileSection(results),
    '## Columns',
    '',
    '`delivered/expected`: unique deliveries / (messages published × subscribers). `lost`: expected − delivered.',
    '`dup`: a message a subscriber already had. `ooo`: one arriving after a later one. `p50…max`: publish → receive.',
    '`B/delivery`: wire bytes / deliveries. `req/delivery`: poll requests / deliveries. `empty`: poll answers with',
    'no message. `CPU µs/delivery`: server CPU / deliveries. `kernel %`: the share of that CPU in the kernel (system',
    'time; on loopback it includes the receiving end’s TCP work for every segment the server sends). `× bare ws`, `× Socket.IO`: the same figure of that peer',
    'in the same scenario and size (below 1× is better). `RSS MB`: server RSS at the end of the run. `gen CPU %`: the',
    'load generator’s own CPU over the window, of its one core; near 100 the client sets the pace (a poller asks again',
    'when the generator gets to it), so `req/delivery` then measures the client as much as the server.',
    '',
    results.some((r) => r.error !== undefined)
      ? `## Errors\n\n${results
          .filter((r) => r.error !== undefined)
          .map((r) => `- ${r.spec.scenario} ${r.name} ×${r.spec.subscribers}: ${r.error!.replace(/\n/g, ' ').slice(0, 600)}`)
          .join('\n')}\n`
      : '',
  ].join('\n');
}

function pick(results: RunResult[], scenario: string, system: string, transport: string): RunResult | undefined {
  return results.find((r) => r.spec.scenario === scenario && r.spec.system === system && r.spec.transport === transport);
}

/** The README's short "Transports compared" table: the headline of each transport. */
export function readmeSection(results: RunResult[], info: RunInfo, env: string): string {
  const rows: string[][] = [];
  const cpu = (r: RunResult | undefined) => r?.stats?.cpuUsPerDelivery;
  const wsBare = pick(results, 'fanout', 'ws-bare', 'ws');
  const sio = pick(results, 'fanout', 'socketio', 'socketio');
  const idleOf = (system: string, transport: string) => pick(results, 'idle', system, transport)?.idle?.bytesPerConnection;
  const all: [string, string][] = [
    ['tidings', 'short-poll'],
    ['tidings', 'long-poll'],
    ['tidings', 'sse'],
    ['tidings', 'ws'],
    ['sse-bare', 'sse'],
    ['ws-bare', 'ws'],
    ['socketio', 'socketio'],
    ['nchan', 'short-poll'],
    ['nchan', 'long-poll'],
    ['nchan', 'sse'],
    ['nchan', 'ws'],
  ];
  for (const [system, transport] of all) {
    const seeds = pick(results, 'compare', system, transport);
    const fan = pick(results, 'fanout', system, transport);
    if (fan === undefined) continue;
    const c = cpu(fan);
    const r = (b: RunResult | undefined) => (c === undefined || cpu(b) === undefined ? '–' : `${(c / cpu(b)!).toFixed(2)}×`);
    rows.push([
      fan.name,
      small(seeds?.stats?.bytesPerDelivery),
      small(seeds?.stats?.requestsPerDelivery),
      small(c),
      `${r(wsBare)} / ${r(sio)}`,
      system === 'tidings' ? r(nchanPeer(results, fan)) : '',
      ms(fan.stats?.latencyMs.p50),
      ms(fan.stats?.latencyMs.p99),
      fan.stats === undefined ? '–' : fan.stats.lost + fan.stats.duplicates + fan.stats.outOfOrder === 0 ? 'none' : `${fan.stats.lost}/${fan.stats.duplicates}/${fan.stats.outOfOrder}`,
      transport === 'sse' || transport === 'ws' || transport === 'socketio' ? kb(idleOf(system, transport)) : '–',
    ]);
  }
  return [
    `Measured with \`${info.command}\` (${info.startedAt.slice(0, 10)}; ${env}). Server pinned to one core, load generator on the other.`,
    '',
    table(
      ['run', 'bytes/message¹', 'requests/message¹', 'fan-out CPU µs/delivery²', '× bare ws / × Socket.IO', '× Nchan (same transport)', 'fan-out p50 ms', 'fan-out p99 ms', 'lost/dup/reordered²', 'idle KB/conn³'],
      rows,
      true,
    ),
    '',
    '¹ 200 clients, 1 message/s (short poll at 2/s). ² 1,000 subscribers, 500 messages at 200/s: 200,000 deliveries/s offered to a',
    'server on one core; a server that can’t keep up queues, and its latency is mostly that queue. ³ 5,000 idle connections, server RSS after a GC.',
    ...pairNotes(results),
    ...lossNotes(results),
    '',
    '![The committed run: fan-out CPU and p99, bytes per delivery, throughput, the growth curve and idle memory, Tidings in blue](bench/results/chart.svg)',
    '',
    'Full tables, targets, growth curve and CPU profiles: [bench/results/report.md](bench/results/report.md).',
  ].join('\n');
}

/** The × Nchan of the fan-out pairs, each and their median: one pair is one sample on this machine. */
function pairNotes(results: RunResult[]): string[] {
  const label: Record<string, string> = { ws: 'WebSocket', sse: 'SSE', 'long-poll': 'long poll' };
  const parts = PAIRED_TRANSPORTS.map((t) => ({ t, pairs: fanoutPairs(results, t) }))
    .filter(({ pairs }) => pairs.length > 1)
    .map(({ t, pairs }) => `${label[t] ?? t} ${ratioText(medianRatio(pairs))} (${pairs.map((p) => ratioText(p.ratio)).join(', ')})`);
  return parts.length === 0 ? [] : [`× Nchan, the median of the fan-out pairs in this run (each pair in brackets, the table's first): ${parts.join('; ')}.`];
}

const ratioText = (r: number | undefined) => (r === undefined ? '–' : `${r.toFixed(2)}×`);

/** One line per fan-out run with undelivered messages, saying from its own drain whether it lagged or lost. */
function lossNotes(results: RunResult[]): string[] {
  const why: Record<NonNullable<RunStats['drain']>, string> = {
    complete: 'delivered in the end',
    stalled: 'deliveries had stopped for 3 s: lost',
    'timed-out': 'deliveries were still arriving when the 60 s drain ran out: it lags',
  };
  return results
    .filter((r) => r.spec.scenario === 'fanout' && r.stats !== undefined && r.stats.lost > 0)
    .map((r) => `${r.name}: ${r.stats!.lost.toLocaleString('en-US')} not delivered (${r.stats!.drain === undefined ? 'how the drain ended was not recorded' : why[r.stats!.drain]}).`);
}

/** Replaces only what is between the README's bench markers; the rest belongs to others. */
export function writeReadme(readmePath: string, section: string): boolean {
  if (!existsSync(readmePath)) return false;
  const text = readFileSync(readmePath, 'utf8');
  const start = '<!-- bench:start -->';
  const end = '<!-- bench:end -->';
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) return false;
  writeFileSync(readmePath, `${text.slice(0, a + start.length)}\n${section}\n${text.slice(b)}`);
  return true;
}

/** Writes report.md, chart.svg and results.json into `dir`. */
export async function writeReport(
  dir: string,
  repo: string,
  results: RunResult[],
  info: RunInfo,
  notesPath: string | undefined,
): Promise<{ checks: TargetCheck[]; env: string }> {
  mkdirSync(dir, { recursive: true });
  // A re-render keeps the box and commit the figures were measured on.
  const env = info.environment ?? environment(repo);
  info.environment = env;
  const checks = checkTargets(results);
  const notes = notesPath !== undefined && existsSync(notesPath) ? readFileSync(notesPath, 'utf8') : undefined;
  writeFileSync(join(dir, 'results.json'), `${JSON.stringify({ info, targets: checks, results }, null, 1)}\n`);
  writeFileSync(join(dir, 'report.md'), markdown(results, info, env, checks, notes));
  try {
    writeFileSync(join(dir, 'chart.svg'), await renderChart(results, `${info.startedAt.slice(0, 10)} · ${env}`));
  } catch (err) {
    process.stderr.write(`bench: chart not rendered: ${(err as Error).message}\n`);
  }
  return { checks, env };
}
