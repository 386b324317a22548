import { TidingsError } from '../core/errors.js';

/**
 * Publishes per second per client (token bucket; a burst of one second's worth).
 * `0` turns it off. Buckets of clients that went quiet are dropped by one coarse sweep.
 */
export class PublishRateLimit {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly sweeper: NodeJS.Timeout | undefined;

  constructor(private readonly perSecond: number) {
    if (perSecond > 0) {
      this.sweeper = setInterval(() => this.sweep(), 10_000);
      this.sweeper.unref();
    }
  }

  /**
   * Takes `count` tokens for `client` or throws 429 with the seconds until they're there.
   * A batch counts at most one second's worth, or a large batch could never pass.
   */
  take(client: string, requested = 1): void {
    if (this.perSecond === 0) return;
    const count = Math.min(requested, this.perSecond);
    const now = Date.now();
    let bucket = this.buckets.get(client);
    if (bucket === undefined) {
      bucket = { tokens: this.perSecond, at: now };
      this.buckets.set(client, bucket);
    }
    bucket.tokens = Math.min(this.perSecond, bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond);
    bucket.at = now;
    if (bucket.tokens < count) {
      const wait = Math.max(1, Math.ceil((count - bucket.tokens) / this.perSecond));
      throw new TidingsError('rate_limited', `More than ${this.perSecond} publishes per second from this client; retry in ${wait} s.`, {
        'retry-after': String(wait),
      });
    }
    bucket.tokens -= count;
  }

  private sweep(): void {
    const idle = Date.now() - 10_000;
    for (const [client, b] of this.buckets) if (b.at < idle) this.buckets.delete(client);
  }

  stop(): void {
    if (this.sweeper !== undefined) clearInterval(this.sweeper);
  }
}
