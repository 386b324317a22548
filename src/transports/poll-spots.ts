import type { ServerResponse } from 'node:http';
import { tokenExpired } from '../auth/access.js';
import type { EnvelopeForm } from '../core/compact-envelope.js';
import type { Position } from '../core/cursor.js';
import type { GapNotice, Message } from '../core/message.js';
import { sendProblem } from '../http/respond.js';
import { catchUpStep, readPage } from '../hub/catch-up.js';
import type { ServerContext } from './context.js';
import type { SharedAnswer } from './poll-answer.js';
import { ChannelLot, PAGE, Spot, spotKey, type PollKind, type Waiter } from './poll-lot.js';
import { SeveralPoll, type ChannelPosition } from './poll-several.js';

/**
 * What a poll whose client left while it was admitted, or its start resolved, waits for:
 * nothing. Its 'close' has fired already and won't again, so it must not park.
 */
const gone = Promise.resolve();

/**
 * Every poll, served in groups: the polls of a turn at the same channel and position share
 * one history read and one answer, and long polls with nothing to read park in the
 * channel's lot, where one live message answers all of them with one shared buffer. A poll
 * of several channels takes a seat at each (poll-several.ts). Deadlines, token expiry,
 * shutdown and the client going away are handled here, once, for both.
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
    if (res.destroyed) return gone;
    return new Promise<void>((settle) => {
      const kind: PollKind = waitMs === 0 ? 'short_poll' : 'long_poll';
      const waiter: Waiter = { res, kind, of: undefined, spot: undefined, parked: false, cancelDeadline: undefined, settle };
      this.enter(waiter, channel, position, form);
      if (kind === 'long_poll') waiter.cancelDeadline = this.deadline(waiter, waitMs, tokenExpiresAt);
      res.once('close', () => this.end(waiter));
    });
  }

  /** Answers a poll of several channels, each after its position: one answer, with all of them (poll-several.ts). */
  pollSeveral(channels: readonly ChannelPosition[], form: EnvelopeForm, res: ServerResponse, waitMs: number, tokenExpiresAt?: number): Promise<void> {
    if (res.destroyed) return gone;
    return new Promise<void>((settle) => {
      const kind: PollKind = waitMs === 0 ? 'short_poll' : 'long_poll';
      const several = new SeveralPoll(this, channels, form, res, kind, settle);
      several.seats.forEach((seat, i) => this.enter(seat, several.start(i).channel, several.start(i).position, form));
      // The first seat stands for the poll with the timer and the socket.
      const first = several.seats[0]!;
      if (kind === 'long_poll') several.cancelDeadline = this.deadline(first, waitMs, tokenExpiresAt);
      res.once('close', () => this.end(first));
    });
  }

  /** Puts the waiter in this turn's spot for its channel and position. */
  private enter(waiter: Waiter, channel: string, position: Position, form: EnvelopeForm): void {
    const key = spotKey(channel, position, form);
    let spot = this.turn.get(key);
    if (spot === undefined) {
      spot = new Spot(channel, position, form);
      this.turn.set(key, spot);
    }
    spot.waiters.add(waiter);
    waiter.spot = spot;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.runTurn);
    }
  }

  /** A long poll's one timer: its deadline, or its token's expiry when that comes first. */
  private deadline(w: Waiter, waitMs: number, tokenExpiresAt: number | undefined): () => void {
    w.res.socket?.setTimeout(0);
    const deadline = Date.now() + waitMs;
    return tokenExpiresAt !== undefined && tokenExpiresAt < deadline
      ? this.ctx.timer.at(tokenExpiresAt, () => this.expire(w))
      : this.ctx.timer.at(deadline, () => this.timeout(w));
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
          if (!lot.onFeed) await lot.joined;
          break;
        }
      }
      for (;;) {
        if (spot.waiters.size === 0) return;
        const version = lot?.version;
        const step = catchUpStep(spot.position, await readPage(hub, spot.channel, spot.position, PAGE));
        if (step.messages.length > 0 || step.gap !== undefined) {
          this.answer(spot, step.position, step.messages, step.gap);
          return;
        }
        // A cursor past the end of the history is clamped to it (docs/protocol.md §
        // Decisions): the polls wait, and their cursor says so, from there.
        if (step.position.offset !== spot.position.offset) spot = this.move(spot, step.position);
        for (const w of spot.waiters) if (w.kind === 'short_poll') this.answerEmptyTo(w, spot);
        if (lot === undefined || spot.waiters.size === 0) return;
        if (lot.version === version) {
          // Shutdown began during the read: drain() has run, so parking now would hold the
          // poll to its deadline; answer it as drain() would have.
          if (this.ctx.isDraining()) this.answerEmpty(spot);
          else lot.park(spot);
          return;
        }
      }
    } catch (err) {
      this.ctx.logger.warn({ err, channel: spot.channel }, 'poll failed while reading history');
      for (const w of [...spot.waiters]) if (this.end(w)) sendProblem(w.res, err);
    } finally {
      if (lot !== undefined) {
        lot.serving--;
        lot.linger();
      }
    }
  }

  /** The spot's waiters, moved to a spot at `position`. */
  private move(from: Spot, position: Position): Spot {
    const to = new Spot(from.channel, position, from.form);
    for (const w of from.waiters) {
      to.waiters.add(w);
      w.spot = to;
    }
    from.waiters.clear();
    return to;
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

  /**
   * Every waiter of the spot gets `messages` (and `gap`), ending at `position`: the polls
   * of this channel alone one shared answer, built once; the seats of polls of several
   * channels their part.
   */
  answer(spot: Spot, position: Position, messages: Message[], gap?: GapNotice): void {
    let shared: SharedAnswer | undefined;
    for (const w of [...spot.waiters]) {
      if (w.of === undefined) this.send(w, (shared ??= spot.answerWith(position, messages, gap)));
      else this.hand(w, position, messages, gap);
    }
  }

  /** Every waiter of the spot gets nothing and the cursor of its position. */
  answerEmpty(spot: Spot): void {
    for (const w of [...spot.waiters]) this.answerEmptyTo(w, spot);
  }

  private answerEmptyTo(w: Waiter, spot: Spot): void {
    if (w.of === undefined) this.send(w, spot.emptyAnswer());
    else this.hand(w, spot.position, [], undefined);
  }

  private send(w: Waiter, answer: SharedAnswer): void {
    this.finish(w);
    this.ctx.metrics.deliveries[w.kind] += answer.count;
    answer.send(w.res, this.ctx.isDraining());
  }

  /** A seat's part goes to its poll of several channels, which answers for all of them. */
  private hand(w: Waiter, position: Position, messages: Message[], gap: GapNotice | undefined): void {
    this.finish(w);
    w.of!.take(w, position, messages, gap);
  }

  /** Takes the waiter out of its spot and lot; safe to call twice. */
  finish(w: Waiter): void {
    w.cancelDeadline?.();
    w.cancelDeadline = undefined;
    const spot = w.spot;
    if (spot === undefined) return;
    w.spot = undefined;
    spot.waiters.delete(w);
    if (w.parked) this.lots.get(spot.channel)?.leave(w);
    w.settle();
  }

  /** Ends the poll `w` is (part of) without answering it; false when it had ended already. */
  private end(w: Waiter): boolean {
    if (w.of !== undefined) return w.of.end();
    if (w.spot === undefined) return false;
    this.finish(w);
    return true;
  }

  /** The deadline: the poll answers with what it has (nothing, for a poll of one channel) and its cursor. */
  private timeout(w: Waiter): void {
    if (w.of !== undefined) w.of.answer();
    else if (w.spot !== undefined) this.send(w, w.spot.emptyAnswer());
  }

  private expire(w: Waiter): void {
    if (this.end(w)) sendProblem(w.res, tokenExpired());
  }

  /** Shutdown: parked long polls answer now with their cursor (and `Connection: close`). */
  drain(): void {
    for (const lot of this.lots.values()) lot.drain();
  }
}
