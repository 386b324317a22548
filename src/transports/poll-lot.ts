import type { ServerResponse } from 'node:http';
import type { EnvelopeForm } from '../core/compact-envelope.js';
import type { Position } from '../core/cursor.js';
import type { GapNotice, Message } from '../core/message.js';
import type { LiveListener } from '../hub/hub.js';
import { SharedAnswer } from './poll-answer.js';
import type { SeveralPoll } from './poll-several.js';
import type { PollSpots } from './poll-spots.js';

/** Most messages one poll answer carries per channel; the cursor says where to go on. */
export const PAGE = 1000;
/** How long a channel's feed is kept after its last parked poll, for the next one to find it live. */
const LINGER_MS = 5000;

export type PollKind = 'short_poll' | 'long_poll';

/**
 * A poll's place at one channel, what spots hold and lots park: a poll of one channel is
 * one waiter; a poll of several has one per channel (a seat), and `of` is that poll.
 */
export interface Waiter {
  readonly res: ServerResponse;
  readonly kind: PollKind;
  /** The poll of several channels this waiter is one channel of; undefined when it is a whole poll of one channel. */
  readonly of: SeveralPoll | undefined;
  /** The spot it waits in, while it waits. */
  spot: Spot | undefined;
  /** Parked in a channel's lot (counted in the hub's subscribers of the channel). */
  parked: boolean;
  /** A poll of one channel's deadline (a poll of several keeps its own). */
  cancelDeadline: (() => void) | undefined;
  settle: () => void;
}

/** Polls of one channel at one position, asking for one envelope form: they all get the same answer, built once. */
export class Spot {
  readonly waiters = new Set<Waiter>();
  private empty: SharedAnswer | undefined;

  constructor(
    readonly channel: string,
    readonly position: Position,
    readonly form: EnvelopeForm,
  ) {}

  get key(): string {
    return spotKey(this.channel, this.position, this.form);
  }

  /** The answer with `messages` (and `gap`), ending at `position`. */
  answerWith(position: Position, messages: Message[], gap?: GapNotice): SharedAnswer {
    return new SharedAnswer([{ channel: this.channel, position, messages, gap }], this.form);
  }

  /** The answer with no message and the cursor of this position: timeouts, short polls, drain. */
  emptyAnswer(): SharedAnswer {
    this.empty ??= this.answerWith(this.position, []);
    return this.empty;
  }
}

export const spotKey = (channel: string, p: Position, form: EnvelopeForm) => `${form}.${p.epoch}.${p.offset}.${channel}`;

/** The messages of `recent` right after `p`: [] when none, undefined when they don't follow on (a hole, a new epoch). */
function following(recent: readonly Message[], p: Position): Message[] | undefined {
  const out: Message[] = [];
  let next = p.offset + 1;
  for (const m of recent) {
    if (m.epoch !== p.epoch) return undefined;
    if (m.offset < next) continue;
    if (m.offset > next) return undefined;
    out.push(m);
    next++;
    if (out.length === PAGE) break;
  }
  return out;
}

/**
 * One channel's parked long polls, grouped by position, and the one listener on the hub's
 * live feed that serves them all. A live message is noted, and at the end of the turn each
 * spot gets what follows its position; a spot the recent messages don't continue (a hole,
 * a new epoch, a missed feed) reads history instead. A poll of several channels has a seat
 * in the lot of each, like any other poll there.
 */
export class ChannelLot implements LiveListener {
  readonly spots = new Map<string, Spot>();
  /** Bumped by every live message: a read begun before a bump may have missed it, and reads again. */
  version = 0;
  /** Waiters parked here; the hub counts them as this channel's subscribers. */
  clients = 0;
  /** Reads of spots that may park here, in flight: the lot must not be dropped under them. */
  serving = 0;
  readonly joined: Promise<void>;
  /** `joined` has resolved: a poll need not wait a microtask turn for it. */
  onFeed = false;
  private recent: Message[] = [];
  private missedFeed = false;
  private scheduled = false;
  private cancelLinger: (() => void) | undefined;

  constructor(
    readonly channel: string,
    private readonly owner: PollSpots,
  ) {
    this.joined = owner.ctx.hub.join(channel, this);
    this.joined.then(
      () => (this.onFeed = true),
      // A failed join is handled where `joined` is awaited: PollSpots drops the lot, and the
      // polls that awaited it are answered with the error. This branch only sets the flag.
      () => {},
    );
  }

  live(message: Message): void {
    this.version++;
    if (this.spots.size === 0) return;
    this.recent.push(message);
    this.schedule();
  }

  missed(): void {
    this.version++;
    this.missedFeed = true;
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  park(spot: Spot): void {
    this.cancelLinger?.();
    this.cancelLinger = undefined;
    const there = this.spots.get(spot.key);
    const target = there ?? spot;
    if (there === undefined) this.spots.set(spot.key, spot);
    for (const w of spot.waiters) {
      if (there !== undefined) there.waiters.add(w);
      w.spot = target;
      w.parked = true;
      this.clients++;
      // A poll of several channels is one parked poll however many lots it sits in: it counts itself.
      if (w.of === undefined) this.owner.ctx.metrics.longPollsParked++;
      else w.of.parked(w, spot.position);
    }
  }

  /** Takes a spot's waiters out of the lot (they are being answered). */
  unpark(spot: Spot): void {
    this.spots.delete(spot.key);
    for (const w of spot.waiters) this.leave(w);
  }

  leave(w: Waiter): void {
    if (!w.parked) return;
    w.parked = false;
    this.clients--;
    if (w.of === undefined) this.owner.ctx.metrics.longPollsParked--;
    const spot = w.spot;
    if (spot !== undefined && spot.waiters.size === 0 && this.spots.get(spot.key) === spot) this.spots.delete(spot.key);
    if (this.spots.size === 0) this.linger();
  }

  /** Keeps the feed a while for the next poll (a client re-polls at once), then leaves the hub. */
  linger(): void {
    if (this.cancelLinger !== undefined || this.spots.size > 0) return;
    this.cancelLinger = this.owner.ctx.timer.at(Date.now() + LINGER_MS, () => {
      this.cancelLinger = undefined;
      if (this.spots.size === 0 && this.serving === 0) this.owner.drop(this);
      else if (this.spots.size === 0) this.linger();
    });
  }

  private flush(): void {
    this.scheduled = false;
    const recent = this.recent;
    const missed = this.missedFeed;
    this.recent = [];
    this.missedFeed = false;
    for (const spot of [...this.spots.values()]) {
      const fresh = missed ? undefined : following(recent, spot.position);
      if (fresh !== undefined && fresh.length === 0) continue;
      this.unpark(spot);
      if (fresh === undefined) void this.owner.serve(spot);
      else this.owner.answer(spot, { epoch: spot.position.epoch, offset: fresh.at(-1)!.offset }, fresh);
    }
  }

  /** The server is shutting down: every parked poll answers now, with its cursor. */
  drain(): void {
    for (const spot of [...this.spots.values()]) {
      this.unpark(spot);
      this.owner.answerEmpty(spot);
    }
  }
}
