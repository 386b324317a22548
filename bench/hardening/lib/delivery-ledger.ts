import { decodeCursor } from '../../../src/core/cursor.js';

/**
 * Exactly-once bookkeeping for resuming subscribers: per subscriber and channel, the next
 * offset due. A message at that offset is a delivery; below it, a duplicate; above it, the
 * ones skipped are lost. The start comes from the cursor the server hands out (decoded
 * here only to measure; the clients themselves treat it as opaque).
 */
export class DeliveryLedger {
  delivered = 0;
  duplicates = 0;
  lost = 0;
  gaps = 0;
  epochChanges = 0;
  /** Per subscriber and channel: the next offset due; offsets up to `floor` came before counting began. */
  private readonly next = new Map<string, { epoch: string; next: number; floor: number }>();

  private key(client: number, channel: string): string {
    return `${client}\u0000${channel}`;
  }

  /** The client's position from a cursor, the first time it has one for a channel. */
  start(client: number, cursor: string): void {
    for (const [channel, p] of decodeCursor(cursor)) {
      const k = this.key(client, channel);
      if (!this.next.has(k)) this.next.set(k, { epoch: p.epoch, next: p.offset + 1, floor: 0 });
    }
  }

  /**
   * Counting starts after `offset`: the next one due is offset + 1, and messages up to
   * `offset` still arriving (sent before counting began) are neither deliveries nor repeats.
   */
  startAt(client: number, channel: string, epoch: string, offset: number): void {
    this.next.set(this.key(client, channel), { epoch, next: offset + 1, floor: offset });
  }

  started(client: number, channel: string): boolean {
    return this.next.has(this.key(client, channel));
  }

  message(client: number, channel: string, epoch: string, offset: number): void {
    const k = this.key(client, channel);
    const state = this.next.get(k);
    if (state === undefined) {
      // A message before any cursor: the position is just before it.
      this.next.set(k, { epoch, next: offset + 1, floor: 0 });
      this.delivered++;
      return;
    }
    if (epoch === state.epoch && offset <= state.floor) return;
    if (state.epoch !== epoch) {
      this.epochChanges++;
      state.epoch = epoch;
      state.next = offset;
      // The old epoch's floor means nothing in the new one.
      state.floor = 0;
    }
    if (offset < state.next) {
      this.duplicates++;
      return;
    }
    this.lost += offset - state.next;
    this.delivered++;
    state.next = offset + 1;
  }

  /** Counts what each subscriber is still missing of the channels' final offsets. */
  settle(finalOffsets: ReadonlyMap<string, number>): { missing: number } {
    let missing = 0;
    for (const [k, state] of this.next) {
      const channel = k.slice(k.indexOf('\u0000') + 1);
      const last = finalOffsets.get(channel);
      if (last !== undefined && last >= state.next) missing += last - state.next + 1;
    }
    this.lost += missing;
    return { missing };
  }

  /** Subscribers whose every channel has reached its final offset. */
  caughtUp(finalOffsets: ReadonlyMap<string, number>): boolean {
    for (const [k, state] of this.next) {
      const last = finalOffsets.get(k.slice(k.indexOf('\u0000') + 1));
      if (last !== undefined && state.next <= last) return false;
    }
    return true;
  }
}
