/** Publish→display latencies of the last `size` messages, for a median and a p99. */
export class Latencies {
  private readonly samples: number[] = [];
  private next = 0;

  constructor(private readonly size = 1000) {}

  add(ms: number): void {
    if (this.samples.length < this.size) this.samples.push(ms);
    else this.samples[this.next] = ms;
    this.next = (this.next + 1) % this.size;
  }

  /** The q-quantile (0..1) by nearest rank, or undefined with no samples. */
  quantile(q: number): number | undefined {
    if (this.samples.length === 0) return undefined;
    const sorted = [...this.samples].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
  }
}

/**
 * Checks what a subscription hands the page, per channel epoch: each message must be the one
 * after the last. A repeat (an offset already seen) or a hole (offsets skipped) is counted;
 * there should be none. A new epoch (the channel began again) restarts the count.
 */
export class SequenceCheck {
  repeats = 0;
  holes = 0;
  private epoch: string | undefined;
  private last = 0;

  see(epoch: string, offset: number): void {
    if (epoch !== this.epoch) {
      this.epoch = epoch;
      this.last = offset;
      return;
    }
    if (offset <= this.last) this.repeats++;
    else if (offset > this.last + 1) this.holes += offset - this.last - 1;
    this.last = Math.max(this.last, offset);
  }
}

/** Counts per second over the last `seconds`, for the live chart. */
export class PerSecond {
  readonly buckets: number[];
  private second = Math.floor(Date.now() / 1000);

  constructor(seconds = 30) {
    this.buckets = new Array<number>(seconds).fill(0);
  }

  add(n = 1, now = Date.now()): void {
    this.roll(now);
    this.buckets[this.buckets.length - 1]! += n;
  }

  /** Moves the window up to `now`, so quiet seconds show as zeros. */
  roll(now = Date.now()): void {
    const second = Math.floor(now / 1000);
    const steps = Math.min(second - this.second, this.buckets.length);
    for (let i = 0; i < steps; i++) {
      this.buckets.shift();
      this.buckets.push(0);
    }
    this.second = second;
  }
}
