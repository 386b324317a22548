/**
 * Many deadlines, one timer: entries fall into buckets of `resolutionMs`, and a single
 * interval (running only while there are entries) fires each bucket once it is due.
 * A long poll's deadline costs a Set insert, not a setTimeout per connection.
 *
 * The ticks that have a bucket are kept in order, so a beat looks only at the due ones at
 * the front: token expiries hours away add buckets that no beat has to walk past.
 */
export class CoarseTimer {
  private readonly buckets = new Map<number, Set<() => void>>();
  /** Ticks with a bucket, ascending. */
  private readonly ticks: number[] = [];
  private interval: NodeJS.Timeout | undefined;
  private size = 0;

  constructor(private readonly resolutionMs = 100) {}

  /** Calls `fn` at `deadline` (ms since epoch) or up to one resolution later. Returns a cancel. */
  at(deadline: number, fn: () => void): () => void {
    const tick = Math.ceil(deadline / this.resolutionMs);
    let bucket = this.buckets.get(tick);
    if (bucket === undefined) {
      bucket = new Set();
      this.buckets.set(tick, bucket);
      this.ticks.splice(this.insertionPoint(tick), 0, tick);
    }
    bucket.add(fn);
    this.size++;
    if (this.interval === undefined) {
      this.interval = setInterval(() => this.fire(), this.resolutionMs);
      this.interval.unref();
    }
    const owner = bucket;
    return () => {
      if (owner.delete(fn)) this.size--;
    };
  }

  /** Where `tick` goes in the ascending `ticks`; deadlines mostly grow, so mostly the end. */
  private insertionPoint(tick: number): number {
    const ticks = this.ticks;
    if (ticks.length === 0 || ticks[ticks.length - 1]! < tick) return ticks.length;
    let lo = 0;
    let hi = ticks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ticks[mid]! < tick) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private fire(): void {
    const now = Math.floor(Date.now() / this.resolutionMs);
    let due = 0;
    while (due < this.ticks.length && this.ticks[due]! <= now) due++;
    // Taken out first: an entry added by a callback lands in a bucket of its own, fired later.
    for (const tick of this.ticks.splice(0, due)) {
      const bucket = this.buckets.get(tick)!;
      this.buckets.delete(tick);
      for (const fn of bucket) {
        // Removed before the call, so a late cancel (or one from inside fn) is a no-op.
        bucket.delete(fn);
        this.size--;
        fn();
      }
    }
    if (this.size === 0 && this.interval !== undefined) {
      clearInterval(this.interval);
      this.interval = undefined;
    }
  }

  stop(): void {
    if (this.interval !== undefined) clearInterval(this.interval);
    this.interval = undefined;
    this.buckets.clear();
    this.ticks.length = 0;
    this.size = 0;
  }
}
