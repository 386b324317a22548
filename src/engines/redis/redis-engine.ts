import { randomBytes } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import { Message } from '../../core/message.js';
import type { ChannelState, Engine, FeedListener, HistoryLimits, PublishRequest, PublishResult, ReadResult } from '../engine.js';
import { asUnavailable, closeConnection, connected, connectionOptions } from './connection.js';
import { FeedPool } from './feed-pool.js';
import { messageFromEnvelope } from './feeds.js';
import { ChannelKeys } from './keys.js';
import { PRESENCE, PUBLISH, READ } from './scripts.js';

export interface RedisEngineOptions extends HistoryLimits {
  /** `redis://[user:password@]host:port/db` (or `rediss://` for TLS). */
  url: string;
  /** Longest wait for any Redis answer before the request fails with 503. */
  commandTimeoutMs?: number;
  /** Called with connection errors, for the log; the engine itself never throws them. */
  onError?: (err: unknown) => void;
}

/** The scripts, as ioredis methods (defineCommand): numkeys first, then keys, then args. */
interface Scripts {
  tidingsPublish(numKeys: number, ...args: string[]): Promise<(string | number)[]>;
  tidingsRead(numKeys: number, ...args: string[]): Promise<(string | number)[]>;
  tidingsPresence(numKeys: number, ...args: string[]): Promise<number>;
}

/** The command connection: one Redis, or a Redis Cluster client that routes each script to its slot. */
type ScriptedRedis = (Redis | Cluster) & Scripts;

function defineScripts(redis: Redis | Cluster): ScriptedRedis {
  redis.defineCommand('tidingsPublish', { lua: PUBLISH });
  redis.defineCommand('tidingsRead', { lua: READ });
  redis.defineCommand('tidingsPresence', { lua: PRESENCE });
  return redis as ScriptedRedis;
}

/** Longest wait for a Redis answer: a publisher hears 503 within about this. */
const DEFAULT_COMMAND_TIMEOUT_MS = 1000;
/** A never-published channel (only read, or only subscribed to) is forgotten after this. */
const EMPTY_CHANNEL_TTL_MS = 10 * 60_000;
/** A channel's meta (epoch and top offset) outlives its last message by at least this. */
const MIN_META_TTL_MS = 24 * 60 * 60_000;
/** How often a node re-states its subscriber counts; a count expires after three of these. */
const PRESENCE_REFRESH_MS = 2000;
const HEALTH_PING_MS = 1000;
/** A publish script must start this long before the node's command timeout, or it publishes nothing. */
const DEADLINE_MARGIN_MS = 150;

function newEpoch(): string {
  return randomBytes(6).toString('base64url');
}

/**
 * Channels in Redis, shared by every Tidings node on it: one order and one offset sequence
 * per channel whichever node publishes, and a cursor from one node is good on every other.
 *
 * A publish is one Lua script per channel (idempotency check, offset from HINCRBY, XADD
 * with MAXLEN, TTLs, PUBLISH of the finished envelope), so it is atomic and the
 * acknowledgement comes only after Redis has the message. Each node subscribes once per
 * channel that has local subscribers, and fans out locally: Redis is touched once per
 * message per node, never per subscriber.
 */
export class RedisEngine implements Engine {
  readonly name = 'redis';
  private readonly nodeId = randomBytes(8).toString('hex');
  private readonly metaTtlMs: number;
  private lastFailure: string | undefined;
  private clockOffsetMs = 0;
  private readonly commandTimeoutMs: number;
  private readonly timers: NodeJS.Timeout[] = [];
  private closed = false;

  private constructor(
    private readonly redis: ScriptedRedis,
    private readonly feeds: FeedPool,
    private readonly limits: RedisEngineOptions,
    private readonly publishCommand: 'PUBLISH' | 'SPUBLISH',
  ) {
    this.commandTimeoutMs = limits.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    this.metaTtlMs = Math.max(MIN_META_TTL_MS, 2 * limits.maxAgeMs, limits.dedupeWindowMs);
    this.timers.push(setInterval(() => void this.checkHealth(), HEALTH_PING_MS));
    this.timers.push(setInterval(() => this.refreshPresence(), PRESENCE_REFRESH_MS));
    for (const t of this.timers) t.unref();
  }

