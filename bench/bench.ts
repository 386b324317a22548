import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runOne, type RunResult } from './harness.js';
import { ms, small } from './lib/format.js';
import { summariseProfile } from './lib/profile.js';
import { pinSelf } from './lib/proc.js';
import { rowName, SYSTEMS } from './lib/systems.js';
import { environment, readmeSection, writeReadme, writeReport, type RunInfo } from './report.js';
import { SCENARIOS, type RunSpec } from './scenarios.js';
import { scenarioTables } from './tables.js';
import { CLIENT_SCENARIO, clientSdkBench } from './client-sdk.js';

/** The repository: dist/bench/bench.js is two folders below it. */
export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface BenchOptions {
  /** Scenario names; empty or ['all'] runs every one. */
  scenarios: string[];
  /** Servers to run (tidings, or a peer's name); empty runs every one. */
  systems?: string[];
  quick: boolean;
  /** Drive this running Tidings server; no peers, no server of our own. */
  targetUrl?: string;
  targetPid?: number;
  /** Extra profiled fan-out runs of Tidings (never against a target). */
  profile: boolean;
  /** Where report.md, chart.svg and results.json go; undefined writes none. */
  outDir?: string;
  /** Rewrite the README's bench section (full runs of every scenario only). */
  readme: boolean;
  command: string;
}

export const SCENARIO_NAMES = [...SCENARIOS.map((s) => s.name), CLIENT_SCENARIO];

function progressWriter(): { line: (text: string) => void; done: (text: string) => void } {
  const tty = process.stderr.isTTY === true;
  let lastPlain = 0;
  return {
    line(text) {
      if (tty) {
        const width = process.stderr.columns ?? 120;
        process.stderr.write(`\r\x1b[K${text.slice(0, width - 1)}`);
      } else if (Date.now() - lastPlain > 5000) {
        lastPlain = Date.now();
        process.stderr.write(`  … ${text}\n`);
      }
    },
    done(text) {
      process.stderr.write(`${tty ? '\r\x1b[K' : ''}${text}\n`);
      lastPlain = 0;
    },
  };
}

function summary(r: RunResult, seconds: number): string {
  const head = `${r.spec.scenario} · ${r.name} · ${r.spec.subscribers}`;
  if (r.error !== undefined) return `✗ ${head}: ${r.error.split('\n')[0]} (${seconds.toFixed(0)} s)`;
  if (r.idle !== undefined) return `✓ ${head}: ${((r.idle.bytesPerConnection ?? NaN) / 1024).toFixed(1)} KB RSS per connection (${seconds.toFixed(0)} s)`;
  const s = r.stats!;
  const clean = s.lost + s.duplicates + s.outOfOrder === 0;
  return `${clean ? '✓' : '!'} ${head}: ${s.delivered}/${s.expected} delivered, p99 ${ms(s.latencyMs.p99)} ms, ${small(s.cpuUsPerDelivery)} µs CPU/delivery${clean ? '' : `, LOST ${s.lost} DUP ${s.duplicates} OOO ${s.outOfOrder}`} (${seconds.toFixed(0)} s)`;
}

/**
 * Writes report.md, chart.svg and (for a full run) the README section again from a
 * results.json, without measuring: for when the hand-written bench/notes.md changes.
 */
export async function rerender(outDir: string, readme: boolean): Promise<void> {
  const saved = JSON.parse(readFileSync(join(outDir, 'results.json'), 'utf8')) as { info: RunInfo; results: RunResult[] };
  for (const r of saved.results) {
    if (r.profile !== undefined && existsSync(r.profile.file)) r.profile = summariseProfile(r.profile.file);
  }
  const { env } = await writeReport(outDir, REPO, saved.results, saved.info, join(REPO, 'bench', 'notes.md'));
  process.stdout.write(`${scenarioTables(saved.results, false, true)}\nReport: ${join(outDir, 'report.md')}\n`);
  if (readme && !saved.info.quick && saved.info.target === undefined) writeReadme(join(REPO, 'README.md'), readmeSection(saved.results, saved.info, env));
}

