/** How retries after a failure spread out: the ceiling starts at `baseMs` and doubles per failure in a row, up to `maxMs`. */
export interface Backoff {
  readonly baseMs: number;
  readonly maxMs: number;
}

/**
 * A catch-up that found the store unavailable (Redis restarting) tries again within
 * 0.5 s, then 1, 2, 4, 8 s while it keeps failing.
 */
export const UNAVAILABLE_RETRY: Backoff = { baseMs: 500, maxMs: 8000 };

/**
 * The wait before retry number `attempt` (0 for the first after a success): "full jitter",
 * a random time in [0, min(maxMs, baseMs · 2^attempt)), as in AWS's "Exponential Backoff
 * And Jitter" and centrifuge-js's reconnect backoff. Every subscriber of a channel meets
 * the same outage at the same moment; random waits spread their retries over the whole
 * window instead of sending them to the store together, and the doubling eases off a
 * store that stays down.
 */
export function fullJitter(attempt: number, backoff: Backoff, random: () => number = Math.random): number {
  // 2^30 · base is past any sane maximum already; the cap keeps the power finite.
  const ceiling = Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}
