import { isChannelName } from './channel-name.js';
import { TidingsError } from './errors.js';

/** Where a client stands in one channel: it has seen every offset up to `offset` in `epoch`. */
export interface Position {
  epoch: string;
  offset: number;
}

/** A client's positions in one or more channels, keyed by channel name. */
export type Positions = Map<string, Position>;

/**
 * Cursor text: "1" (format version) + base64url of `epoch.offset.channel` entries joined by
 * ",". Epochs hold no ".", offsets are digits, and "," is not a channel character, so the
 * text splits without escaping. Opaque to clients: only this module builds or reads one.
 */
const VERSION = '1';
const EPOCH = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_CURSOR_LENGTH = 64 * 1024;

export function encodeCursor(positions: Iterable<[string, Position]>): string {
  const entries: string[] = [];
  for (const [channel, p] of positions) entries.push(`${p.epoch}.${p.offset}.${channel}`);
  return VERSION + Buffer.from(entries.join(','), 'latin1').toString('base64url');
}

export function encodeSingle(channel: string, epoch: string, offset: number): string {
  return VERSION + Buffer.from(`${epoch}.${offset}.${channel}`, 'latin1').toString('base64url');
}

export function decodeCursor(cursor: string): Positions {
  const bad = (why: string) => new TidingsError('invalid_cursor', `Cursor is invalid (${why}); use a cursor the server handed out.`);
  if (cursor.length < 2 || cursor.length > MAX_CURSOR_LENGTH) throw bad('wrong length');
  if (cursor[0] !== VERSION) throw bad('unknown format');
  const body = cursor.slice(1);
  if (!/^[A-Za-z0-9_-]+$/.test(body)) throw bad('not base64url');
  const text = Buffer.from(body, 'base64url').toString('latin1');
  const positions: Positions = new Map();
  for (const entry of text.split(',')) {
    const dot1 = entry.indexOf('.');
    const dot2 = dot1 < 0 ? -1 : entry.indexOf('.', dot1 + 1);
    if (dot2 < 0) throw bad('malformed entry');
    const epoch = entry.slice(0, dot1);
    const offsetText = entry.slice(dot1 + 1, dot2);
    const channel = entry.slice(dot2 + 1);
    const offset = Number(offsetText);
    if (!EPOCH.test(epoch) || !/^\d{1,15}$/.test(offsetText) || !Number.isSafeInteger(offset) || !isChannelName(channel)) {
      throw bad('malformed entry');
    }
    positions.set(channel, { epoch, offset });
  }
  return positions;
}
