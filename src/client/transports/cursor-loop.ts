import type { Gap, Message, TransportName } from '../types.js';
import { dropOf, sendJson } from './http.js';
import type { Drop, SubState, Transport, TransportHost } from './transport.js';

/** What the server hands over at once: a poll answer, or one SSE record (a message or a gap). */
export interface Batch {
  messages: Message[];
  gap?: Gap[];
  /** Resumes every channel asked right after the batch. */
  cursor?: string;
}

/** The answer of `GET /v1/poll` (docs/protocol.md § polling). */
export interface PollAnswer extends Batch {
  cursor: string;
}

/** What one request asks for: every subscription of the client, each by where it resumes. */
export interface Asked {
  readonly channels: readonly string[];
  /** `channel=` each, and the cursors; the transport adds its own parameters. */
  readonly query: URLSearchParams;
}

/**
 * A transport that names every subscription, by its cursor, in each request it makes: an
 * event stream (SSE) or a poll. A change of channels is therefore a new request from where
 * each subscription stands (a WebSocket subscribes per channel instead, and has no use
 * for this). This class runs the rounds and the lifecycle: each round first fixes where
 * new subscriptions start, then asks for every subscription from its current cursor;
 * `sync` aborts the round in flight and starts the next at once; a round that fails for
 * any other reason ends the transport. A subclass says what one request of its wire is.
 */
export abstract class CursorLoop implements Transport {
  abstract readonly name: TransportName;
  /** Closed or ended: no callback to the client any more. */
  protected done = false;
  protected established = false;
  /** Aborts the round in flight: its request, its stream or its pause. */
  private abort: AbortController | undefined;
  /** The round in flight was aborted by a sync, not by a failure: go round again. */
  private restart = false;

  constructor(protected readonly host: TransportHost) {}

  open(): void {
    void this.run();
  }

  private async run(): Promise<void> {
    while (!this.done) {
      const ctl = new AbortController();
      this.abort = ctl;
      this.restart = false;
      try {
        const started = await this.resolveStarts(ctl.signal);
        const subs = [...this.host.subs.values()];
        let drop: Drop | undefined;
        if (subs.length > 0) drop = await this.round(ctl, ask(subs), started);
        else {
          // Nothing to ask for: the transport works, and waits for a sync (or a close).
          this.markEstablished();
          await pause(2 ** 31 - 1, ctl.signal);
        }
        if (this.done) return;
        if (drop === undefined || this.restart) continue;
        this.end(drop);
        return;
      } catch (err) {
        if (this.done) return;
        if (this.restart) continue;
        this.end(dropOf(err, !this.established));
        return;
      }
    }
  }

  /**
   * One request of the wire for `asked`, aborted through `ctl`; `started` when this round
   * has already asked the server where new subscriptions start. Resolves undefined to go
   * round again, or with a Drop when the server ended the transport; throws when it failed.
   */
  protected abstract round(ctl: AbortController, asked: Asked, started: boolean): Promise<Drop | undefined>;

  /**
   * Fixes the start of subscriptions that have no cursor yet (`last: N`, or "from now")
   * with one short poll per distinct `last`, so the round's request can name every
   * channel by a cursor. One request's `last=` applies to all its channels, which is why
   * subscriptions asking different things are asked apart. True when it asked the server
   * anything (which then answered).
   */
  private async resolveStarts(signal: AbortSignal): Promise<boolean> {
    const groups = new Map<number | undefined, SubState[]>();
    for (const s of this.host.subs.values()) {
      if (s.cursor === undefined) groups.set(s.last, [...(groups.get(s.last) ?? []), s]);
    }
    for (const [last, subs] of groups) {
      const { channels, query } = ask(subs);
      if (last !== undefined) query.set('last', String(last));
      const answer = await sendJson<PollAnswer>(this.host, `/v1/poll?${query}`, { signal, timeoutMs: this.host.options.requestTimeout });
      if (signal.aborted) return false;
      this.deliver(channels, answer);
    }
    return groups.size > 0;
  }

  /**
   * Hands a batch to the client: gaps, then messages in order, then its cursor as the
   * position of every channel asked. The cursor resumes right after the last message, so
   * it comes with that one (its handler sees `sub.cursor` cover it); the earlier messages
   * of a poll answer have no cursor of their own on the wire.
   */
  protected deliver(channels: readonly string[], { messages, gap = [], cursor }: Batch): void {
    for (const g of gap) this.host.gap(this, g);
    const last = messages[messages.length - 1];
    for (const m of messages) this.host.message(this, m, m === last ? cursor : undefined);
    if (cursor !== undefined) this.host.position(this, channels, cursor);
  }

  protected markEstablished(): void {
    if (this.established || this.done) return;
    this.established = true;
    this.host.established(this);
  }

  sync(): void {
    this.restart = true;
    this.abort?.abort();
  }

  private end(drop: Drop): void {
    if (this.done) return;
    this.done = true;
    this.host.closed(this, drop);
  }

  close(): void {
    this.done = true;
    this.abort?.abort();
  }
}

/**
 * A request for `subs`, each from where it resumes: `channel=` each, and every distinct
 * cursor, oldest first, as repeated `cursor=` (docs/protocol.md § Additions: the server
 * merges them in order, so a channel named twice takes its newest position).
 */
function ask(subs: readonly SubState[]): Asked {
  const query = new URLSearchParams();
  for (const s of subs) query.append('channel', s.channel);
  const cursors = subs.filter((s) => s.cursor !== undefined).sort((a, b) => a.cursorSeq - b.cursorSeq);
  for (const c of new Set(cursors.map((s) => s.cursor!))) query.append('cursor', c);
  return { channels: subs.map((s) => s.channel), query };
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}
