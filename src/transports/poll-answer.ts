import type { ServerResponse } from 'node:http';
import { envelopeJson, type EnvelopeForm } from '../core/compact-envelope.js';
import { encodeCursor, type Position } from '../core/cursor.js';
import type { GapNotice, Message } from '../core/message.js';
import { sendJson } from '../http/respond.js';

/** What one poll answer is built from, per channel. */
export interface Pending {
  channel: string;
  position: Position;
  messages: Message[];
  gap: GapNotice | undefined;
}

export function answerBody(pending: readonly Pending[], form: EnvelopeForm = 'full'): string {
  let messages = '';
  let gaps: GapNotice[] | undefined;
  const withChannel = pending.length > 1;
  for (const p of pending) {
    if (p.gap !== undefined) (gaps ??= []).push(p.gap);
    for (const m of p.messages) messages += (messages === '' ? '' : ',') + envelopeJson(m, form, withChannel);
  }
  const gap = gaps !== undefined ? `,"gap":${JSON.stringify(gaps)}` : '';
  return `{"messages":[${messages}],"cursor":"${cursorOf(pending)}"${gap}}`;
}

/** The answer's cursor; for one channel ending at its last message, that message's own (made once for every answer and transport). */
function cursorOf(pending: readonly Pending[]): string {
  const only = pending.length === 1 ? pending[0]! : undefined;
  const last = only?.messages.at(-1);
  if (last !== undefined && last.offset === only!.position.offset && last.epoch === only!.position.epoch && last.channel === only!.channel) return last.cursorAfter;
  return encodeCursor(pending.map((p) => [p.channel, p.position]));
}

/** The `Date` header (RFC 9110 § 6.6.1) of this second: made once a second, not once an answer. */
let dateSecond = -1;
let dateHeader = '';
function dateOf(second: number): string {
  if (second !== dateSecond) {
    dateSecond = second;
    dateHeader = `Date: ${new Date(second * 1000).toUTCString()}\r\n`;
  }
  return dateHeader;
}

/** node:http's fields for a head already sent; set so that `res.end()` only finishes the response. */
interface HeadState {
  _header: string | null;
  _headerSent: boolean;
  maxRequestsOnConnectionReached?: boolean;
  /** The server's keepAliveTimeout, which node:http states in a `Keep-Alive` header. */
  _keepAliveTimeout?: number;
}

/**
 * One poll answer, shared by every poll it goes to: its body is serialised once and, when
 * the whole response can be, so are its status line and headers: many polls parked at the
 * same channel and position then cost one socket write each and nothing else.
 */
export class SharedAnswer {
  /** The JSON text. */
  readonly body: string;
  /** Messages in the answer, for the deliveries counter. */
  readonly count: number;
  private raw: Buffer | undefined;
  private rawHead = '';
  private rawSecond = -1;

  constructor(pending: readonly Pending[], form: EnvelopeForm = 'full') {
    this.body = answerBody(pending, form);
    let count = 0;
    for (const p of pending) count += p.messages.length;
    this.count = count;
  }

  /**
   * Status line, headers and body in one Buffer, encoded in one go (most answers go to
   * one poll: a buffer for the body and another to join it to the head cost as much as
   * the rest of the answer); made again only when the Date's second changes.
   */
  private response(keepAliveMs: number | undefined): Buffer {
    const second = Math.floor(Date.now() / 1000);
    if (this.raw === undefined || this.rawSecond !== second) {
      this.rawSecond = second;
      this.rawHead =
        'HTTP/1.1 200 OK\r\n' +
        'Content-Type: application/json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(this.body)}\r\n` +
        'Cache-Control: no-store\r\n' +
        dateOf(second) +
        'Connection: keep-alive\r\n' +
        (keepAliveMs ? `Keep-Alive: timeout=${Math.floor(keepAliveMs / 1000)}\r\n\r\n` : '\r\n');
      this.raw = Buffer.from(this.rawHead + this.body);
    }
    return this.raw;
  }

  /**
   * Sends the answer. When the response has nothing of its own (a keep-alive HTTP/1.1 GET
   * that is the socket's current response, no CORS headers set, not draining), the shared
   * bytes go straight to the socket and node:http is told the head is sent, so `end()`
   * writes nothing and only finishes the response, keep-alive and all. Anything else
   * (HEAD, HTTP/1.0, `Connection: close`, CORS, pipelined behind another answer, a drain
   * that must close the connection) goes through ServerResponse with the same body.
   */
  send(res: ServerResponse, draining: boolean): void {
    const socket = res.socket;
    const state = res as unknown as HeadState;
    if (
      !draining &&
      socket !== null &&
      state._header === null &&
      res.req.method === 'GET' &&
      res.req.httpVersion === '1.1' &&
      res.shouldKeepAlive &&
      state.maxRequestsOnConnectionReached !== true &&
      !res.hasHeader('access-control-allow-origin')
    ) {
      socket.write(this.response(state._keepAliveTimeout));
      state._header = this.rawHead;
      state._headerSent = true;
      res.end();
      return;
    }
    sendJson(res, 200, this.body, draining ? { connection: 'close' } : {});
  }
}
