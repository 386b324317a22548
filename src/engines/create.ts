import type { Config } from '../config.js';
import type { Engine, HistoryLimits } from './engine.js';
import { MemoryEngine } from './memory.js';
import { RedisEngine } from './redis/redis-engine.js';

export function historyLimits(config: Config): HistoryLimits {
  return { maxCount: config.historyCount, maxAgeMs: config.historyAgeMs, dedupeWindowMs: config.dedupeWindowMs };
}

/**
 * The engine `--engine` names, connected and ready. Redis that can't be reached rejects
 * with a one-line reason, so `serve` stops at start instead of answering 503 forever.
 */
export async function createEngine(config: Config, onError?: (err: unknown) => void): Promise<Engine> {
  if (config.engine === 'redis') return RedisEngine.connect({ ...historyLimits(config), url: config.redisUrl, commandTimeoutMs: config.redisTimeoutMs, onError });
  return new MemoryEngine(historyLimits(config));
}
