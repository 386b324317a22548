import type { Position } from '../core/cursor.js';
import { TidingsError } from '../core/errors.js';
import type { GapNotice, Message } from '../core/message.js';
import type { ChannelState } from '../engines/engine.js';
import { backoffDelay, type BackoffOptions } from '../core/backoff.js';
import { catchUpStep, readPage, type HistoryReader } from './catch-up.js';
import type { Hub, LiveListener } from './hub.js';
import { startPosition, type StartAt } from './start.js';

export type { StartAt } from './start.js';

/** What a transport does with an ordered stream of one channel. */
export interface SubscriptionSink {
  message(message: Message, subscription: ChannelSubscription): void;
  gap(notice: GapNotice, subscription: ChannelSubscription): void;
  /**
   * The engine failed while catching up (not merely unavailable: that is retried); the
   * transport closes and the client resumes.
   */
  failed(error: unknown, subscription: ChannelSubscription): void;
  /**
   * Flow control for history replay: while `backlogged()` the subscription waits on
   * `drained()` before sending more, so a long catch-up never trips the slow-consumer
   * bound that protects live delivery.
   */
  backlogged?(): boolean;
  drained?(): Promise<void>;
}

const PAGE = 1000;
/**
 * A catch-up that found the store unavailable (Redis restarting) tries again within
 * 0.5 s, then 1, 2, 4, 8 s while it keeps failing (full jitter, src/core/backoff.ts).
 */
export const UNAVAILABLE_RETRY: BackoffOptions = { min: 500, max: 8000 };

/**
 * One channel for one client, delivered in offset order with no loss and no duplicate.
 *
 * Live messages come from the hub; history comes from the engine. While the subscription
 * is catching up it ignores live messages and only notes that some arrived ("dirty"),
 * then reads again: everything live is also in the engine's history, so nothing needs
 * buffering. Once a read ends with nothing new, it is live: a message at offset + 1 is
 * delivered, an older one is a duplicate and dropped, a newer one (a hole, or a new
 * epoch) sends it back to catching up. Memory per subscription stays constant.
 */
export class ChannelSubscription implements LiveListener {
  private state: 'idle' | 'catching-up' | 'live' | 'closed' = 'idle';
  private dirty = false;
  /** Catch-ups in a row that found the engine unavailable: the retry backoff's step. */
  private unavailableRetries = 0;
  position: Position = { epoch: '', offset: 0 };
  /**
   * Settles once the subscription is on the live feed and its start position is fixed,
   * with the channel's state read at that moment (for a `subscribed` frame). Rejects, and
   * the subscription is closed, when the engine can't set the feed up or answer.
   */
  readonly ready: Promise<ChannelState>;

  constructor(
    readonly channel: string,
    start: StartAt,
    private readonly hub: Hub,
    private readonly sink: SubscriptionSink,
  ) {
    // Known at once for a cursor, so a caller that gives up early still has a true position.
    if (start.kind === 'after') this.position = { ...start.position };
    this.ready = this.open(start);
  }

  /** History as a subscription on the live feed reads it: shared with its channel's others (Hub.readForSubscriber). */
  private readonly reader: HistoryReader = {
    read: (channel, after, limit) => this.hub.readForSubscriber(channel, after, limit),
  };

  /**
   * Joins the live feed, and only once it is live reads the channel's position: a message
   * published in between is then either in that position or delivered live.
   */
  private async open(start: StartAt): Promise<ChannelState> {
    this.state = 'catching-up';
    try {
      await this.hub.join(this.channel, this);
      const info = await this.hub.infoForSubscriber(this.channel);
      this.position = startPosition(start, info);
      return info;
    } catch (err) {
      this.close();
      throw err;
    }
  }

  /** Starts delivery: history after the position first, then live. */
  resume(): void {
    if (this.state === 'closed') return;
    void this.catchUp();
  }

  live(message: Message): void {
    if (this.state !== 'live') {
      if (this.state === 'catching-up') this.dirty = true;
      return;
    }
    const p = this.position;
    if (message.epoch === p.epoch) {
      if (message.offset <= p.offset) return;
      if (message.offset === p.offset + 1) {
        p.offset = message.offset;
        this.sink.message(message, this);
        return;
      }
    }
    this.catchUpFromHistory();
  }

  /** The feed may have lost messages: read history from the position on, then go live again. */
  missed(): void {
    this.catchUpFromHistory();
  }

  /**
   * The one way back to history: from live, start reading; while already reading, read
   * once more before going live, since what the feed lost may have come after that read.
   */
  catchUpFromHistory(): void {
    if (this.state === 'live') {
      this.state = 'catching-up';
      void this.catchUp();
    } else if (this.state === 'catching-up') {
      this.dirty = true;
    }
  }

  private async catchUp(): Promise<void> {
    try {
      do {
        this.dirty = false;
        let more = true;
        while (more && this.state === 'catching-up') {
          const page = await readPage(this.reader, this.channel, this.position, PAGE);
          this.unavailableRetries = 0;
          if (this.state !== 'catching-up') return;
          const step = catchUpStep(this.position, page);
          // The position moves message by message: a sink reads it as "the cursor after this one".
          const first = step.messages[0];
          this.position = { epoch: step.position.epoch, offset: first === undefined ? step.position.offset : first.offset - 1 };
          if (step.gap !== undefined) this.sink.gap(step.gap, this);
          for (const m of step.messages) {
            if (this.state !== 'catching-up') return;
            this.position.offset = m.offset;
            this.sink.message(m, this);
            if (this.sink.backlogged?.() === true) await this.sink.drained?.();
          }
          more = step.messages.length > 0 && step.position.offset < page.last;
        }
      } while (this.dirty && this.state === 'catching-up');
      if (this.state === 'catching-up') this.state = 'live';
    } catch (err) {
      if (this.state === 'closed') return;
      if (err instanceof TidingsError && err.code === 'unavailable') {
        // The store is down for now (e.g. Redis restarting): the client's connection stays
        // open and this reader tries again, from the same position, until it gets through;
        // after a random wait, so a channel's subscribers don't all retry in the same instant.
        setTimeout(() => {
          if (this.state === 'catching-up') void this.catchUp();
        }, backoffDelay(this.unavailableRetries++, UNAVAILABLE_RETRY)).unref();
        return;
      }
      this.close();
      this.sink.failed(err, this);
    }
  }

  close(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.hub.leave(this.channel, this);
  }
}
