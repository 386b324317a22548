import type { Tidings } from '/client.js';

/**
 * Publishes `{text, t}` to the lab's channel by hand or at a steady rate. `t` is the page's
 * clock at publish time, so each panel can measure publish→display latency on one clock.
 * At most `maxInFlight` publishes wait for an answer; past that, the rate is not met, and
 * `behind` says how many were skipped rather than queued without bound.
 */
export class Publisher {
  published = 0;
  failed = 0;
  behind = 0;
  private inFlight = 0;
  private seq = 0;
  private owed = 0;
  private timer: ReturnType<typeof setInterval> | undefined;
  private rate = 0;
  private lastTick = 0;

  constructor(
    private readonly client: Tidings,
    private readonly channel: string,
    private readonly onError: (err: unknown) => void,
    private readonly maxInFlight = 16,
  ) {}

  async publish(text: string): Promise<void> {
    this.inFlight++;
    try {
      await this.client.publish(this.channel, { text, t: Date.now() });
      this.published++;
    } catch (err) {
      this.failed++;
      this.onError(err);
    } finally {
      this.inFlight--;
    }
  }

  /** Messages per second; 0 stops. One 50 ms timer pays out what the elapsed time owes. */
  setRate(perSecond: number): void {
    this.rate = perSecond;
    if (perSecond === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
      this.owed = 0;
      return;
    }
    if (this.timer !== undefined) return;
    this.lastTick = performance.now();
    this.timer = setInterval(() => {
      const now = performance.now();
      this.owed += ((now - this.lastTick) / 1000) * this.rate;
      this.lastTick = now;
      while (this.owed >= 1) {
        this.owed--;
        if (this.inFlight >= this.maxInFlight) {
          this.behind++;
          continue;
        }
        void this.publish(`auto #${++this.seq}`);
      }
    }, 50);
  }
}
