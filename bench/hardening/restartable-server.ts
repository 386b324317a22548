#!/usr/bin/env node
/**
 * A Tidings server that restarts in place on SIGUSR2, for the reconnect storm: it drains
 * and closes exactly like a deploy's SIGTERM (WebSocket 1001, SSE `event: close`, the
 * listener closed), then a new TidingsServer listens on the same port. What survives is
 * only the engine, as a Redis engine's history would survive a real restart; the memory
 * engine's `close()` is held back for that. Every connection, subscription and timer is new.
 *
 * Its own event-loop delay (monitorEventLoopDelay, 10 ms resolution) and RSS go to stdout
 * as a JSON line every second, so the figures don't depend on /metrics answering mid-storm.
 *
 *   node restartable-server.js --port 8080
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pino } from 'pino';
import { loadConfig } from '../../src/config.js';
import type { Engine } from '../../src/engines/engine.js';
import { MemoryEngine } from '../../src/engines/memory.js';
import { TidingsServer } from '../../src/server.js';

const port = process.argv[process.argv.indexOf('--port') + 1];
const config = loadConfig({ port, host: '127.0.0.1', logLevel: 'warn' });
const logger = pino({ level: config.logLevel, name: 'tidings' });
const memory = new MemoryEngine({ maxCount: config.historyCount, maxAgeMs: config.historyAgeMs, dedupeWindowMs: config.dedupeWindowMs });
// The engine outlives each server: close() is a no-op until the process ends.
const engine = new Proxy(memory, {
  get(target, prop, receiver) {
    if (prop === 'close') return async () => {};
    const value: unknown = Reflect.get(target, prop, receiver);
    return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
  },
}) as Engine;

let server = new TidingsServer(config, { engine, logger });
await server.listen();

const loop = monitorEventLoopDelay({ resolution: 10 });
loop.enable();
setInterval(() => {
  let rssBytes: number | undefined;
  try {
    rssBytes = process.memoryUsage.rss();
  } catch {
    // EMFILE: every file this process may open is a socket just now; the reading waits.
  }
  process.stdout.write(`${JSON.stringify({ sample: { at: Date.now(), loopP99Ms: loop.percentile(99) / 1e6, loopMaxMs: loop.max / 1e6, rssBytes } })}\n`);
  loop.reset();
}, 1000).unref();

let restarting = false;
process.on('SIGUSR2', () => {
  if (restarting) return;
  restarting = true;
  const t0 = Date.now();
  void (async () => {
    await server.close();
    const closedAt = Date.now();
    server = new TidingsServer(config, { engine, logger });
    await server.listen();
    process.stdout.write(`${JSON.stringify({ restarted: { startedAt: t0, closedAt, listeningAt: Date.now() } })}\n`);
    restarting = false;
  })();
});
process.on('SIGTERM', () => {
  void server.close().then(() => process.exit(0));
});
