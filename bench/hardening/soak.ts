#!/usr/bin/env node
/**
 * `npm run soak -- --minutes 30`: a mixed load on all four transports (short poll, long
 * poll, SSE, WebSocket) with steady connection churn, every client resuming by its cursor,
 * against a real Tidings server on 127.0.0.1. Reports delivered, lost and duplicated
 * messages, the server's RSS slope after warm-up and its event-loop delay.
 *
 *   npm run soak -- --minutes 2 --out /tmp/soak      # the quick bench's run
 */
import { Command } from 'commander';
import { ChurningClient, PollClient, SOAK_TRANSPORTS, SseClient, WsClient, type ClientContext, type SoakTransport } from './lib/churning-clients.js';
import { DeliveryLedger } from './lib/delivery-ledger.js';
import { conditions, DEFAULT_OUT, mb, percentile, slope, writeSection } from './lib/results.js';
import { freePort } from '../lib/free-port.js';
import { scrapeMetrics, ServerProcess, sleep } from './lib/server-process.js';
import { pinSelf } from '../lib/proc.js';
import { table } from '../lib/format.js';

export interface SoakOptions {
  minutes: number;
  clientsPerTransport: number;
  channels: number;
  rate: number;
  out: string;
  command: string;
}

interface SoakFigures {
  command: string;
  minutes: number;
  clients: Record<SoakTransport, number>;
  channels: number;
  ratePerSecond: number;
  published: number;
  publishErrors: number;
  delivered: number;
  lost: number;
  missingAtEnd: number;
  duplicates: number;
  gaps: number;
  expectedDeliveries: number;
  connects: number;
  clientErrors: number;
  drainSeconds: number;
  warmupMinutes: number;
  rssSlopeKbPerMin: number;
  heapSlopeKbPerMin: number;
  rssFirstBytes: number | undefined;
  rssLastBytes: number | undefined;
  loopP99MedianMs: number | undefined;
  loopP99WorstMs: number | undefined;
  healthy: boolean;
  serverErrorLogs: number;
}

interface Sample {
  minute: number;
  rssBytes: number;
  heapUsedBytes: number | undefined;
  loopP99Ms: number | undefined;
  loopMaxMs: number | undefined;
  delivered: number;
}

function between(lo: number, hi: number): () => number {
  return () => lo + Math.random() * (hi - lo);
}

