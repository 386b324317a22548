/** Bounds of an exponential backoff, in ms. */
export interface BackoffOptions {
  /** The first ceiling; it doubles each attempt. */
  min: number;
  /** The largest ceiling. */
  max: number;
}

/**
 * "Full jitter" (AWS Architecture Blog, *Exponential Backoff and Jitter*): the delay is
 * uniform in [0, min(max, min·2^attempt)], so clients dropped together by a server
 * restart come back spread over the whole window instead of in synchronised waves, and a
 * channel's subscriptions that met one store outage don't retry it in the same instant.
 * Used by the client SDK (reconnects) and the hub (catch-ups that found the store down).
 */
export function backoffDelay(attempt: number, { min, max }: BackoffOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(max, min * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}
