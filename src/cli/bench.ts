import type { Command } from 'commander';

/**
 * `tidings bench --url URL`: the benchmark harness of bench/ against a running server (no
 * peers), e.g. `tidings bench --url http://127.0.0.1:8080 --scenario fanout --pid 1234`.
 * The harness and its load-generator dependencies (undici, socket.io-client) are loaded
 * only when this command runs, so `tidings serve` never pays for them.
 */
export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('Benchmark a running Tidings server: subscribers over each transport, publish, report loss, latency, bytes and cost.')
    .requiredOption('--url <url>', 'the server, e.g. http://127.0.0.1:8080')
    .option('--scenario <name>', 'compare, fanout, throughput, idle, growth or all (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--quick', 'small sizes, a smoke run', false)
    .option('--pid <pid>', "the server's process id, for CPU per delivery and RSS from /proc (same machine only)")
    .option('--out <dir>', 'also write report.md, chart.svg and results.json here')
    .action(async (o: { url: string; scenario: string[]; quick: boolean; pid?: string; out?: string }) => {
      if (!/^https?:\/\//.test(o.url)) throw new Error(`--url ${o.url} is not an http:// URL`);
      const pid = o.pid === undefined ? undefined : Number(o.pid);
      if (pid !== undefined && !Number.isInteger(pid)) throw new Error(`--pid ${o.pid} is not a process id`);
      let bench: typeof import('../../bench/bench.js');
      try {
        bench = await import('../../bench/bench.js');
      } catch (err) {
        throw new Error(`the benchmark harness is not installed with this build (${(err as Error).message}); run it from a clone with dev dependencies`);
      }
      await bench.runBench({
        scenarios: o.scenario,
        quick: o.quick,
        targetUrl: o.url,
        targetPid: pid,
        profile: false,
        outDir: o.out,
        readme: false,
        command: `tidings bench ${process.argv.slice(3).join(' ')}`,
      });
    });
}
