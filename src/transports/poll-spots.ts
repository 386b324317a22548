import type { ServerResponse } from 'node:http';
import { tokenExpired } from '../auth/access.js';
import type { EnvelopeForm } from '../core/compact-envelope.js';
import type { Position } from '../core/cursor.js';
import type { GapNotice, Message } from '../core/message.js';
import { sendProblem } from '../http/respond.js';
import { catchUpStep, readPage } from '../hub/catch-up.js';
import type { LiveListener } from '../hub/hub.js';
import type { ServerContext } from './context.js';
import { SharedAnswer } from './poll-answer.js';

/** Most messages one poll answer carries per channel; the cursor says where to go on. */
export const PAGE = 1000;
/** How long a channel's feed is kept after its last parked poll, for the next one to find it live. */
const LINGER_MS = 5000;

type PollKind = 'short_poll' | 'long_poll';

interface Waiter {
  readonly res: ServerResponse;
  readonly kind: PollKind;
  /** The spot it waits in, while it waits. */
  spot: Spot | undefined;
  /** Parked in a channel's lot (counted in the parked gauge). */
  parked: boolean;
  cancelDeadline: (() => void) | undefined;
  settle: () => void;
}

/** Polls of one channel at one position, asking for one envelope form: they all get the same answer, built once. */
class Spot {
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

const spotKey = (channel: string, p: Position, form: EnvelopeForm) => `${form}.${p.epoch}.${p.offset}.${channel}`;

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
 * spot gets what follows its position in one shared answer; a spot the recent messages
 * don't continue (a hole, a new epoch, a missed feed) reads history instead.
 */
class ChannelLot implements LiveListener {
  readonly spots = new Map<string, Spot>();
  /** Bumped by every live message: a read begun before a bump may have missed it, and reads again. */
  version = 0;
  /** Long polls parked here; the hub counts them as this channel's subscribers. */
  clients = 0;
  /** Reads of spots that may park here, in flight: the lot must not be dropped under them. */
  serving = 0;
  readonly joined: Promise<void>;
  private recent: Message[] = [];
  private missedFeed = false;
  private scheduled = false;
  private cancelLinger: (() => void) | undefined;

  constructor(
    readonly channel: string,
    private readonly owner: PollSpots,
  ) {
    this.joined = owner.ctx.hub.join(channel, this);
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
      this.owner.ctx.metrics.longPollsParked++;
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
    this.owner.ctx.metrics.longPollsParked--;
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
      else this.owner.answer(spot, spot.answerWith({ epoch: spot.position.epoch, offset: fresh.at(-1)!.offset }, fresh));
    }
  }

  /** The server is shutting down: every parked poll answers now, with its cursor. */
  drain(): void {
    for (const spot of [...this.spots.values()]) {
      this.unpark(spot);
      this.owner.answer(spot, spot.emptyAnswer());
    }
  }
}

/**
 * Polls of one channel from a cursor (what a polling client sends from its second poll
 * on), served in groups: the polls of a turn at the same channel and position share one
 * history read and one answer, and long polls with nothing to read park in the channel's
 * lot, where one live message answers all of them with one shared buffer.
 */
export class PollSpots {
  /** This turn's polls, by spot; read and answered at the end of the turn. */
  private turn = new Map<string, Spot>();
  private scheduled = false;
  private readonly lots = new Map<string, ChannelLot>();

  constructor(readonly ctx: ServerContext) {}

