import type { Redis } from 'ioredis';
import { Message, type Envelope } from '../../core/message.js';
import type { FeedListener } from '../engine.js';
import { asUnavailable } from './connection.js';
import { ChannelKeys } from './keys.js';

interface ChannelFeed {
  readonly keys: ChannelKeys;
  readonly listeners: Set<FeedListener>;
  /** Settles once Redis confirmed the subscription. */
  subscribed: Promise<void>;
}

/** A live envelope as Redis delivered it: parsed once per node, shared by every local subscriber. */
export function messageFromEnvelope(json: string): Message {
  return new Message(JSON.parse(json) as Envelope, json);
}

/**
 * This node's live feeds on one Redis pub/sub connection: one Redis subscription per
 * channel, however many local subscribers it has.
 *
 * When the connection drops, messages published meanwhile are lost to pub/sub for good.
 * So on every reconnect the feeds subscribe again themselves (ioredis's autoResubscribe is
 * off) and only once Redis confirmed do they tell their listeners `missed()`: a re-read of
 * history from that moment covers everything the dropped connection didn't bring.
 */
export class RedisFeeds {
  private readonly feeds = new Map<string, ChannelFeed>();
  private readonly byPubsubName = new Map<string, ChannelFeed>();
  private wasReady: boolean;

  constructor(
    private readonly sub: Redis,
    private readonly sharded: boolean,
    private readonly onError: (err: unknown) => void,
  ) {
    this.wasReady = sub.status === 'ready';
    const deliver = (name: string, json: string) => {
      const feed = this.byPubsubName.get(name);
      if (feed === undefined) return;
      const message = messageFromEnvelope(json);
      for (const l of feed.listeners) l.message(message);
    };
    sub.on(sharded ? 'smessage' : 'message', deliver);
    sub.on('ready', () => {
      if (this.wasReady) void this.resubscribe();
      this.wasReady = true;
    });
  }

  async feed(channel: string, listener: FeedListener): Promise<() => void> {
    let feed = this.feeds.get(channel);
    if (feed === undefined) {
      const created: ChannelFeed = { keys: new ChannelKeys(channel), listeners: new Set(), subscribed: Promise.resolve() };
      this.feeds.set(channel, created);
      this.byPubsubName.set(created.keys.pubsub, created);
      created.subscribed = this.subscribe([created.keys.pubsub]).catch((err: unknown) => {
        if (this.feeds.get(channel) === created) this.drop(created);
        throw asUnavailable(err);
      });
      feed = created;
    }
    feed.listeners.add(listener);
    try {
      await feed.subscribed;
    } catch (err) {
      feed.listeners.delete(listener);
      throw err;
    }
    const subscribedFeed = feed;
    return () => {
      if (!subscribedFeed.listeners.delete(listener) || subscribedFeed.listeners.size > 0) return;
      if (this.feeds.get(channel) !== subscribedFeed) return;
      this.drop(subscribedFeed);
      const name = subscribedFeed.keys.pubsub;
      (this.sharded ? this.sub.sunsubscribe(name) : this.sub.unsubscribe(name)).catch(() => undefined);
    };
  }

  has(channel: string): boolean {
    return this.feeds.has(channel);
  }

  /** Channels with a live feed on this node and their listeners, for presence. */
  *entries(): Iterable<[ChannelKeys, Set<FeedListener>]> {
    for (const feed of this.feeds.values()) yield [feed.keys, feed.listeners];
  }

  private drop(feed: ChannelFeed): void {
    this.feeds.delete(feed.keys.channel);
    this.byPubsubName.delete(feed.keys.pubsub);
  }

  /** SSUBSCRIBE takes channels of one slot only, so sharded channels go one per command (pipelined). */
  private async subscribe(names: string[]): Promise<void> {
    if (this.sharded) await Promise.all(names.map((name) => this.sub.ssubscribe(name)));
    else await this.sub.subscribe(...names);
  }

  /** After a reconnect: subscribe again, then send every listener back to history. */
  private async resubscribe(): Promise<void> {
    const feeds = [...this.feeds.values()];
    if (feeds.length === 0) return;
    try {
      for (let i = 0; i < feeds.length; i += 500) await this.subscribe(feeds.slice(i, i + 500).map((f) => f.keys.pubsub));
    } catch (err) {
      // Dropped again, or refused on a live connection (a timeout), where no 'ready' would
      // follow: reconnect, and the next 'ready' tries again.
      this.onError(err);
      this.sub.disconnect(true);
      return;
    }
    for (const feed of feeds) for (const l of feed.listeners) l.missed();
  }
}
