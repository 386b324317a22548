import type { Message } from '../core/message.js';
import type { ChannelState, Engine, PublishRequest, PublishResult, ReadResult } from '../engines/engine.js';
import type { Metrics } from '../metrics.js';
import { InFlight } from './in-flight.js';
import type { StartAt } from './start.js';
import { ChannelSubscription, type SubscriptionSink } from './subscription.js';

/** What a publisher hands the hub and gets back; transports take these types from here, not from an engine. */
export type { ChannelState, PublishRequest, PublishResult, ReadResult } from '../engines/engine.js';

/** Anything the hub hands a channel's live feed to: a ChannelSubscription. */
export interface LiveListener {
  live(message: Message): void;
  /** The feed may have lost messages: catch up from history by offset. */
  missed(): void;
  /** Clients this listener stands for (a channel's parked long polls share one); 1 when absent. */
  readonly clients?: number;
}

/** Clients behind a channel's listeners. */
function clientCount(listeners: Set<LiveListener>): number {
  let n = 0;
  for (const l of listeners) n += l.clients ?? 1;
  return n;
}

/** One channel's engine feed on this node and the local listeners it serves. */
interface ChannelFeed {
  readonly listeners: Set<LiveListener>;
  /** Settles once the engine's feed is live (or failed). */
  live: Promise<void>;
  /** Set once live; until then, a feed nobody wants any more is stopped as it arrives. */
  stop: (() => void) | undefined;
  /** The hub's event count at this channel's last live event (or the feed's start). */
  since: number;
}

/**
 * The only door between transports and the engine. Transports publish, read and subscribe
 * here and never see the engine.
 *
 * Fan-out: the engine is asked for a channel's feed once, when the first local subscriber
 * arrives, and the feed is dropped with the last; every message then goes to each
 * listener by one loop over a Set.
 *
 * Reads: subscriptions catching up read through `readForSubscriber`, where identical
 * reads in flight since the channel's last live event are one engine call
 * (`InFlight`), so a channel's subscribers sent back to history together don't each
 * hit the store; `infoForSubscriber` does the same for subscriptions starting together.
 *
 * Publishes: every one passes through here, whatever sent it (HTTP, a batch, a WebSocket
 * frame, the demo feed), so this is the one place `published` is counted.
 */
export class Hub {
  private readonly channels = new Map<string, ChannelFeed>();
  private readonly reads = new InFlight<ReadResult>();
  private readonly infos = new InFlight<ChannelState>();
  /** Live events (messages, missed feeds) on every channel so far: tells reads asked before one from reads asked after. */
  private events = 0;

  constructor(
    private readonly engine: Engine,
    /** Where appended messages are counted; a hub on its own keeps its own tally. */
    private readonly metrics: Pick<Metrics, 'published'> = { published: 0 },
  ) {}

  /** Appends the batch; a message an idempotency key matched was not appended again, and is not counted. */
  async publish(batch: readonly PublishRequest[]): Promise<PublishResult[]> {
    const results = await this.engine.publish(batch);
    for (const r of results) if (!r.duplicate) this.metrics.published++;
    return results;
  }

  /** Messages after `after`, read now: what a history request or a poll gets. */
  read(channel: string, after: number, limit: number): Promise<ReadResult> {
    return this.engine.read(channel, after, limit);
  }

  /**
   * The read of a subscription catching up on this node's live feed of `channel`. Callers
   * asking the same while it is read share it (and must not change the answer), but only
   * among reads asked since the channel's last live event: a read already on its way when
   * a message arrived may not hold it, and a subscription that joined the feed after that
   * message would never get it live either. Without a feed here, a plain read.
   */
  readForSubscriber(channel: string, after: number, limit: number): Promise<ReadResult> {
    const feed = this.channels.get(channel);
    if (feed === undefined) return this.engine.read(channel, after, limit);
    // Numbers first: whatever characters a channel name holds, the key stays unambiguous.
    return this.reads.share(`${feed.since} ${after} ${limit} ${channel}`, () => this.engine.read(channel, after, limit));
  }

  /** A subscription's channel info as it starts, shared like `readForSubscriber`: thousands joining at once ask once. */
  infoForSubscriber(channel: string): Promise<ChannelState> {
    const feed = this.channels.get(channel);
    if (feed === undefined) return this.engine.info(channel);
    return this.infos.share(`${feed.since} ${channel}`, () => this.engine.info(channel));
  }

  info(channel: string): Promise<ChannelState> {
    return this.engine.info(channel);
  }

  /** Live subscriptions to `channel` on every node, on every transport. */
  subscribers(channel: string): Promise<number> {
    return this.engine.subscribers(channel, this.localSubscribers(channel));
  }

  /** Live subscriptions to `channel` in this process. */
  localSubscribers(channel: string): number {
    const feed = this.channels.get(channel);
    return feed === undefined ? 0 : clientCount(feed.listeners);
  }

  /**
   * A subscription to `channel` delivering to `sink`. Its `ready` settles once it is on
   * the live feed and its start position is fixed; delivery begins with `resume()`.
   */
  subscribe(channel: string, start: StartAt, sink: SubscriptionSink): ChannelSubscription {
    return new ChannelSubscription(channel, start, this, sink);
  }

  /**
   * Adds a listener to the channel's feed; resolves once the feed is live. Two listeners
   * arriving while the engine sets the feed up share the one feed being set up.
   */
  join(channel: string, listener: LiveListener): Promise<void> {
    let feed = this.channels.get(channel);
    if (feed === undefined) {
      const created: ChannelFeed = { listeners: new Set(), live: Promise.resolve(), stop: undefined, since: ++this.events };
      this.channels.set(channel, created);
      created.live = this.engine
        .feed(channel, {
          message: (m) => {
            created.since = ++this.events;
            for (const l of created.listeners) l.live(m);
          },
          missed: () => {
            created.since = ++this.events;
            for (const l of created.listeners) l.missed();
          },
          subscribers: () => clientCount(created.listeners),
        })
        .then(
          (stop) => {
            // Everyone left while the engine answered: don't keep a feed for nobody.
            if (this.channels.get(channel) !== created) stop();
            else created.stop = stop;
          },
          (err: unknown) => {
            if (this.channels.get(channel) === created) this.channels.delete(channel);
            throw err;
          },
        );
      feed = created;
    }
    feed.listeners.add(listener);
    return feed.live;
  }

  leave(channel: string, listener: LiveListener): void {
    const feed = this.channels.get(channel);
    if (feed === undefined || !feed.listeners.delete(listener)) return;
    if (feed.listeners.size === 0) {
      this.channels.delete(channel);
      feed.stop?.();
    }
  }
}
