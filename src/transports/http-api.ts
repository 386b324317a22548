import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Grants } from '../auth/access.js';
import { bearerToken } from '../auth/api-key.js';
import { assertChannelName } from '../core/channel-name.js';
import { TidingsError } from '../core/errors.js';
import type { PublishRequest, PublishResult } from '../hub/hub.js';
import { mediaType, parseJson, readBody } from '../http/body.js';
import { sendJson } from '../http/respond.js';
import type { ServerContext } from './context.js';

/** Event names a publisher may choose; `gap` and `close` name the server's own SSE events. */
const EVENT_NAME = /^[A-Za-z0-9_\-.:@/]{1,100}$/;
const RESERVED_EVENTS = new Set(['gap', 'close']);
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,200}$/;
const MAX_BATCH = 1000;
const MAX_HISTORY_LIMIT = 1000;
const DEFAULT_HISTORY_LIMIT = 100;

export function assertEventName(event: unknown): string | undefined {
  if (event === undefined || event === null) return undefined;
  if (typeof event !== 'string' || !EVENT_NAME.test(event) || RESERVED_EVENTS.has(event)) {
    throw new TidingsError(
      'invalid_parameter',
      'event must be 1 to 100 characters of A-Z a-z 0-9 _ - . : @ /, and not "gap" or "close" (the server\'s own SSE events).',
    );
  }
  return event;
}

/** An Idempotency-Key (HTTP header, or a WebSocket publish frame's `idempotencyKey`), or undefined. */
export function assertIdempotencyKey(key: unknown, name: string): string | undefined {
  if (key === undefined) return undefined;
  if (typeof key !== 'string' || !IDEMPOTENCY_KEY.test(key)) {
    throw new TidingsError('invalid_parameter', `${name} must be 1 to 200 printable ASCII characters.`);
  }
  return key;
}

function parseOffsetParam(name: string, raw: string | null, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  if (raw === null || raw === '') return fallback;
  if (!/^\d{1,15}$/.test(raw) || Number(raw) > max) {
    throw new TidingsError('invalid_parameter', `${name}=${raw.slice(0, 20)} is invalid: use a whole number from 0 to ${max}.`);
  }
  return Number(raw);
}

function publishedBody(r: PublishResult): string {
  return JSON.stringify({ channel: r.channel, offset: r.offset, epoch: r.epoch, time: r.time });
}

/** Request/response endpoints: publish, batch publish, history, channel info. */
export class HttpApi {
  constructor(private readonly ctx: ServerContext) {}

  private grants(req: IncomingMessage, query: URLSearchParams): Promise<Grants> {
    return this.ctx.access.identify(bearerToken(req, query));
  }

  /** `POST /v1/channels/{ch}/messages`: the body is the data (JSON, or text as a string). */
  async publish(req: IncomingMessage, res: ServerResponse, channelName: string, query: URLSearchParams): Promise<void> {
    const channel = assertChannelName(channelName);
    (await this.grants(req, query)).assertPublish(channel);
    this.ctx.rateLimit.take(req.socket.remoteAddress ?? '');
    const event = assertEventName(query.get('event') ?? undefined);
    const keyHeader = req.headers['idempotency-key'];
    const idempotencyKey = assertIdempotencyKey(Array.isArray(keyHeader) ? keyHeader[0] : keyHeader, 'Idempotency-Key');
    const body = await readBody(req, this.ctx.config.maxMessageBytes);
    const data = this.decodeData(req, body);
    const [result] = await this.ctx.hub.publish([{ channel, data, event, idempotencyKey }]);
    sendJson(res, result!.duplicate ? 200 : 201, publishedBody(result!));
  }

  /**
   * JSON for JSON media types, and also for none or curl's default form type, so that
   * `curl -d '{"a":1}'` does what it looks like; `text/*` is taken as a string.
   */
  private decodeData(req: IncomingMessage, body: Buffer): unknown {
    const type = mediaType(req);
    if (type.startsWith('text/')) return body.toString('utf8');
    if (type === '' || type === 'application/json' || type.endsWith('+json') || type === 'application/x-www-form-urlencoded') {
      if (body.length === 0) throw new TidingsError('invalid_json', 'The body is empty: send a JSON value, or text/plain.');
      return parseJson(body, 'The body');
    }
    throw new TidingsError('unsupported_media_type', `Content-Type ${type} is not accepted: send application/json or text/plain.`);
  }

  /** `POST /v1/publish`: several messages, all or nothing. */
  async publishBatch(req: IncomingMessage, res: ServerResponse, query: URLSearchParams): Promise<void> {
    const grants = await this.grants(req, query);
    const limit = this.ctx.config.maxMessageBytes * 16;
    const body = parseJson(await readBody(req, limit), 'The body');
    const items = (body as { messages?: unknown } | null)?.messages;
    if (typeof body !== 'object' || body === null || !Array.isArray(items)) {
      throw new TidingsError('invalid_json', 'The body must be {"messages":[{"channel":…,"data":…,"event"?:…}]}.');
    }
    if (items.length === 0 || items.length > MAX_BATCH) {
      throw new TidingsError('invalid_parameter', `A batch holds 1 to ${MAX_BATCH} messages; this one has ${items.length}.`);
    }
    const batch: PublishRequest[] = items.map((item: unknown, i: number) => {
      if (typeof item !== 'object' || item === null || !('data' in item)) {
        throw new TidingsError('invalid_json', `messages[${i}] must be an object with "channel" and "data".`);
      }
      const { channel, data, event } = item as { channel?: unknown; data: unknown; event?: unknown };
      const size = Buffer.byteLength(JSON.stringify(data) ?? '');
      if (size > this.ctx.config.maxMessageBytes) {
        throw new TidingsError('payload_too_large', `messages[${i}].data is ${size} bytes; the limit is ${this.ctx.config.maxMessageBytes}.`);
      }
      const name = assertChannelName(channel);
      grants.assertPublish(name);
      return { channel: name, data, event: assertEventName(event) };
    });
    this.ctx.rateLimit.take(req.socket.remoteAddress ?? '', batch.length);
    const results = await this.ctx.hub.publish(batch);
    sendJson(res, 201, `{"results":[${results.map(publishedBody).join(',')}]}`);
  }

  /** `GET /v1/channels/{ch}/messages?after=&limit=`. */
  async history(req: IncomingMessage, res: ServerResponse, channelName: string, query: URLSearchParams): Promise<void> {
    const channel = assertChannelName(channelName);
    (await this.grants(req, query)).assertSubscribe(channel);
    const after = parseOffsetParam('after', query.get('after'), 0);
    const limit = parseOffsetParam('limit', query.get('limit'), DEFAULT_HISTORY_LIMIT, MAX_HISTORY_LIMIT);
    const page = await this.ctx.hub.read(channel, after, limit);
    const messages = page.messages.map((m) => m.json).join(',');
    sendJson(
      res,
      200,
      `{"channel":${JSON.stringify(channel)},"epoch":${JSON.stringify(page.epoch)},"messages":[${messages}],"first":${page.first},"last":${page.last}}`,
    );
  }

  /** `GET /v1/channels/{ch}`. */
  async info(req: IncomingMessage, res: ServerResponse, channelName: string, query: URLSearchParams): Promise<void> {
    const channel = assertChannelName(channelName);
    (await this.grants(req, query)).assertSubscribe(channel);
    const [state, subscribers] = await Promise.all([this.ctx.hub.info(channel), this.ctx.hub.subscribers(channel)]);
    sendJson(res, 200, { channel, epoch: state.epoch, last: state.last, first: state.first, subscribers });
  }
}
