/**
 * Many deadlines, one timer: entries fall into buckets of `resolutionMs`, and a single
 * interval (running only while there are entries) fires each bucket once it is due.
 * A long poll's deadline costs a Set insert, not a setTimeout per connection.
 */
export class CoarseTimer {
  private readonly buckets = new Map<number, Set<() => void>>();
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

  private fire(): void {
    const now = Math.floor(Date.now() / this.resolutionMs);
    for (const [tick, bucket] of this.buckets) {
      if (tick > now) continue;
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
    this.size = 0;
  }
}
