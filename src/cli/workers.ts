import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { createLogger } from '../logger.js';
import type { Config } from '../config.js';

/** Restarts allowed within RESTART_WINDOW_MS before further ones wait (a crash loop must not spin). */
const MAX_RESTARTS = 10;
const RESTART_WINDOW_MS = 60_000;

/**
 * `serve --workers N`: this process becomes the node:cluster primary and runs N workers,
 * each a whole Tidings server on the one shared port (the primary hands connections out
 * in turn). Any worker answers any request because they share the Redis engine.
 *
 * A worker that dies is restarted while the setup is sound (it, or a sibling, is serving);
 * restarts beyond MAX_RESTARTS a minute wait for the window to clear, so a crash loop
 * doesn't spin. When every worker dies before ever listening (bad Redis URL, port taken),
 * a restart won't fix it: the primary exits 1. SIGTERM or SIGINT
 * drains every worker (each runs the normal graceful shutdown) and exits 0 once all did.
 */
export function runPrimary(config: Config): void {
  const logger: Logger = createLogger(config.logLevel);
  const listened = new Set<Worker>();
  const restarts: number[] = [];
  let stopping = false;
  /** A worker exited non-zero while draining. */
  let failed = false;

  const fork = () => {
    const worker = cluster.fork();
    worker.once('listening', () => listened.add(worker));
  };

  const scheduleRestart = () => {
    const now = Date.now();
    while (restarts.length > 0 && restarts[0]! <= now - RESTART_WINDOW_MS) restarts.shift();
    const wait = restarts.length < MAX_RESTARTS ? 0 : restarts[0]! + RESTART_WINDOW_MS - now;
    restarts.push(now + wait);
    if (wait > 0) logger.warn({ waitMs: wait }, 'workers keep dying: waiting before the next restart');
    setTimeout(() => {
      if (!stopping) fork();
    }, wait);
  };

  // A worker leaves cluster.workers only once it has both exited and disconnected, in
  // either order: count the ones not yet dead, or an exit seen before its disconnect
  // would leave the primary waiting for a worker that is gone.
  const living = (): Worker[] => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && !w.isDead());
  const alive = () => living().length;

  cluster.on('exit', (worker, code, signal) => {
    const wasServing = listened.delete(worker);
    if (stopping) {
      if (code !== 0) {
        failed = true;
        logger.error({ pid: worker.process.pid, code, signal }, 'worker did not stop cleanly');
      }
      if (alive() === 0) process.exit(failed ? 1 : 0);
    } else if (wasServing || listened.size > 0) {
      // It served, or its siblings do: the setup is sound, so this is worth another go.
      logger.warn({ pid: worker.process.pid, code, signal }, 'worker died; starting another');
      scheduleRestart();
    } else {
      logger.error({ pid: worker.process.pid, code, signal }, 'worker failed to start');
      if (alive() === 0) {
        process.stderr.write('tidings: the workers failed to start (see the messages above)\n');
        process.exit(1);
      }
    }
  });

  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    const workers = living();
    logger.info({ signal, workers: workers.length }, 'signal received: draining every worker');
    if (workers.length === 0) process.exit(0);
    for (const w of workers) w.process.kill('SIGTERM');
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  logger.info({ workers: config.workers, engine: config.engine }, 'starting workers');
  for (let i = 0; i < config.workers; i++) fork();
}

/** True in the primary of `--workers N` (N > 1): it serves nothing itself. */
export function isPrimaryOf(config: Config): boolean {
  return config.workers > 1 && cluster.isPrimary;
}
