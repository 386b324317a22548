import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { CLOSE_REASONS } from '../../../src/core/close-reasons.js';
import { ERROR_CODES } from '../../../src/core/errors.js';

export interface FrameSpec {
  fin?: boolean;
  /** RSV1..3 as bits 0b100, 0b010, 0b001. */
  rsv?: number;
  opcode: number;
  payload: Buffer;
  /** Client frames must be masked (RFC 6455 § 5.3); false sends one unmasked. */
  mask?: boolean;
  /** A length to declare instead of the payload's (the payload is still what is sent). */
  declaredLength?: number;
}

/** One RFC 6455 frame, built by hand so that any field can be wrong. */
export function frame(f: FrameSpec): Buffer {
  const len = f.declaredLength ?? f.payload.length;
  const mask = f.mask ?? true;
  const head: number[] = [((f.fin ?? true) ? 0x80 : 0) | ((f.rsv ?? 0) << 4) | (f.opcode & 0x0f)];
  const m = mask ? 0x80 : 0;
  if (len < 126) head.push(m | len);
  else if (len < 65536) head.push(m | 126, len >> 8, len & 0xff);
  else {
    head.push(m | 127);
    const big = Buffer.alloc(8);
    big.writeBigUInt64BE(BigInt(len));
    head.push(...big);
  }
  if (!mask) return Buffer.concat([Buffer.from(head), f.payload]);
  const key = randomBytes(4);
  const body = Buffer.from(f.payload);
  for (let i = 0; i < body.length; i++) body[i]! ^= key[i & 3]!;
  return Buffer.concat([Buffer.from(head), key, body]);
}

export const text = (s: string | Buffer, extra: Partial<FrameSpec> = {}): Buffer => frame({ opcode: 1, payload: Buffer.isBuffer(s) ? s : Buffer.from(s), ...extra });

export type ServerFrame = { kind: 'text'; text: string } | { kind: 'close'; code: number | undefined } | { kind: 'ping' | 'pong' | 'binary' | 'other'; opcode: number };

/** Close codes a client may be shown: the shared table's, a clean 1000, and RFC 6455's protocol errors that ws sends. */
export const DOCUMENTED_CLOSE = new Set<number>([1000, 1002, 1007, ...Object.values(CLOSE_REASONS).map((r) => r.ws)]);

/** A raw client connection upgraded to WebSocket, reading the server's (unmasked) frames itself. */
export class RawWs {
  private buf: Buffer = Buffer.alloc(0);
  private waiter: (() => void) | undefined;
  readonly frames: ServerFrame[] = [];
  closed = false;
  private constructor(readonly socket: Socket) {}