  /**
   * Connects (commands, pub/sub); rejects with a one-line reason when Redis can't be
   * reached. A Redis in cluster mode gets a Cluster client, and on Redis 7 sharded pub/sub.
   */
  static async connect(options: RedisEngineOptions): Promise<RedisEngine> {
    const timeout = options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    const redisOptions = connectionOptions(timeout);
    const onError = options.onError ?? (() => undefined);
    const where = `Redis at ${safeUrl(options.url)}`;
    const wait = Math.max(5000, timeout);
    // The command connection (the probe, unless Redis is a cluster) pipelines: commands
    // issued in one turn of the event loop (concurrent publishes) go out in one write and
    // Redis reads them in one, ~2.5x the publishes per second of one write per command.
    const probe = new Redis(options.url, { ...redisOptions, enableAutoPipelining: true });
    await connected(probe, where, wait);
    let redis: ScriptedRedis;
    let feeds: FeedPool;
    let sharded = false;
    try {
      const major = Number(/redis_version:(\d+)/.exec(await probe.info('server'))?.[1] ?? '0');
      const cluster = /cluster_enabled:1/.test(await probe.info('cluster'));
      if (cluster) {
        // Redis 7 in cluster mode: sharded pub/sub keeps each channel's traffic on its own shard.
        sharded = major >= 7;
        probe.disconnect();
        const { host, port, username, password, tls } = probe.options;
        const nodeOptions = { ...redisOptions, username, password, tls };
        const client = new Cluster([{ host, port }], {
          redisOptions: nodeOptions,
          enableOfflineQueue: false,
          // No auto-pipelining here: ioredis refuses a cluster pipeline whose keys span
          // slots, and channels of one node differ in slot.
          lazyConnect: true,
          clusterRetryStrategy: (times) => Math.min(100 * times, 1000),
        });
        await connected(client, where, wait);
        redis = defineScripts(client);
        feeds = sharded ? FeedPool.sharded(client, nodeOptions, onError) : await FeedPool.single(options.url, redisOptions, onError);
      } else {
        redis = defineScripts(probe);
        feeds = await FeedPool.single(options.url, redisOptions, onError);
      }
    } catch (err) {
      probe.disconnect();
      throw err;
    }
    redis.on('error', onError);
    const engine = new RedisEngine(redis, feeds, options, sharded ? 'SPUBLISH' : 'PUBLISH');
    await engine.measureClock();
    return engine;
  }

  async publish(batch: readonly PublishRequest[]): Promise<PublishResult[]> {
    // One script per channel: a batch is all or nothing within each channel.
    const byChannel = new Map<string, number[]>();
    batch.forEach((req, i) => {
      const indices = byChannel.get(req.channel);
      if (indices === undefined) byChannel.set(req.channel, [i]);
      else indices.push(i);
    });
    const results: PublishResult[] = new Array<PublishResult>(batch.length);
    await Promise.all(
      [...byChannel].map(async ([channel, indices]) => {
        const keys = new ChannelKeys(channel);
        const idempotencyKeys: string[] = [];
        const perMessage: string[] = [];
        for (const i of indices) {
          const req = batch[i]!;
          let keyIndex = 0;
          if (req.idempotencyKey !== undefined) {
            idempotencyKeys.push(keys.idempotency(req.idempotencyKey));
            keyIndex = 2 + idempotencyKeys.length;
          }
          perMessage.push(String(keyIndex), Message.tail(req));
        }
        const { maxCount, maxAgeMs, dedupeWindowMs } = this.limits;
        const reply = await this.call(() =>
          this.redis.tidingsPublish(
            2 + idempotencyKeys.length,
            keys.meta,
            keys.stream,
            ...idempotencyKeys,
            newEpoch(),
            String(maxCount),
            String(maxAgeMs),
            String(this.metaTtlMs),
            String(dedupeWindowMs),
            this.publishCommand,
            keys.pubsub,
            Message.head(channel),
            String(this.deadline()),
            ...perMessage,
          ),
        );
        indices.forEach((batchIndex, k) => {
          results[batchIndex] = {
            channel,
            offset: Number(reply[4 * k]),
            epoch: String(reply[4 * k + 1]),
            time: Number(reply[4 * k + 2]),
            duplicate: Number(reply[4 * k + 3]) === 1,
          };
        });
      }),
    );
    return results;
  }

