import calculateSlot from 'cluster-key-slot';
import { Redis, type Cluster, type RedisOptions } from 'ioredis';
import type { FeedListener } from '../engine.js';
import { asUnavailable, closeConnection, connected } from './connection.js';
import { RedisFeeds } from './feeds.js';
import type { ChannelKeys } from './keys.js';

/**
 * The pub/sub connections of one node. On a single Redis (or a cluster before Redis 7,
 * where PUBLISH reaches every node) that is one connection for every channel. On Redis 7
 * in cluster mode, sharded pub/sub delivers a channel's messages only on the shard that
 * owns its slot, so there is one connection per primary, opened when a channel there is
 * first wanted, and each channel is SSUBSCRIBEd on its own shard.
 */
export class FeedPool {
  private readonly shards = new Map<string, Promise<RedisFeeds>>();
  private readonly ready: RedisFeeds[] = [];
  private readonly connections: Redis[] = [];

  private constructor(
    private readonly options: RedisOptions,
    private readonly cluster: Cluster | undefined,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** One subscriber connection to `url` for every channel. */
  static async single(url: string, options: RedisOptions, onError: (err: unknown) => void): Promise<FeedPool> {
    const pool = new FeedPool(options, undefined, onError);
    const sub = new Redis(url, options);
    await connected(sub, 'Redis pub/sub', Math.max(5000, options.connectTimeout ?? 0));
    pool.adopt(sub, false);
    pool.shards.set('', Promise.resolve(pool.ready[0]!));
    return pool;
  }

  /** Sharded pub/sub on a Redis 7 cluster: a connection per primary, on demand. */
  static sharded(cluster: Cluster, options: RedisOptions, onError: (err: unknown) => void): FeedPool {
    return new FeedPool(options, cluster, onError);
  }

  feed(keys: ChannelKeys, listener: FeedListener): Promise<() => void> {
    return this.feedsFor(keys).then((feeds) => feeds.feed(keys.channel, listener));
  }

  private async feedsFor(keys: ChannelKeys): Promise<RedisFeeds> {
    if (this.cluster === undefined) return this.shards.get('')!;
    const owner = this.cluster.slots[calculateSlot(keys.pubsub)]?.[0];
    if (owner === undefined) throw asUnavailable(new Error(`no Redis Cluster node owns the slot of ${keys.channel} yet`));
    let shard = this.shards.get(owner);
    if (shard === undefined) {
      const [host, port] = [owner.slice(0, owner.lastIndexOf(':')), Number(owner.slice(owner.lastIndexOf(':') + 1))];
      const sub = new Redis({ ...this.options, host, port });
      shard = connected(sub, `Redis Cluster node ${owner}`, Math.max(5000, this.options.connectTimeout ?? 0)).then(
        () => this.adopt(sub, true),
        (err: unknown) => {
          this.shards.delete(owner);
          throw asUnavailable(err);
        },
      );
      this.shards.set(owner, shard);
    }
    return shard;
  }

  private adopt(sub: Redis, sharded: boolean): RedisFeeds {
    sub.on('error', this.onError);
    const feeds = new RedisFeeds(sub, sharded, this.onError);
    this.connections.push(sub);
    this.ready.push(feeds);
    return feeds;
  }

  /** Whether this node has a live feed of the channel. */
  has(keys: ChannelKeys): boolean {
    return this.ready.some((feeds) => feeds.has(keys.channel));
  }

  /** Channels with a live feed on this node and their listeners, for presence. */
  *entries(): Iterable<[ChannelKeys, Set<FeedListener>]> {
    for (const feeds of this.ready) yield* feeds.entries();
  }

  /** Why a pub/sub connection can't deliver now, if one can't. */
  unavailable(): string | undefined {
    const down = this.connections.find((c) => c.status !== 'ready');
    return down === undefined ? undefined : `Redis pub/sub is unreachable (connection ${down.status})`;
  }

  async close(): Promise<void> {
    await Promise.all(this.connections.map(closeConnection));
  }
}
