/** The four ways the client can reach the server, in the default order of preference. */
export type TransportName = 'ws' | 'sse' | 'long-poll' | 'short-poll';

export const ALL_TRANSPORTS: readonly TransportName[] = ['ws', 'sse', 'long-poll', 'short-poll'];

/** A message as every transport delivers it (docs/protocol.md § envelope). */
export interface Message<T = unknown> {
  channel: string;
  offset: number;
  epoch: string;
  /** The server's receive time, ms since the Unix epoch. */
  time: number;
  event?: string;
  data: T;
}

/**
 * The history no longer covers where a subscription was: messages `from`…`first - 1` of
 * `channel` are gone (or the channel began a new `epoch`). Delivery goes on from `first`.
 */
export interface Gap {
  channel: string;
  epoch: string;
  from: number;
  first: number;
}

/** What a publish answers: where the message landed. */
export interface Ack {
  channel: string;
  offset: number;
  epoch: string;
}

export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'closed';

export interface StateChange {
  state: ConnectionState;
  transport?: TransportName;
  /** Why the state changed, when there is something to say (a close reason, an error). */
  reason?: string;
}

/** An error the client reports on `error` (it goes on where it can). */
export interface ClientError extends Error {
  /** The server's error code (docs/protocol.md § Error codes) when it sent one. */
  code?: string;
  /** The channel concerned, when one is. */
  channel?: string;
}

/** The parts of the browser's WebSocket the client uses; `ws` in Node matches it. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

export type FetchLike = typeof fetch;
