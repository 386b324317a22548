import { randomBytes } from 'node:crypto';
import { Message } from '../core/message.js';
import type { ChannelState, Engine, FeedListener, HistoryLimits, PublishRequest, PublishResult, ReadResult } from './engine.js';

/** A fresh epoch per channel life: this process's memory is the history, so a restart loses it. */
function newEpoch(): string {
  return randomBytes(6).toString('base64url');
}

const IDLE_EMPTY_CHANNEL_MS = 10 * 60_000;


/** One channel's bounded history: `messages[start..]` hold offsets `first..last`. */
class ChannelLog {
  readonly epoch = newEpoch();
  last = 0;
  private messages: Message[] = [];
  private start = 0;
  readonly listeners = new Set<FeedListener>();
  /** Idempotency key → first result, with the time it stops counting. */
  readonly seen = new Map<string, { result: PublishResult; until: number }>();
  /** Last time anyone looked at this channel, for dropping ones never published to. */
  touched = Date.now();

  constructor(readonly name: string) {}

  get size(): number {
    return this.messages.length - this.start;
  }

  get first(): number {
    return this.last - this.size + 1;
  }

  append(m: Message, maxCount: number): void {
    this.messages.push(m);
    this.last = m.offset;
    if (this.size > maxCount) this.start += this.size - maxCount;
    this.compact();
  }

  trimOlderThan(cutoff: number): void {
    while (this.start < this.messages.length && this.messages[this.start]!.time < cutoff) this.start++;
    this.compact();
  }

  /** Dropping from the front by index keeps appends O(1); copy only once half is dead. */
  private compact(): void {
    if (this.start > 1024 && this.start * 2 > this.messages.length) {
      this.messages = this.messages.slice(this.start);
      this.start = 0;
    }
  }

  slice(after: number, limit: number): Message[] {
    const from = Math.max(after + 1, this.first);
    const index = this.start + (from - this.first);
    return this.messages.slice(index, Math.min(index + limit, this.messages.length));
  }

  forgetExpiredKeys(now: number): void {
    for (const [key, entry] of this.seen) if (entry.until <= now) this.seen.delete(key);
  }
}

/**
 * The embedded default engine: all channels in this process's memory. Offsets come from a
 * per-channel counter, and the live feed runs synchronously inside `publish`, so readers
 * see every message exactly in offset order.
 */
export class MemoryEngine implements Engine {
  readonly name = 'memory';
  private readonly channels = new Map<string, ChannelLog>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly limits: HistoryLimits) {
    // One coarse timer for the whole engine: trims aged history, forgets old idempotency
    // keys and drops channels with nothing retained and nobody listening.
    const every = Math.max(50, Math.min(60_000, Math.floor(limits.maxAgeMs / 10), limits.dedupeWindowMs));
    this.sweeper = setInterval(() => this.sweep(), every);
    this.sweeper.unref();
  }

  private log(channel: string): ChannelLog {
    let log = this.channels.get(channel);
    if (log === undefined) {
      log = new ChannelLog(channel);
      this.channels.set(channel, log);
    }
    log.touched = Date.now();
    return log;
  }

  async publish(batch: readonly PublishRequest[]): Promise<PublishResult[]> {
    const now = Date.now();
    const results: PublishResult[] = [];
    const published: [ChannelLog, Message][] = [];
    // Idempotency keys repeated inside one batch resolve to the batch's first use.
    const pendingKeys = new Map<string, PublishResult>();
    for (const req of batch) {
      const log = this.log(req.channel);
      if (req.idempotencyKey !== undefined) {
        const scoped = `${req.channel}\n${req.idempotencyKey}`;
        const earlier = log.seen.get(req.idempotencyKey);
        const prior = earlier !== undefined && earlier.until > now ? earlier.result : pendingKeys.get(scoped);
        if (prior !== undefined) {
          results.push({ ...prior, duplicate: true });
          continue;
        }
      }
      const offset = log.last + 1;
      const message = new Message({ channel: req.channel, offset, epoch: log.epoch, time: now, event: req.event, data: req.data });
      log.append(message, this.limits.maxCount);
      published.push([log, message]);
      const result: PublishResult = { channel: req.channel, offset, epoch: log.epoch, time: now, duplicate: false };
      results.push(result);
      if (req.idempotencyKey !== undefined) {
        log.seen.set(req.idempotencyKey, { result, until: now + this.limits.dedupeWindowMs });
        pendingKeys.set(`${req.channel}\n${req.idempotencyKey}`, result);
      }
    }
    for (const [log, message] of published) {
      for (const listener of log.listeners) listener.message(message);
    }
    return results;
  }

  async read(channel: string, after: number, limit: number): Promise<ReadResult> {
    const log = this.log(channel);
    log.trimOlderThan(Date.now() - this.limits.maxAgeMs);
    return { ...this.state(log), messages: log.slice(after, limit) };
  }

  async info(channel: string): Promise<ChannelState> {
    const log = this.log(channel);
    log.trimOlderThan(Date.now() - this.limits.maxAgeMs);
    return this.state(log);
  }

  private state(log: ChannelLog): ChannelState {
    return { channel: log.name, epoch: log.epoch, first: log.first, last: log.last };
  }

  /** Live at once: publishes run the listeners synchronously, so nothing can slip past. */
  async feed(channel: string, listener: FeedListener): Promise<() => void> {
    const log = this.log(channel);
    log.listeners.add(listener);
    return () => {
      log.listeners.delete(listener);
    };
  }

  /** One process: nobody else to count. */
  async subscribers(_channel: string, local: number): Promise<number> {
    return local;
  }

  /** This process's memory is always there. */
  unavailable(): string | undefined {
    return undefined;
  }

  private sweep(): void {
    const now = Date.now();
    const cutoff = now - this.limits.maxAgeMs;
    for (const [name, log] of this.channels) {
      log.trimOlderThan(cutoff);
      log.forgetExpiredKeys(now);
      // Channels only ever looked at (reads of random names) would otherwise grow without
      // bound. One that had messages stays, so a cursor at its tail never sees a false gap.
      if (log.last === 0 && log.listeners.size === 0 && now - log.touched > IDLE_EMPTY_CHANNEL_MS) this.channels.delete(name);
    }
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.channels.clear();
  }
}
