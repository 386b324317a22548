import type { PublishRequest } from '../hub/hub.js';

/**
 * One moving thing of the demo. What it publishes at tick `t` (a count of ticks of the wall
 * clock) is a pure function of `t`, so every process running the demo agrees on it, and
 * publishing it with the idempotency key of its tick makes N nodes (or `--workers`) publish
 * each message once.
 */
export interface DemoStream {
  readonly channel: string;
  /** The message of tick `t`, or undefined when this stream is quiet then. */
  at(t: number): PublishRequest | undefined;
}

/** A seed for `seededRandom` from a stream's salt and a number (a tick, a deploy, a match). */
export function seedOf(salt: number, n: number): number {
  return (Math.imul(n | 0, 2654435761) ^ Math.imul(Math.floor(n / 2 ** 32), 40503) ^ salt) >>> 0;
}
