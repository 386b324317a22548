import type { ServerResponse } from 'node:http';
import type { EnvelopeForm } from '../core/compact-envelope.js';
import type { Position } from '../core/cursor.js';
import type { GapNotice, Message } from '../core/message.js';
import { SharedAnswer, type Pending } from './poll-answer.js';
import type { PollKind, Waiter } from './poll-lot.js';
import type { PollSpots } from './poll-spots.js';

/** One channel of a poll and the position it is read from. */
export interface ChannelPosition {
  readonly channel: string;
  readonly position: Position;
}

const nothingToSettle = (): void => {};

/**
 * A poll of several channels. It has one seat per channel, and each seat is served like a
 * poll of that channel alone: grouped in its spot, read with it, parked in the channel's
 * lot, answered by the live feed, drained at shutdown. What a seat's spot answers is kept
 * as that channel's part, and this poll answers once with every part (docs/protocol.md §
 * Polling: the messages of each channel, the cursor of all): at the end of the turn in
 * which every seat has read once and one has something (a short poll: once every seat
 * has read), at its deadline, or at shutdown. Deadline, token expiry and the client going
 * away are PollSpots', through the first seat, as for a poll of one channel.
 */
export class SeveralPoll {
  readonly seats: Waiter[] = [];
  private readonly parts: Pending[];
  /** Seats that have not read yet: the poll doesn't answer before each channel had its say. */
  private readonly unread: Set<Waiter>;
  /** A part has messages or a gap. */
  private ready = false;
  private scheduled = false;
  private ended = false;
  /** Counted in the parked gauge: every seat read and found nothing. */
  private counted = false;
  cancelDeadline: (() => void) | undefined;

  constructor(
    private readonly spots: PollSpots,
    channels: readonly ChannelPosition[],
    readonly form: EnvelopeForm,
    readonly res: ServerResponse,
    readonly kind: PollKind,
    private readonly settle: () => void,
  ) {
    this.parts = channels.map(({ channel, position }) => ({ channel, position, messages: [], gap: undefined }));
    for (let i = 0; i < channels.length; i++) {
      this.seats.push({ res, kind, of: this, spot: undefined, parked: false, cancelDeadline: undefined, settle: nothingToSettle });
    }
    this.unread = new Set(this.seats);
  }

  /** Where seat `i` starts. */
  start(i: number): ChannelPosition {
    return this.parts[i]!;
  }

  /** `seat` was answered by its spot (a read, the live feed, or nothing at shutdown); it has left the spot. */
  take(seat: Waiter, position: Position, messages: Message[], gap: GapNotice | undefined): void {
    if (this.ended) return;
    const part = this.parts[this.seats.indexOf(seat)]!;
    part.position = position;
    part.messages = messages;
    part.gap = gap;
    if (messages.length > 0 || gap !== undefined) this.ready = true;
    this.unread.delete(seat);
    // Shutting down: answer now with what there is, as every parked poll does.
    if (this.spots.ctx.isDraining()) this.answer();
    else this.check();
  }

  /** `seat` read nothing after `position` and parked in its channel's lot. */
  parked(seat: Waiter, position: Position): void {
    this.parts[this.seats.indexOf(seat)]!.position = position;
    this.unread.delete(seat);
    this.check();
  }

  private check(): void {
    if (this.ended || this.unread.size > 0) return;
    if (this.ready || this.kind === 'short_poll') {
      // At the end of the turn, so that what the other channels get in this turn goes too.
      if (this.scheduled) return;
      this.scheduled = true;
      setImmediate(() => this.answer());
    } else if (!this.counted) {
      this.counted = true;
      this.spots.ctx.metrics.longPollsParked++;
    }
  }

  /** Answers with every channel's part; the seats still parked give their position. */
  answer(): void {
    if (!this.end()) return;
    const { ctx } = this.spots;
    const answer = new SharedAnswer(this.parts, this.form);
    ctx.metrics.deliveries[this.kind] += answer.count;
    answer.send(this.res, ctx.isDraining());
  }

  /** Takes every seat out of its spot and lot; false when the poll had ended already. */
  end(): boolean {
    if (this.ended) return false;
    this.ended = true;
    this.cancelDeadline?.();
    this.cancelDeadline = undefined;
    for (const seat of this.seats) this.spots.finish(seat);
    if (this.counted) this.spots.ctx.metrics.longPollsParked--;
    this.settle();
    return true;
  }
}
