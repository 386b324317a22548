import type { Position } from '../core/cursor.js';
import type { GapNotice, Message } from '../core/message.js';
import type { ReadResult } from '../engines/engine.js';

export interface CatchUpStep {
  /** Set when the history no longer covers the position (trimmed, or a new epoch). */
  gap: GapNotice | undefined;
  /** Messages after the position, in offset order. */
  messages: Message[];
  /** Where the reader stands after taking `messages`. */
  position: Position;
}

/**
 * Takes one page read from the engine at `position` and says what a reader gets from it.
 * The single place where "is this a gap?" is decided, shared by polls and subscriptions.
 */
export function catchUpStep(position: Position, page: ReadResult): CatchUpStep {
  let gap: GapNotice | undefined;
  let offset = position.offset;
  if (page.epoch !== position.epoch) {
    // Another life of the channel: the old offsets mean nothing here.
    gap = { channel: page.channel, epoch: page.epoch, from: offset + 1, first: page.first };
    offset = page.first - 1;
  } else if (offset > page.last) {
    // A position past the end can't come from this epoch's history; clamp it, or every
    // message up to that offset would be dropped as already seen.
    offset = page.last;
  } else if (offset + 1 < page.first) {
    gap = { channel: page.channel, epoch: page.epoch, from: offset + 1, first: page.first };
    offset = page.first - 1;
  }
  const messages = page.messages.filter((m) => m.offset > offset);
  const last = messages.at(-1);
  if (last !== undefined) offset = last.offset;
  return { gap, messages, position: { epoch: page.epoch, offset } };
}

/** Anything that reads history: the hub. */
export interface HistoryReader {
  read(channel: string, after: number, limit: number): Promise<ReadResult>;
}

/**
 * Reads the page a reader at `position` needs next. A position from another epoch says
 * nothing about this history, so when its offset lies inside the retained range the page
 * is read again from the oldest retained message; otherwise the messages between `first`
 * and the stale offset would be skipped although the gap notice says delivery resumes at
 * `first`.
 */
export async function readPage(engine: HistoryReader, channel: string, position: Position, limit: number): Promise<ReadResult> {
  const page = await engine.read(channel, position.offset, limit);
  if (page.epoch === position.epoch || position.offset < page.first) return page;
  return engine.read(channel, page.first - 1, limit);
}