/** Runs the chosen scenarios, prints the tables, writes the report. Returns every result. */
export async function runBench(opts: BenchOptions): Promise<RunResult[]> {
  pinSelf(1);
  const startedAt = new Date();
  // Which code is measured is known when the run starts: the tree may move on meanwhile.
  const measured = environment(REPO);
  const all = opts.scenarios.length === 0 || opts.scenarios.includes('all');
  const unknown = opts.scenarios.filter((s) => s !== 'all' && !SCENARIO_NAMES.includes(s));
  if (unknown.length > 0) throw new Error(`unknown scenario ${unknown.join(', ')}: choose from ${SCENARIO_NAMES.join(', ')}, all`);
  let specs: RunSpec[] = SCENARIOS.filter((s) => all || opts.scenarios.includes(s.name)).flatMap((s) => s.runs(opts.quick));
  if (opts.targetUrl !== undefined) specs = specs.filter((s) => s.system === 'tidings');
  const systems = opts.systems ?? [];
  const unknownSystems = systems.filter((s) => !(s in SYSTEMS));
  if (unknownSystems.length > 0) throw new Error(`unknown system ${unknownSystems.join(', ')}: choose from ${Object.keys(SYSTEMS).join(', ')}`);
  if (systems.length > 0) specs = specs.filter((s) => systems.includes(s.system));
  for (const system of new Set(specs.map((s) => s.system))) {
    const why = SYSTEMS[system].unavailable?.((line) => process.stderr.write(`${line}\n`));
    if (why === undefined) continue;
    process.stderr.write(`bench: skipping the ${SYSTEMS[system].label} peer: ${why}\n`);
    specs = specs.filter((s) => s.system !== system);
  }
  if (opts.profile && opts.targetUrl === undefined && (all || opts.scenarios.includes('fanout'))) {
    const fanout = SCENARIOS.find((s) => s.name === 'fanout')!.runs(opts.quick);
    for (const transport of ['ws', 'sse', 'long-poll', 'short-poll'] as const) {
      const spec = fanout.find((s) => s.system === 'tidings' && s.transport === transport);
      if (spec !== undefined) specs.push({ ...spec, scenario: 'fanout-profiled' });
    }
  }
  // Long polls flat out: the per-request path, where the gap to Nchan was (issue #10).
  if (opts.profile && opts.targetUrl === undefined && (all || opts.scenarios.includes('throughput'))) {
    const spec = SCENARIOS.find((s) => s.name === 'throughput')!.runs(opts.quick).find((s) => s.system === 'tidings' && s.transport === 'long-poll');
    if (spec !== undefined) specs.push({ ...spec, scenario: 'throughput-profiled' });
  }

  const progress = progressWriter();
  const results: RunResult[] = [];
  process.stderr.write(`bench: ${specs.length} runs${opts.targetUrl === undefined ? '' : ` against ${opts.targetUrl}`}${opts.quick ? ' (quick)' : ''}\n`);
  for (const [i, spec] of specs.entries()) {
    const t0 = Date.now();
    const profileDir = spec.scenario.endsWith('-profiled') && opts.outDir !== undefined ? join(opts.outDir, 'profiles') : undefined;
    const r = await runOne(spec, {
      targetUrl: opts.targetUrl,
      targetPid: opts.targetPid,
      profileDir,
      onProgress: (line) => progress.line(`[${i + 1}/${specs.length}] ${line}`),
    });
    results.push(r);
    progress.done(`[${i + 1}/${specs.length}] ${summary(r, (Date.now() - t0) / 1000)}`);
  }

  process.stdout.write(`${scenarioTables(results, false, true)}\n`);
  if ((all || opts.scenarios.includes(CLIENT_SCENARIO)) && opts.targetUrl === undefined) await clientSdkBench(opts.quick, opts.outDir);
  const info: RunInfo = {
    command: opts.command,
    startedAt: startedAt.toISOString(),
    durationS: (Date.now() - startedAt.getTime()) / 1000,
    quick: opts.quick,
    target: opts.targetUrl,
    environment: measured,
  };
  if (opts.outDir !== undefined) {
    const { checks, env } = await writeReport(opts.outDir, REPO, results, info, join(REPO, 'bench', 'notes.md'));
    process.stdout.write(`\nTargets:\n${checks.map((c) => `  ${c.met === undefined ? '·' : c.met ? '✓' : '✗'} ${c.target}: ${c.detail}`).join('\n')}\n`);
    process.stdout.write(`\nReport: ${join(opts.outDir, 'report.md')}, chart: ${join(opts.outDir, 'chart.svg')}\n`);
    if (opts.readme && all && !opts.quick && opts.targetUrl === undefined) {
      if (writeReadme(join(REPO, 'README.md'), readmeSection(results, info, env))) process.stdout.write('README.md: "Transports compared" updated\n');
    }
  }
  return results;
}

export { rowName };
