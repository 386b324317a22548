import { cpuSeconds } from '../lib/proc.js';
import type { Engine } from '../../src/engines/engine.js';

export interface PublishRate {
  engine: string;
  publishes: number;
  perSecond: number;
  /** Wall time per publish at this concurrency, µs. */
  wallUsPerPublish: number;
  /** This (engine client) process's CPU per publish, µs. */
  clientCpuUsPerPublish: number;
  /** redis-server's CPU per publish, µs (Redis engine only). */
  redisCpuUsPerPublish?: number;
}

/**
 * Publishes with history, straight into an engine (no HTTP in the way), `inFlight` at a
 * time for `durationMs`: the figure Centrifugo publishes for its Redis broker (about 9.7 µs
 * per publish with history on localhost).
 */
export async function publishRate(name: string, engine: Engine, durationMs: number, inFlight: number, redisPid?: number): Promise<PublishRate> {
  const channels = Array.from({ length: 16 }, (_, i) => `rate-${i}-${Date.now()}`);
  const data = { text: 'a message of a typical size, about a hundred bytes of JSON in all', n: 0 };
  let publishes = 0;
  let running = true;
  const cpu0 = process.cpuUsage();
  const redis0 = cpuSeconds(redisPid);
  const started = performance.now();
  const worker = async (w: number) => {
    while (running) {
      await engine.publish([{ channel: channels[w % channels.length]!, data }]);
      // The memory engine answers in a microtask: let the timer that ends the run fire.
      if (++publishes % 256 === 0) await new Promise((r) => setImmediate(r));
    }
  };
  const workers = Array.from({ length: inFlight }, (_, w) => worker(w));
  await new Promise((r) => setTimeout(r, durationMs));
  running = false;
  await Promise.all(workers);
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpu0);
  const redis1 = cpuSeconds(redisPid);
  return {
    engine: name,
    publishes,
    perSecond: (publishes * 1000) / wallMs,
    wallUsPerPublish: (wallMs * 1000) / publishes,
    clientCpuUsPerPublish: (cpu.user + cpu.system) / publishes,
    redisCpuUsPerPublish: redis0 === undefined || redis1 === undefined ? undefined : ((redis1 - redis0) * 1e6) / publishes,
  };
}
