import type { Logger } from 'pino';
import type { PublishRequest, PublishResult } from '../hub/hub.js';
import { CricketStream } from './cricket.js';
import { DeployLogStream } from './deploy-log.js';
import type { DemoStream } from './stream.js';
import { TickerStream } from './ticker.js';

export interface DemoFeedOptions {
  /** The publish every client's message goes through (the hub's), so the demo is no special case. */
  publish: (batch: readonly PublishRequest[]) => Promise<PublishResult[]>;
  logger: Logger;
  /** One timer drives every stream; at 250 ms the feed publishes about 5.5 messages/s in all. */
  tickMs?: number;
  /** The wall clock, in ms; a test may run the demo on a clock of its own. */
  now?: () => number;
}

/** Channels the demo writes to all start with this; it writes nowhere else. */
export const DEMO_PREFIX = 'demo:';

/** Ticks a late timer (a busy event loop, a slow engine) publishes at once to catch up; older ones are dropped. */
const MAX_CATCH_UP = 40;

/**
 * Keeps the sample apps alive on first open (`--demo`): a stock ticker, a deployment log that
 * restarts as a new deploy, and a cricket score, on `demo:` channels, from one shared unref'd
 * timer. Tick `t` is the wall clock in ticks; what each stream publishes at `t` depends on
 * `t` alone, and goes out with the idempotency key `tick-t`. So every node (or worker) that
 * runs the demo publishes the same messages under the same keys, and each is published once.
 * A tick's messages go out as one batch; ticks missed while a batch was in flight follow in
 * the next, so no deploy line is skipped.
 */
export class DemoFeed {
  readonly streams: readonly DemoStream[] = [new TickerStream(), new DeployLogStream(), new CricketStream()];
  private timer: NodeJS.Timeout | undefined;
  private inFlight = false;
  private published: number | undefined;
  private readonly tickMs: number;
  private readonly now: () => number;

  constructor(private readonly options: DemoFeedOptions) {
    this.tickMs = options.tickMs ?? 250;
    this.now = options.now ?? Date.now;
    for (const s of this.streams) if (!s.channel.startsWith(DEMO_PREFIX)) throw new Error(`demo stream ${s.channel} is outside ${DEMO_PREFIX}`);
  }

  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => this.tick(), this.tickMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  get running(): boolean {
    return this.timer !== undefined;
  }

  /** What ticks `from..to` publish, in order. */
  messages(from: number, to: number): PublishRequest[] {
    const batch: PublishRequest[] = [];
    for (let t = from; t <= to; t++) {
      for (const s of this.streams) {
        const message = s.at(t);
        if (message !== undefined) batch.push({ ...message, idempotencyKey: `tick-${t}` });
      }
    }
    return batch;
  }

  private tick(): void {
    if (this.inFlight) return;
    const now = Math.floor(this.now() / this.tickMs);
    const from = this.published === undefined ? now : Math.max(this.published + 1, now - MAX_CATCH_UP);
    if (from > now) return;
    const batch = this.messages(from, now);
    if (batch.length === 0) {
      this.published = now;
      return;
    }
    this.inFlight = true;
    this.options.publish(batch).then(
      () => {
        this.inFlight = false;
        this.published = now;
      },
      (err: unknown) => {
        // Tried again at the next tick, under the same keys: nothing is published twice.
        this.inFlight = false;
        this.options.logger.warn({ err }, 'demo feed: publish failed');
      },
    );
  }
}
