import { Histogram } from '../lib/histogram.js';
import type { Received } from './fleet.js';

/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * Checks every delivery against what was published: each message carries `seq` (1, 2, …,
 * in publish order) and `t` (publish time, ms). Per subscriber it keeps a bitmap of the
 * seqs seen, so a repeat is a duplicate and what is missing at the end is lost. Order is
 * checked on what the server promises: Tidings' offsets must rise with every delivery (the
 * publisher pipelines its POSTs, so offsets, not seqs, are the server's order); a peer has
 * no offsets and is checked on seq.
 */
export class Tracker {
  readonly latency = new Histogram();
  private readonly seen: Uint8Array[];
  private readonly highest: Float64Array;
  /** How many subscribers have each seq, to know how far the slowest one has come. */
  private perSeq = new Uint32Array(1024);
  /** Every subscriber has every seq up to this one. */
  lowWater = 0;
  delivered = 0;
  duplicates = 0;
  outOfOrder = 0;
  gaps = 0;
  /** Deliveries before the run started are not counted (there should be none). */
  measuring = false;
  private waiters: (() => void)[] = [];

  constructor(readonly subscribers: number) {
    this.seen = Array.from({ length: subscribers }, () => new Uint8Array(64));
    this.highest = new Float64Array(subscribers);
  }

  /** One message for subscriber `sub`: the `seq` and `t` the publisher put in it, and its order key. */
  receive(sub: number, { seq, t, order }: Received, now: number): void {
    if (!this.measuring) return;
    let seen = this.seen[sub]!;
    if (seq >= seen.length) {
      const bigger = new Uint8Array(Math.max(seq + 1, seen.length * 2));
      bigger.set(seen);
      this.seen[sub] = seen = bigger;
    }
    if (seen[seq] === 1) {
      this.duplicates++;
      return;
    }
    seen[seq] = 1;
    if (order < this.highest[sub]!) this.outOfOrder++;
    else this.highest[sub] = order;
    this.delivered++;
    this.latency.record(now - t);
    if (seq >= this.perSeq.length) {
      const bigger = new Uint32Array(Math.max(seq + 1, this.perSeq.length * 2));
      bigger.set(this.perSeq);
      this.perSeq = bigger;
    }
    if (++this.perSeq[seq]! === this.subscribers && seq === this.lowWater + 1) {
      while (this.lowWater + 1 < this.perSeq.length && this.perSeq[this.lowWater + 1] === this.subscribers) this.lowWater++;
      for (const w of this.waiters.splice(0)) w();
    }
  }

  /** Resolves when the slowest subscriber has moved on (or after `ms`, whichever is first). */
  advanced(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
