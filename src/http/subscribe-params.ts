import { assertChannelName } from '../core/channel-name.js';
import { decodeCursor, type Positions } from '../core/cursor.js';
import { TidingsError } from '../core/errors.js';
import type { StartAt } from '../hub/subscription.js';

export const MAX_LAST = 1000;

/** One channel of a subscribe request and where it starts. */
export interface ChannelStart {
  channel: string;
  start: StartAt;
}

/** Parses `last=N` (0 to 1000). */
export function parseLast(raw: unknown): number | undefined {
  if (raw === undefined || raw === null) return undefined;
  const text = String(raw);
  if (!/^\d{1,4}$/.test(text) || Number(text) > MAX_LAST) {
    throw new TidingsError('invalid_parameter', `last=${text.slice(0, 20)} is invalid: use a whole number from 0 to ${MAX_LAST}.`);
  }
  return Number(text);
}

/**
 * docs/protocol.md § Subscribing: each channel starts after its cursor position when the cursor
 * names it, else with its last N messages when `last=` is given, else from now on.
 */
export function startsFor(channels: readonly string[], cursor: Positions | undefined, last: number | undefined): ChannelStart[] {
  return channels.map((channel) => {
    const position = cursor?.get(channel);
    if (position !== undefined) return { channel, start: { kind: 'after', position } };
    if (last !== undefined) return { channel, start: { kind: 'last', count: last } };
    return { channel, start: { kind: 'now' } };
  });
}

/** Validates the `channel=` list: at least one, each valid, no repeats, within the limit. */
export function parseChannels(raw: readonly string[], maxSubscriptions: number): string[] {
  if (raw.length === 0) {
    throw new TidingsError('invalid_channel', 'Name at least one channel with channel=NAME.');
  }
  const channels = [...new Set(raw.map(assertChannelName))];
  if (channels.length > maxSubscriptions) {
    throw new TidingsError('too_many_subscriptions', `${channels.length} channels asked; at most ${maxSubscriptions} per request.`);
  }
  return channels;
}

/**
 * The subscribe query of poll and SSE requests. `cursorOverride` is SSE's Last-Event-ID;
 * `decode` may cache (polls decode each distinct cursor once a turn), and its positions
 * are read, never changed.
 */
export function parseSubscribeQuery(
  query: URLSearchParams,
  maxSubscriptions: number,
  cursorOverride?: string,
  decode: (text: string) => Positions = decodeCursor,
): ChannelStart[] {
  const channels = parseChannels(query.getAll('channel'), maxSubscriptions);
  // Several cursor= are merged in order, a channel named twice taking the later position
  // (docs/protocol.md § Additions): a client resumes channels whose cursors came apart.
  const texts = (cursorOverride !== undefined ? [cursorOverride] : query.getAll('cursor')).filter((c) => c !== '');
  let cursor: Positions | undefined;
  for (const text of texts) for (const [channel, p] of decode(text)) (cursor ??= new Map()).set(channel, p);
  // Last-Event-ID wins over last= too: a reconnecting browser repeats the first URL.
  const last = cursorOverride !== undefined ? undefined : parseLast(query.get('last') ?? undefined);
  return startsFor(channels, cursor, last);
}