  async read(channel: string, after: number, limit: number): Promise<ReadResult> {
    const keys = new ChannelKeys(channel);
    const reply = await this.call(() =>
      this.redis.tidingsRead(2, keys.meta, keys.stream, newEpoch(), String(this.limits.maxAgeMs), String(EMPTY_CHANNEL_TTL_MS), String(after), String(limit)),
    );
    const messages: Message[] = [];
    for (let i = 3; i < reply.length; i++) messages.push(messageFromEnvelope(String(reply[i])));
    return { channel, epoch: String(reply[0]), first: Number(reply[1]), last: Number(reply[2]), messages };
  }

  async info(channel: string): Promise<ChannelState> {
    const { messages: _none, ...state } = await this.read(channel, 0, 0);
    return state;
  }

  async feed(channel: string, listener: FeedListener): Promise<() => void> {
    const keys = new ChannelKeys(channel);
    const stop = await this.feeds.feed(keys, listener);
    return () => {
      stop();
      // The last local subscriber left: stop being counted now, not when the entry expires.
      if (!this.feeds.has(keys) && this.redis.status === 'ready') void this.presence(keys, 0).catch(() => undefined);
    };
  }

  /** This node's count is written as it is asked for; other nodes' are at most a refresh old. */
  async subscribers(channel: string, local: number): Promise<number> {
    const keys = new ChannelKeys(channel);
    return Number(await this.call(() => this.presence(keys, local)));
  }

  private presence(keys: ChannelKeys, local: number): Promise<number> {
    return this.redis.tidingsPresence(2, keys.presence, keys.meta, this.nodeId, String(local), String(3 * PRESENCE_REFRESH_MS), String(EMPTY_CHANNEL_TTL_MS));
  }

  /**
   * One script per channel, not a pipeline: on a cluster the channels live on different
   * slots. Fire and forget: the timer waits for nothing, and the sum the script answers
   * is not wanted here (its pass still drops other nodes' expired entries).
   */
  private refreshPresence(): void {
    if (this.redis.status !== 'ready') return;
    for (const [keys, listeners] of this.feeds.entries()) {
      let count = 0;
      for (const l of listeners) count += l.subscribers();
      void this.presence(keys, count).catch(() => undefined);
    }
  }

  unavailable(): string | undefined {
    if (this.closed) return 'the engine is closed';
    if (this.redis.status !== 'ready') return `Redis is unreachable (connection ${this.redis.status})`;
    return this.feeds.unavailable() ?? this.lastFailure;
  }

  /**
   * A look at Redis's clock a second: a Redis that is connected but doesn't answer (paused,
   * overloaded) shows in /healthz too, and the clock offset dates publish deadlines.
   */
  private async checkHealth(): Promise<void> {
    if (this.redis.status !== 'ready') return;
    try {
      await this.measureClock();
      this.lastFailure = undefined;
    } catch (err) {
      this.lastFailure = `Redis does not answer (${(err as Error).message})`;
    }
  }

  /** Redis time minus this node's, from one TIME round trip (its midpoint). */
  private clockMeasured = false;

  private async measureClock(): Promise<void> {
    const sent = Date.now();
    const [seconds, micros] = await this.redis.time();
    const received = Date.now();
    // A slow round trip says little about the offset: keep a previous estimate, but never
    // go without one (a Redis always over 50 ms away would leave the offset at 0).
    if (received - sent > 50 && this.clockMeasured) return;
    this.clockMeasured = true;
    this.clockOffsetMs = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000) - (sent + received) / 2;
  }

  /**
   * The latest Redis time at which a publish sent now may still run: a little before this
   * node stops waiting for it, so that what it reports as refused is not published later.
   */
  private deadline(): number {
    return Math.floor(Date.now() + this.clockOffsetMs + this.commandTimeoutMs - DEADLINE_MARGIN_MS);
  }

  private async call<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (err) {
      throw asUnavailable(err);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    await Promise.all([closeConnection(this.redis), this.feeds.close()]);
  }
}

/** The URL without its password, for messages and logs. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return 'the given URL';
  }
}