  /**
   * Answers a poll of `channel` after `position`; resolves once answered, or gone. A long
   * poll whose token lapses before its deadline ends then with 401 token_expired: nothing
   * was delivered, so the cursor the client holds is still right.
   */
  poll(channel: string, position: Position, form: EnvelopeForm, res: ServerResponse, waitMs: number, tokenExpiresAt?: number): Promise<void> {
    return new Promise<void>((settle) => {
      const kind: PollKind = waitMs === 0 ? 'short_poll' : 'long_poll';
      const waiter: Waiter = { res, kind, spot: undefined, parked: false, cancelDeadline: undefined, settle };
      const key = spotKey(channel, position, form);
      let spot = this.turn.get(key);
      if (spot === undefined) {
        spot = new Spot(channel, position, form);
        this.turn.set(key, spot);
      }
      spot.waiters.add(waiter);
      waiter.spot = spot;
      if (kind === 'long_poll') {
        res.socket?.setTimeout(0);
        const deadline = Date.now() + waitMs;
        waiter.cancelDeadline =
          tokenExpiresAt !== undefined && tokenExpiresAt < deadline
            ? this.ctx.timer.at(tokenExpiresAt, () => this.expire(waiter))
            : this.ctx.timer.at(deadline, () => this.timeout(waiter));
      }
      res.once('close', () => this.gone(waiter));
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.runTurn);
      }
    });
  }

  private readonly runTurn = (): void => {
    const spots = this.turn;
    this.turn = new Map();
    this.scheduled = false;
    for (const spot of spots.values()) void this.serve(spot);
  };

  /**
   * Reads what follows the spot's position and answers every waiter with it; when there
   * is nothing, short polls get the empty answer and long polls park. A long poll's lot is
   * on the live feed before the read, and a message arriving during the read means read
   * again, so nothing published after the read is missed.
   */
  async serve(spot: Spot): Promise<void> {
    const { hub } = this.ctx;
    let lot: ChannelLot | undefined;
    try {
      for (const w of spot.waiters) {
        if (w.kind === 'long_poll') {
          lot = this.lot(spot.channel);
          lot.serving++;
          await lot.joined;
          break;
        }
      }
      for (;;) {
        if (spot.waiters.size === 0) return;
        const version = lot?.version;
        const step = catchUpStep(spot.position, await readPage(hub, spot.channel, spot.position, PAGE));
        if (step.messages.length > 0 || step.gap !== undefined) {
          this.answer(spot, spot.answerWith(step.position, step.messages, step.gap));
          return;
        }
        for (const w of spot.waiters) if (w.kind === 'short_poll') this.send(w, spot.emptyAnswer());
        if (lot === undefined || spot.waiters.size === 0) return;
        if (lot.version === version) {
          // Shutdown began during the read: drain() has run, so parking now would hold the
          // poll to its deadline; answer it as drain() would have.
          if (this.ctx.isDraining()) this.answer(spot, spot.emptyAnswer());
          else lot.park(spot);
          return;
        }
      }
    } catch (err) {
      this.ctx.logger.warn({ err, channel: spot.channel }, 'poll failed while reading history');
      for (const w of [...spot.waiters]) {
        this.finish(w);
        sendProblem(w.res, err);
      }
    } finally {
      if (lot !== undefined) {
        lot.serving--;
        lot.linger();
      }
    }
  }

  private lot(channel: string): ChannelLot {
    let lot = this.lots.get(channel);
    if (lot === undefined) {
      lot = new ChannelLot(channel, this);
      this.lots.set(channel, lot);
      // A feed that failed to start is not kept: the next poll tries again.
      lot.joined.catch(() => this.drop(lot!));
    }
    return lot;
  }

  drop(lot: ChannelLot): void {
    if (this.lots.get(lot.channel) !== lot) return;
    this.lots.delete(lot.channel);
    this.ctx.hub.leave(lot.channel, lot);
  }

  /** Every waiter of the spot gets `answer`. */
  answer(spot: Spot, answer: SharedAnswer): void {
    for (const w of [...spot.waiters]) this.send(w, answer);
  }

  private send(w: Waiter, answer: SharedAnswer): void {
    this.finish(w);
    this.ctx.metrics.deliveries[w.kind] += answer.count;
    answer.send(w.res, this.ctx.isDraining());
  }

  /** Takes the waiter out of everything it is in; safe to call twice. */
  private finish(w: Waiter): void {
    w.cancelDeadline?.();
    w.cancelDeadline = undefined;
    const spot = w.spot;
    if (spot === undefined) return;
    w.spot = undefined;
    spot.waiters.delete(w);
    if (w.parked) this.lots.get(spot.channel)?.leave(w);
    w.settle();
  }

  private timeout(w: Waiter): void {
    const spot = w.spot;
    w.cancelDeadline = undefined;
    if (spot !== undefined) this.send(w, spot.emptyAnswer());
  }

  private expire(w: Waiter): void {
    w.cancelDeadline = undefined;
    if (w.spot === undefined) return;
    this.finish(w);
    sendProblem(w.res, tokenExpired());
  }

  private gone(w: Waiter): void {
    this.finish(w);
  }

  /** Shutdown: parked long polls answer now with their cursor (and `Connection: close`). */
  drain(): void {
    for (const lot of this.lots.values()) lot.drain();
  }
}