export async function soak(o: SoakOptions): Promise<boolean> {
  const t0 = Date.now();
  const port = await freePort();
  // History of 200 messages a channel (20 s at the default rate): full within the warm-up, so
  // that a filling history can't pass for growth, and still far longer than any client is away.
  const server = await ServerProcess.start({ port, args: ['--port', String(port), '--host', '127.0.0.1', '--log-level', 'warn', '--history-count', '200'] });
  const url = server.url;
  const ledger = new DeliveryLedger();
  const stats = { connects: 0, drops: 0, errors: 0, errorExamples: [] as string[] };
  const ctx: ClientContext = { url, ledger, lifetimeMs: between(5_000, 30_000), pauseMs: between(50, 1_000), stats };
  const channels = Array.from({ length: o.channels }, (_, i) => `soak-${i}`);
  const clients: ChurningClient[] = [];
  const byTransport: Record<SoakTransport, number> = { 'short-poll': 0, 'long-poll': 0, sse: 0, ws: 0 };
  let id = 0;
  for (const transport of SOAK_TRANSPORTS) {
    for (let i = 0; i < o.clientsPerTransport; i++) {
      const mine = [channels[id % o.channels]!, channels[(id + 1) % o.channels]!];
      const c =
        transport === 'ws'
          ? new WsClient(id, mine, ctx)
          : transport === 'sse'
            ? new SseClient(id, mine, ctx)
            : new PollClient(id, mine, ctx, transport === 'long-poll' ? 5 : 0, 500);
      clients.push(c);
      byTransport[transport]++;
      id++;
    }
  }
  const running = clients.map((c) => c.run());
  await sleep(2000);

  // The publisher: `rate` messages a second over HTTP keep-alive, round robin over the channels.
  const finalOffsets = new Map<string, number>();
  let published = 0;
  let publishErrors = 0;
  let publishing = true;
  const publisher = (async () => {
    const tick = 100;
    let owed = 0;
    let next = Date.now();
    while (publishing) {
      owed += (o.rate * tick) / 1000;
      const batch: Promise<void>[] = [];
      while (owed >= 1) {
        owed--;
        const channel = channels[published % o.channels]!;
        published++;
        batch.push(
          fetch(`${url}/v1/channels/${channel}/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ n: published }) }).then(
            async (res) => {
              const body = (await res.json()) as { offset?: number };
              if (res.status !== 201 || body.offset === undefined) publishErrors++;
              else finalOffsets.set(channel, Math.max(finalOffsets.get(channel) ?? 0, body.offset));
            },
            () => void publishErrors++,
          ),
        );
      }
      await Promise.all(batch);
      // Ticks missed while the box was busy are dropped, not made up: a burst to catch up
      // would outrun the history of subscribers that happen to be away (a first 30-minute
      // run burst at 450/s after a busy spell and lost 813 deliveries as gaps).
      next = Math.max(next + tick, Date.now());
      await sleep(Math.max(0, next - Date.now()));
    }
  })();

  const samples: Sample[] = [];
  const start = Date.now();
  const end = start + o.minutes * 60_000;
  await scrapeMetrics(url); // resets the server's delay histogram: windows start now
  while (Date.now() < end) {
    await sleep(Math.min(10_000, end - Date.now()));
    const m = await scrapeMetrics(url);
    const s: Sample = {
      minute: (Date.now() - start) / 60_000,
      rssBytes: server.rss() ?? m.rssBytes ?? 0,
      heapUsedBytes: m.heapUsedBytes,
      loopP99Ms: m.loopP99Ms,
      loopMaxMs: m.loopMaxMs,
      delivered: ledger.delivered,
    };
    samples.push(s);
    process.stderr.write(
      `  soak ${s.minute.toFixed(1)}/${o.minutes} min: published ${published}, delivered ${ledger.delivered}, lost ${ledger.lost}, dup ${ledger.duplicates}, RSS ${mb(s.rssBytes)} MB, loop p99 ${s.loopP99Ms?.toFixed(1)} ms, connects ${stats.connects}\n`,
    );
  }
  publishing = false;
  await publisher;

  // Drain: no more churn; every client catches up to the last offset of its channels.
  for (const c of clients) c.settle();
  const drainStart = Date.now();
  while (!ledger.caughtUp(finalOffsets) && Date.now() - drainStart < 30_000) await sleep(100);
  const drainSeconds = (Date.now() - drainStart) / 1000;
  for (const c of clients) c.stop();
  await Promise.race([Promise.all(running), sleep(15_000)]);
  const { missing } = ledger.settle(finalOffsets);
  const healthy = await server.healthy();
  await server.stop();

  // RSS slope after warm-up: least squares over the samples past the first quarter (at most 5 min).
  const warmup = Math.min(5, o.minutes / 4);
  const steady = samples.filter((s) => s.minute >= warmup);
  const rssSlopeKbPerMin = slope(steady.map((s) => ({ x: s.minute, y: s.rssBytes / 1024 })));
  const heapSlopeKbPerMin = slope(steady.filter((s) => s.heapUsedBytes !== undefined).map((s) => ({ x: s.minute, y: s.heapUsedBytes! / 1024 })));
  const loopP99s = samples.map((s) => s.loopP99Ms).filter((x): x is number => x !== undefined);
  const expected = ledger.delivered + ledger.lost;
  const figures: SoakFigures & Record<string, unknown> = {
    command: o.command,
    minutes: o.minutes,
    clients: byTransport,
    channels: o.channels,
    ratePerSecond: o.rate,
    published,
    publishErrors,
    delivered: ledger.delivered,
    lost: ledger.lost,
    missingAtEnd: missing,
    duplicates: ledger.duplicates,
    gaps: ledger.gaps,
    epochChanges: ledger.epochChanges,
    expectedDeliveries: expected,
    connects: stats.connects,
    drops: stats.drops,
    clientErrors: stats.errors,
    clientErrorExamples: stats.errorExamples,
    drainSeconds,
    warmupMinutes: warmup,
    rssSlopeKbPerMin,
    heapSlopeKbPerMin,
    rssFirstBytes: samples[0]?.rssBytes,
    rssLastBytes: samples.at(-1)?.rssBytes,
    loopP99MedianMs: percentile(loopP99s, 0.5),
    loopP99WorstMs: loopP99s.length === 0 ? undefined : Math.max(...loopP99s),
    healthy,
    serverErrorLogs: server.errorCount,
    serverErrorExamples: server.errorLines.slice(0, 5),
    samples,
    seconds: (Date.now() - t0) / 1000,
  };
  // "Near zero": under 1 % of the first sample's RSS per 10 minutes.
  const slopeOk = Number.isFinite(rssSlopeKbPerMin) && rssSlopeKbPerMin * 10 * 1024 < 0.01 * (samples[0]?.rssBytes ?? 0);
  const ok = ledger.lost === 0 && ledger.duplicates === 0 && slopeOk && healthy && server.errorCount === 0 && publishErrors === 0;
  const md = markdown(figures, slopeOk, ok);
  const paths = writeSection(o.out, 'soak', md, figures);
  process.stdout.write(`${md}\n\nWritten: ${paths.md}, ${paths.json}\n`);
  return ok;
}

function markdown(f: SoakFigures, slopeOk: boolean, ok: boolean): string {
  const mark = (b: boolean) => (b ? '✅' : '❌');
  const n = (x: number) => x.toLocaleString('en-US');
  const c = f.clients;
  return [
    `## Soak (${f.minutes} min)`,
    '',
    `\`${f.command}\`: ${Object.entries(c).map(([t, k]) => `${k} ${t}`).join(', ')} subscribers, each on 2 of ${f.channels} channels; a publisher at ${f.ratePerSecond} messages/s over HTTP; server defaults but \`--history-count 200\` (full within the warm-up). Every subscriber drops its connection after 5–30 s (WebSocket: half clean closes, half cut; SSE and polls: the socket destroyed, long polls mid-wait), waits 0.05–1 s and resumes by its cursor: ${n(f.connects)} connections in all. Short polls every 500 ms, long polls \`wait=5\`. At the end the publisher stops and every subscriber must reach each channel’s last offset (${f.drainSeconds.toFixed(1)} s). ${conditions()}.`,
    '',
    table(
      ['goal', 'result', 'measured'],
      [
        ['nothing lost (gaps included)', mark(f.lost === 0 && f.gaps === 0), `${n(f.lost)} lost of ${n(f.expectedDeliveries)} due (${n(f.missingAtEnd)} still missing at the end), ${f.gaps} gap notices`],
        ['nothing duplicated', mark(f.duplicates === 0), `${n(f.duplicates)} duplicates`],
        ['delivered', '', `${n(f.delivered)} deliveries of ${n(f.published)} messages (${f.publishErrors} publish errors)`],
        [
          `RSS slope after ${f.warmupMinutes} min warm-up near zero (under 1 % of RSS per 10 min)`,
          mark(slopeOk),
          `${f.rssSlopeKbPerMin.toFixed(1)} KB/min (V8 heap used ${Number(f.heapSlopeKbPerMin).toFixed(1)} KB/min); RSS ${mb(f.rssFirstBytes)} → ${mb(f.rssLastBytes)} MB`,
        ],
        ['event-loop delay p99 (inside the server; 10-s windows; an idle loop reads ≈ 10.1 ms at this resolution)', '', `median window ${f.loopP99MedianMs?.toFixed(1)} ms, worst window ${f.loopP99WorstMs?.toFixed(1)} ms`],
        ['server healthy, no error logged', mark(f.healthy && f.serverErrorLogs === 0), `${f.healthy ? 'healthy' : 'NOT healthy'}, ${f.serverErrorLogs} error lines; client-side errors ${f.clientErrors}`],
      ],
      true,
    ),
    '',
    `Overall: ${ok ? '✅ every goal met' : '❌ goals missed'}. Per-10-s samples (RSS, heap, loop delay) are in \`hardening/soak.json\`. Event-loop delay is prom-client’s \`nodejs_eventloop_lag_p99_seconds\` (\`monitorEventLoopDelay\`, 10 ms resolution), read from \`/metrics\` every 10 s; each reading covers the time since the previous one.`,
  ].join('\n');
}

function main(): void {
  const program = new Command()
    .name('npm run soak --')
    .option('--minutes <n>', 'how long the load runs (the drain comes after)', '30')
    .option('--clients <n>', 'subscribers per transport', '25')
    .option('--channels <n>', 'channels (each subscriber takes 2)', '4')
    .option('--rate <n>', 'messages published per second', '40')
    .option('--out <dir>', 'where hardening.md and hardening/soak.json go', DEFAULT_OUT)
    .showHelpAfterError();
  program.parse(process.argv);
  const a = program.opts<{ minutes: string; clients: string; channels: string; rate: string; out: string }>();
  const minutes = Number(a.minutes);
  const clientsPerTransport = Number(a.clients);
  const channels = Number(a.channels);
  const rate = Number(a.rate);
  if (!(minutes > 0 && minutes <= 24 * 60) || !(clientsPerTransport >= 1 && clientsPerTransport <= 2000) || !(channels >= 2 && channels <= 100) || !(rate > 0 && rate <= 10_000)) {
    process.stderr.write('soak: --minutes 0..1440, --clients 1..2000, --channels 2..100, --rate 0..10000\n');
    process.exit(2);
  }
  pinSelf(1);
  const command = `npm run soak -- --minutes ${minutes} --clients ${clientsPerTransport} --channels ${channels} --rate ${rate}`;
  soak({ minutes, clientsPerTransport, channels, rate, out: a.out, command }).then(
    (ok) => process.exit(ok ? 0 : 1),
    (err: unknown) => {
      process.stderr.write(`soak: ${(err as Error).stack}\n`);
      process.exit(1);
    },
  );
}

// Run as a script, not when imported by the bench.
if (process.argv[1]?.endsWith('soak.js')) main();
