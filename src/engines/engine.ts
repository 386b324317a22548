import type { Message } from '../core/message.js';

/**
 * The seam between the server and where messages live. An engine owns ordering: offsets
 * come from one atomic step inside it, never from a node's clock. Transports never see
 * an engine directly; they go through the hub (live feed) and these reads.
 */
export interface Engine {
  readonly name: string;
  /**
   * Appends a batch, all or nothing, in order. A request whose idempotency key was seen on
   * its channel within the dedupe window publishes nothing and answers the first result
   * again with `duplicate: true`.
   */
  publish(batch: readonly PublishRequest[]): Promise<PublishResult[]>;
  /** Retained messages with offset > `after`, oldest first, at most `limit`. */
  read(channel: string, after: number, limit: number): Promise<ReadResult>;
  info(channel: string): Promise<ChannelState>;
  /**
   * Live messages of one channel, in offset order, as they are published on any node.
   * Resolves once the feed is live: a message published after that is delivered (or
   * `missed` is called). Readers check offsets and fill holes with `read`, so a feed may
   * repeat a message. Resolves with the function that stops the feed.
   */
  feed(channel: string, listener: FeedListener): Promise<() => void>;
  /**
   * Subscribers to `channel` on every node, given `local`, this node's count. A one-node
   * engine just answers `local`.
   */
  subscribers(channel: string, local: number): Promise<number>;
  /** Why the engine can't serve now (e.g. its store is unreachable), or undefined when it can. */
  unavailable(): string | undefined;
  close(): Promise<void>;
}

/** What an engine feed hands its messages and troubles to: the hub. */
export interface FeedListener {
  message(message: Message): void;
  /**
   * The feed may have lost messages (e.g. its pub/sub connection dropped and came back):
   * every reader of the channel must catch up from history by offset.
   */
  missed(): void;
  /** How many subscribers this node has on the channel now, for presence across nodes. */
  subscribers(): number;
}

export interface PublishRequest {
  channel: string;
  data: unknown;
  event?: string | undefined;
  idempotencyKey?: string | undefined;
}

export interface PublishResult {
  channel: string;
  offset: number;
  epoch: string;
  time: number;
  /** True when an idempotency key matched: nothing was published this time. */
  duplicate: boolean;
}

/**
 * What a channel retains now. The retained offsets are `first..last`; when nothing is
 * retained, `first` is `last + 1` (a new channel is `first: 1, last: 0`).
 */
export interface ChannelState {
  channel: string;
  epoch: string;
  first: number;
  last: number;
}

/**
 * One read's answer. The hub hands the same answer to every caller that asked for the
 * same read while it was in flight, so nobody may change it.
 */
export interface ReadResult extends Readonly<ChannelState> {
  readonly messages: readonly Message[];
}

export interface HistoryLimits {
  /** Messages kept per channel. */
  maxCount: number;
  /** Age in ms after which a message is dropped from history. */
  maxAgeMs: number;
  /** How long an Idempotency-Key is remembered per channel, in ms. */
  dedupeWindowMs: number;
}
