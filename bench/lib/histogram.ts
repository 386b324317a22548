/**
 * A log-bucketed latency histogram: 1 % wide buckets from 1 µs up, so percentiles are
 * within 1 % without keeping every sample (a run can hold millions of deliveries).
 */
const GROWTH = Math.log(1.01);
const BUCKETS = 2400; // 1.01^2400 µs ≈ 23 hours: nothing measured here is longer

export class Histogram {
  private readonly counts = new Float64Array(BUCKETS);
  count = 0;
  max = 0;

  /** Records one value in milliseconds. */
  record(ms: number): void {
    const us = ms * 1000;
    const i = us <= 1 ? 0 : Math.min(BUCKETS - 1, Math.ceil(Math.log(us) / GROWTH));
    this.counts[i]! += 1;
    this.count++;
    if (ms > this.max) this.max = ms;
  }

  /** The value (ms) at or below which `q` of the records lie; 0 when empty. */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.ceil(q * this.count);
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(this.max, Math.exp(i * GROWTH) / 1000);
    }
    return this.max;
  }
}
