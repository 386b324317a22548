import { ReplyError, type Cluster, type Redis, type RedisOptions } from 'ioredis';
import { TidingsError } from '../../core/errors.js';

/**
 * Options every Redis connection of the engine shares. Nothing waits in ioredis's offline
 * queue: a command while Redis is unreachable fails at once, and one that gets no answer
 * (Redis paused, a network partition) fails after `commandTimeoutMs`, so a publisher hears
 * 503 in bounded time instead of being acknowledged a minute later, or never.
 */
export function connectionOptions(commandTimeoutMs: number): RedisOptions {
  return {
    enableOfflineQueue: false,
    commandTimeout: commandTimeoutMs,
    connectTimeout: Math.max(1000, commandTimeoutMs),
    // A command cut off by a dropped connection fails instead of being sent again later:
    // resending could publish twice behind the client's back.
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    autoResubscribe: false,
    // Back within a second once Redis returns, so subscribers catch up soon after.
    retryStrategy: (times) => Math.min(100 * times, 1000),
    lazyConnect: true,
  };
}

/** Replies that mean "Redis can't serve right now", not "the command is wrong". */
const TRANSIENT_REPLY = /^(TIMEOUT|LOADING|BUSY|MASTERDOWN|READONLY|OOM|TRYAGAIN|CLUSTERDOWN|NOREPLICAS)\b/;

/**
 * Redis failing to answer becomes 503 `unavailable`, which clients retry; an error reply
 * that says the command itself is wrong stays what it is (a bug: 500).
 */
export function asUnavailable(err: unknown): unknown {
  if (err instanceof TidingsError) return err;
  if (err instanceof ReplyError && !TRANSIENT_REPLY.test((err as Error).message)) return err;
  const why = err instanceof Error ? err.message : String(err);
  return new TidingsError('unavailable', `The message store (Redis) can't answer now (${why}); retry shortly.`, { 'retry-after': '1' });
}

/** Resolves once `redis` is connected and ready, or rejects after `timeoutMs` with the reason. */
export async function connected(redis: Redis | Cluster, what: string, timeoutMs: number): Promise<void> {
  let lastError: Error | undefined;
  const onError = (err: Error) => {
    lastError = err;
  };
  redis.on('error', onError);
  try {
    await Promise.race([
      redis.connect(),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`${what}: no answer from Redis within ${timeoutMs} ms${lastError ? ` (${lastError.message})` : ''}`)), timeoutMs).unref(),
      ),
    ]);
  } catch (err) {
    redis.disconnect();
    const why = lastError?.message ?? (err as Error).message;
    throw new Error(why.startsWith(what) ? why : `${what}: ${why}`);
  } finally {
    redis.off('error', onError);
  }
}

/** QUIT politely, but don't wait on a Redis that doesn't answer. */
export async function closeConnection(redis: Redis | Cluster): Promise<void> {
  await Promise.race([redis.quit().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 500).unref())]);
  redis.disconnect();
}
