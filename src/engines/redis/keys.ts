/**
 * The Redis names of one channel. Every key carries the channel as its hash tag
 * (`{channel}`), so Redis Cluster puts them in one slot and one script may touch them all.
 * Channel names can't hold `{` or `}` (core/channel-name.ts), so the tag is the whole name.
 */
export class ChannelKeys {
  private readonly tag: string;

  constructor(
    readonly channel: string,
    prefix = 'tidings:',
  ) {
    this.tag = `${prefix}{${channel}}`;
  }

  /** Hash { e: epoch, s: top offset }. */
  get meta(): string {
    return `${this.tag}:meta`;
  }

  /** Stream of retained messages; entry id `offset-0`, fields t (ms) and d (envelope JSON). */
  get stream(): string {
    return `${this.tag}:stream`;
  }

  /** Hash node id → `count:until_ms`, for the subscriber count over every node. */
  get presence(): string {
    return `${this.tag}:presence`;
  }

  /** The pub/sub channel that carries live envelopes. */
  get pubsub(): string {
    return this.tag;
  }

  /** The first result of a publish with this Idempotency-Key, remembered for the dedupe window. */
  idempotency(key: string): string {
    return `${this.tag}:idem:${key}`;
  }
}
