import { assertChannelName } from '../core/channel-name.js';
import { decodeCursor } from '../core/cursor.js';
import { TidingsError } from '../core/errors.js';
import { assertJsonDepth } from '../core/json-depth.js';
import { parseLast } from '../http/subscribe-params.js';
import type { StartAt } from '../hub/subscription.js';
import { assertEventName, assertIdempotencyKey } from './http-api.js';

/** A client's request id, echoed in the answer; anything but a string or number is ignored. */
export type FrameId = string | number | undefined;

/** Every frame a client may send (docs/protocol.md § WebSocket), validated. */
export type ClientFrame =
  | { type: 'subscribe'; id: FrameId; channel: string; start: StartAt }
  | { type: 'unsubscribe'; id: FrameId; channel: string }
  | { type: 'publish'; id: FrameId; channel: string; data: unknown; event: string | undefined; idempotencyKey: string | undefined }
  | { type: 'ping'; id: FrameId }
  /** Swaps the connection's credential in place (a token refresh without reconnecting). */
  | { type: 'auth'; id: FrameId; token: string };

/** A parsed frame, or why it was refused and the id to answer with. */
export type ParsedFrame = { ok: true; frame: ClientFrame } | { ok: false; error: TidingsError; id: FrameId };

/** `{ id }` for a reply when the client gave one, else nothing (so no `"id":null` on the wire). */
export function idField(id: FrameId): { id?: string | number } {
  return id === undefined ? {} : { id };
}

type Fields = Record<string, unknown>;

function startOf(channel: string, fields: Fields): StartAt {
  if (fields.cursor !== undefined) {
    if (typeof fields.cursor !== 'string') throw new TidingsError('invalid_cursor', 'cursor must be a string.');
    // A cursor from a poll or SSE may name several channels: this subscription takes its own.
    const position = decodeCursor(fields.cursor).get(channel);
    if (position === undefined) throw new TidingsError('invalid_cursor', `The cursor holds no position for ${channel}.`);
    return { kind: 'after', position };
  }
  const last = parseLast(fields.last);
  return last === undefined ? { kind: 'now' } : { kind: 'last', count: last };
}

function validate(fields: Fields & { type: string }, id: FrameId): ClientFrame {
  switch (fields.type) {
    case 'subscribe': {
      const channel = assertChannelName(fields.channel);
      return { type: 'subscribe', id, channel, start: startOf(channel, fields) };
    }
    case 'unsubscribe':
      return { type: 'unsubscribe', id, channel: assertChannelName(fields.channel) };
    case 'publish': {
      const channel = assertChannelName(fields.channel);
      if (!('data' in fields)) throw new TidingsError('invalid_frame', 'A publish frame needs "data".');
      return { type: 'publish', id, channel, data: fields.data, event: assertEventName(fields.event), idempotencyKey: assertIdempotencyKey(fields.idempotencyKey, 'idempotencyKey') };
    }
    case 'ping':
      return { type: 'ping', id };
    case 'auth':
      if (typeof fields.token !== 'string' || fields.token.length === 0) {
        throw new TidingsError('invalid_frame', 'An auth frame needs "token": the new credential as a non-empty string.');
      }
      return { type: 'auth', id, token: fields.token };
    default:
      throw new TidingsError(
        'invalid_frame',
        `Unknown frame type ${JSON.stringify(fields.type).slice(0, 40)}: use subscribe, unsubscribe, publish, ping or auth.`,
      );
  }
}

/**
 * Reads one client frame: a text frame holding one JSON object with a string `type`.
 * Never throws: a bad frame comes back as the error to answer, with the frame's id when
 * it had a usable one.
 */
export function parseClientFrame(data: Buffer | ArrayBuffer | Buffer[] | string, isBinary: boolean): ParsedFrame {
  if (isBinary) return { ok: false, error: new TidingsError('invalid_frame', 'Send text frames holding one JSON object.'), id: undefined };
  const text =
    typeof data === 'string' ? data : Buffer.isBuffer(data) ? data.toString() : Array.isArray(data) ? Buffer.concat(data).toString() : Buffer.from(data).toString();
  let parsed: unknown;
  try {
    // Deep nesting parses but overflows the stack when serialised later (npm run storm).
    assertJsonDepth(text, 'The frame');
  } catch (err) {
    return { ok: false, error: err as TidingsError, id: undefined };
  }
  try {
    parsed = JSON.parse(text);
  } catch {
    return { ok: false, error: new TidingsError('invalid_json', 'The frame is not valid JSON.'), id: undefined };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || typeof (parsed as Fields).type !== 'string') {
    return { ok: false, error: new TidingsError('invalid_frame', 'A frame is a JSON object with a string "type".'), id: undefined };
  }
  const fields = parsed as Fields & { type: string };
  const id = typeof fields.id === 'string' || typeof fields.id === 'number' ? fields.id : undefined;
  try {
    return { ok: true, frame: validate(fields, id) };
  } catch (err) {
    if (!(err instanceof TidingsError)) throw err;
    return { ok: false, error: err, id };
  }
}