  static open(port: number, path = '/v1/ws', localAddress?: string): Promise<RawWs> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host: '127.0.0.1', localAddress });
      socket.setNoDelay(true);
      const ws = new RawWs(socket);
      let head = Buffer.alloc(0);
      const timer = setTimeout(() => fail(new Error('upgrade: no answer in 10 s')), 10_000);
      const fail = (err: Error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(err);
      };
      const onData = (d: Buffer) => {
        head = Buffer.concat([head, d]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        clearTimeout(timer);
        socket.off('data', onData);
        if (!head.subarray(0, 12).toString().startsWith('HTTP/1.1 101')) return fail(new Error(`upgrade refused: ${head.subarray(0, 80).toString()}`));
        socket.on('data', (more: Buffer) => ws.take(more));
        ws.take(head.subarray(end + 4));
        resolve(ws);
      };
      socket.on('data', onData);
      socket.on('error', (err) => (ws.closed ? undefined : fail(err)));
      socket.on('close', () => {
        ws.closed = true;
        ws.waiter?.();
      });
      socket.once('connect', () =>
        socket.write(
          `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        ),
      );
    });
  }

  private take(d: Buffer): void {
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
    for (;;) {
      if (this.buf.length < 2) break;
      const b0 = this.buf[0]!;
      const b1 = this.buf[1]!;
      let len = b1 & 0x7f;
      let at = 2;
      if (len === 126) {
        if (this.buf.length < 4) break;
        len = this.buf.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) break;
        len = Number(this.buf.readBigUInt64BE(2));
        at = 10;
      }
      if (this.buf.length < at + len) break;
      const payload = this.buf.subarray(at, at + len);
      this.buf = this.buf.subarray(at + len);
      const opcode = b0 & 0x0f;
      if (opcode === 1) this.frames.push({ kind: 'text', text: payload.toString('utf8') });
      else if (opcode === 8) this.frames.push({ kind: 'close', code: payload.length >= 2 ? payload.readUInt16BE(0) : undefined });
      else if (opcode === 9) this.frames.push({ kind: 'ping', opcode });
      else if (opcode === 10) this.frames.push({ kind: 'pong', opcode });
      else this.frames.push({ kind: opcode === 2 ? 'binary' : 'other', opcode });
    }
    this.waiter?.();
  }

  send(bytes: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  /** Waits until `done()` holds, the socket closes, or `ms` pass. */
  until(done: () => boolean, ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      if (done() || this.closed) return resolve(done());
      const timer = setTimeout(() => {
        this.waiter = undefined;
        resolve(done());
      }, ms);
      this.waiter = () => {
        if (done() || this.closed) {
          clearTimeout(timer);
          this.waiter = undefined;
          resolve(done());
        }
      };
    });
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/**
 * Proper WebSocket outcomes: `error-frame` (a Tidings error frame with a known code),
 * `reply` (a Tidings answer: the input was odd but valid), `silent` (nothing, for inputs
 * that call for nothing, e.g. a pong), `close-NNNN` with a documented code, `close-echoed`
 * (our own valid close code sent back, RFC 6455 § 5.5.1). Improper:
 * `server-error` (code internal), `bad-error` (unknown code or not JSON), `bad-close`
 * (an undocumented close code), `dropped` (socket gone without a close frame),
 * `no-answer` (nothing within the wait), `unexpected-silence`.
 */
export function classifyWs(frames: readonly ServerFrame[], syncSeen: boolean, closed: boolean, allowSilent: boolean, echoClose?: number): { cls: string; improper: boolean; why?: string } {
  let result: { cls: string; improper: boolean; why?: string } | undefined;
  for (const f of frames) {
    if (f.kind === 'close') {
      const code = f.code ?? 1005;
      if (code === echoClose) return { cls: 'close-echoed', improper: false };
      const ok = DOCUMENTED_CLOSE.has(code);
      return ok ? { cls: `close-${code}`, improper: false } : { cls: 'bad-close', improper: true, why: `close code ${code}` };
    }
    if (f.kind !== 'text') {
      if (f.kind === 'pong') result ??= { cls: 'reply', improper: false };
      continue;
    }
    let o: { type?: unknown; code?: unknown };
    try {
      o = JSON.parse(f.text) as typeof o;
    } catch {
      return { cls: 'bad-error', improper: true, why: `not JSON: ${f.text.slice(0, 100)}` };
    }
    if (o.type === 'error') {
      if (o.code === 'internal') return { cls: 'server-error', improper: true, why: f.text.slice(0, 200) };
      if (!(typeof o.code === 'string' && o.code in ERROR_CODES)) return { cls: 'bad-error', improper: true, why: f.text.slice(0, 200) };
      result = { cls: 'error-frame', improper: false };
    } else if (result === undefined) result = { cls: 'reply', improper: false };
  }
  if (result !== undefined) return result;
  if (closed) return { cls: 'dropped', improper: true, why: 'socket closed without a close frame' };
  if (!syncSeen) return { cls: 'no-answer', improper: true, why: 'no answer and no pong to the sync ping' };
  return allowSilent ? { cls: 'silent', improper: false } : { cls: 'unexpected-silence', improper: true, why: 'no answer to a bad frame' };
}
