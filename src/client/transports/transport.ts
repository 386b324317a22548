import { CLOSE_REASONS } from '../../core/close-reasons.js';
import type { Ack, ClientError, FetchLike, Gap, Message, TransportName, WebSocketConstructor } from '../types.js';

/** Where one subscription stands; the client keeps one per channel, shared by every transport. */
export interface SubState {
  readonly channel: string;
  /** The server's cursor covering this channel (it may name others too); opaque. */
  cursor: string | undefined;
  /** When `cursor` was handed out, relative to the others: newer cursors win when merged. */
  cursorSeq: number;
  /** Where to begin while there is no cursor: the last N messages, or (undefined) from now. */
  last: number | undefined;
  /** The last message handed to the application: what dedupe compares against. */
  epoch: string | undefined;
  offset: number;
}

/** How a connection ended, as the transport saw it. */
export interface Drop {
  /** A close reason of src/core/close-reasons.ts, or a client-side one ('network', 'timeout', …). */
  reason: string;
  /** False when reconnecting would not help (the server said so). */
  resume: boolean;
  /** The server refused or expired the token: call getToken before reconnecting. */
  tokenExpired?: boolean;
  /** The token the connection was opened with, when it matters (tokenExpired). */
  tokenUsed?: string;
  /** The transport never reached 'established' on this attempt. */
  neverOpened?: boolean;
  error?: ClientError;
}

/** The platform pieces and timings a transport works with. */
export interface TransportOptions {
  fetch: FetchLike;
  WebSocket: WebSocketConstructor | undefined;
  /** Long poll `wait=` in seconds. */
  longPollWait: number;
  /** Delay between short polls, ms. */
  shortPollInterval: number;
  /** A stream silent for this long (no event, no keep-alive) is taken as dead, ms. */
  idleTimeout: number;
  /** An answer (poll, publish ack) slower than this is taken as lost, ms. */
  requestTimeout: number;
}

/** What a transport calls back into: the client's state and its decisions. */
export interface TransportHost {
  readonly url: string;
  readonly options: TransportOptions;
  readonly subs: ReadonlyMap<string, SubState>;
  token(): string | undefined;
  /** Asks getToken for a new token; false when there is no getToken or it failed. */
  refreshToken(): Promise<boolean>;
  /** A message; `cursor` (when given) resumes its channel right after it. */
  message(from: Transport, message: Message, cursor?: string): void;
  gap(from: Transport, gap: Gap): void;
  /** `cursor` now covers `channels`: where they would resume on this transport. */
  position(from: Transport, channels: readonly string[], cursor: string): void;
  /** The server refused one subscription (forbidden, invalid cursor…): it ends. */
  refused(from: Transport, channel: string, error: ClientError): void;
  /** Open, subscriptions confirmed, the server's first bytes seen: the transport works. */
  established(from: Transport): void;
  /** The transport ended; it is never reused (a new one is made per attempt). */
  closed(from: Transport, drop: Drop): void;
}

/**
 * One connection (or stream, or poll loop) carrying every subscription of a client. One
 * small shape for all four, as centrifuge-js's transports share one; each lives in a
 * module of its own.
 */
export interface Transport {
  readonly name: TransportName;
  open(): void;
  /** The client's subscriptions changed: subscribe/unsubscribe, or re-open from the cursors. */
  sync(): void;
  /** Publishes over this transport when it can (an open WebSocket); undefined when it can't. */
  publish?(channel: string, data: unknown, event: string | undefined, key: string): Promise<Ack> | undefined;
  /** A new token from getToken: swap it in place where the transport can (WebSocket `auth`). */
  auth?(token: string): void;
  /** Asks the transport to check it is alive (after a sleep or a network change). */
  check?(): void;
  /** Ends it; no further callbacks. */
  close(): void;
}

export function clientError(message: string, code?: string, channel?: string): ClientError {
  const e = new Error(message) as ClientError;
  if (code !== undefined) e.code = code;
  if (channel !== undefined) e.channel = channel;
  return e;
}

/**
 * The Drop for a connection ended for `reason`: one of src/core/close-reasons.ts resumes
 * as the table says; any other (the network, a proxy) is worth resuming, and so is an
 * expired token, with a new one.
 */
export function dropFor(reason: string, neverOpened: boolean, tokenExpired = reason === 'token_expired'): Drop {
  const known = (CLOSE_REASONS as Record<string, { resume: boolean } | undefined>)[reason];
  return { reason, resume: (known?.resume ?? true) || tokenExpired, tokenExpired, neverOpened };
}
