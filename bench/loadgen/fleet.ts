import type { Socket } from 'node:net';
import type { Target } from '../lib/types.js';
import type { Tracker } from './tracker.js';

/** What every subscriber fleet shares with the load generator. */
export interface FleetContext {
  target: Target;
  tracker: Tracker;
  pollIntervalMs: number;
  longPollWaitS: number;
  /** Subscribers the fleet will hold at most, to size connection pools. */
  capacity: number;
}

/**
 * N subscribers of one transport. `add` opens one and resolves once it is subscribed, so
 * that a message published after every `add` resolved must reach all of them.
 */
export interface Fleet {
  add(index: number): Promise<void>;
  /** Socket bytes read plus written by all subscribers so far, headers and framing included. */
  wireBytes(): number;
  requests: number;
  emptyAnswers: number;
  dropped: number;
  close(): void;
}

/** Socket bytes read plus written. */
export function socketBytes(sockets: readonly Socket[]): number {
  let n = 0;
  for (const s of sockets) n += s.bytesRead + s.bytesWritten;
  return n;
}

/**
 * A fleet whose subscribers each hold one long-lived socket (SSE, WebSocket, Socket.IO):
 * the counters, and wire bytes counted off those sockets.
 */
export abstract class SocketFleet implements Fleet {
  /** The TCP socket of each subscriber, for wire bytes. */
  protected readonly raw: Socket[] = [];
  requests = 0;
  emptyAnswers = 0;
  dropped = 0;
  /** Set by close(), so the sockets it ends are not counted as dropped. */
  protected closing = false;

  constructor(protected readonly ctx: FleetContext) {}

  abstract add(index: number): Promise<void>;

  wireBytes(): number {
    return socketBytes(this.raw);
  }

  close(): void {
    this.closing = true;
    this.closeAll();
  }

  protected abstract closeAll(): void;
}

export interface Received {
  seq: number;
  t: number;
  /** What must rise message by message: a Tidings envelope's offset, a peer's seq. */
  order: number;
}

/** `{seq, t}` from a bare peer's payload, or from the `data` of a Tidings envelope (ordered by offset). */
export function payload(o: unknown): Received | undefined {
  if (typeof o !== 'object' || o === null) return undefined;
  const rec = o as { seq?: unknown; t?: unknown; data?: unknown; offset?: unknown };
  if (typeof rec.seq === 'number' && typeof rec.t === 'number') return { seq: rec.seq, t: rec.t, order: rec.seq };
  const inner = rec.data === undefined ? undefined : payload(rec.data);
  if (inner !== undefined && typeof rec.offset === 'number') inner.order = rec.offset;
  return inner;
}

/** Fails a promise that has not settled after `ms`. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
