#!/usr/bin/env node
/**
 * `npm run bench`: every scenario against Tidings and its peers, each server in a child
 * process pinned to core 0 and the load generator pinned to core 1; prints the tables and
 * writes bench/results/{report.md,chart.svg,results.json} and the README's bench section.
 *
 *   npm run bench -- --quick                      # smoke run, small sizes, < 2 minutes, then a 2-minute soak
 *   npm run bench -- --scenario fanout --scenario idle
 *   npm run bench -- --target http://127.0.0.1:8080 [--pid PID]   # a running server, no peers
 */
import { Command } from 'commander';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { REPO, SCENARIO_NAMES, rerender, runBench } from './bench.js';
import { soak } from './hardening/soak.js';

const program = new Command()
  .name('npm run bench --')
  .description('Tidings benchmarks: what each push technique costs, beside bare ws, bare SSE and Socket.IO 4.')
  .option('--scenario <name>', `${SCENARIO_NAMES.join(', ')} or all (repeatable)`, (v: string, acc: string[]) => [...acc, v], [] as string[])
  .option('--quick', 'small sizes, a smoke run (< 2 minutes); writes to a temporary folder unless --out', false)
  .option('--system <name>', 'only this server: tidings or a peer (repeatable; default all)', (v: string, acc: string[]) => [...acc, v], [] as string[])
  .option('--target <url>', 'run against an already running Tidings server (no peers)')
  .option('--pid <pid>', 'with --target: the server pid, for CPU and RSS from /proc')
  .option('--out <dir>', 'where report.md, chart.svg and results.json go (default bench/results)')
  .option('--no-profile', 'skip the profiled fan-out runs')
  .option('--no-readme', 'leave README.md alone')
  .option('--no-soak', 'with --quick: skip the 2-minute soak (npm run soak) that follows the scenarios')
  .option('--rerender', 'measure nothing: rewrite report.md, chart.svg and the README section from <out>/results.json')
  .showHelpAfterError();

program.parse(process.argv);
const o = program.opts<{ scenario: string[]; system: string[]; quick: boolean; target?: string; pid?: string; out?: string; profile: boolean; readme: boolean; soak: boolean; rerender?: boolean }>();
const outDir = o.out ?? (o.quick || o.target !== undefined ? join(tmpdir(), 'tidings-bench') : join(REPO, 'bench', 'results'));

const work = o.rerender === true ? rerender(outDir, o.readme) : runBench({
  scenarios: o.scenario,
  systems: o.system,
  quick: o.quick,
  targetUrl: o.target,
  targetPid: o.pid === undefined ? undefined : Number(o.pid),
  profile: o.profile,
  outDir,
  readme: o.readme,
  command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
});
// The quick bench ends with a 2-minute soak (issue #9 § 4): its section goes to <out>/hardening.md.
const quickSoak = () =>
  o.quick && o.soak && o.target === undefined && o.rerender !== true
    ? soak({ minutes: 2, clientsPerTransport: 25, channels: 4, rate: 40, out: outDir, command: 'npm run bench -- --quick (npm run soak -- --minutes 2)' })
    : Promise.resolve(true);
work.then(quickSoak).then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
