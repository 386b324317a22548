import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { within } from './server.js';

/** One frame from the server, as it came over the wire (RFC 6455 § 5.2; a server never masks). */
export interface WireFrame {
  opcode: number;
  payload: Buffer;
}

/**
 * A WebSocket peer spoken by hand over a plain TCP socket: it does the opening handshake,
 * keeps reading whatever the server sends and sends only the frames it is told to, never
 * a close frame nor a pong: the peer that never answers the close handshake (a frozen
 * tab, a half-open NAT, a hostile client), which a `ws` client can't play.
 */
export class SilentWsPeer {
  /** Complete frames received so far, in order. */
  readonly frames: WireFrame[] = [];
  /** Received bytes not yet a whole frame. */
  private pending: Buffer = Buffer.alloc(0);
  /** Resolves when the server closed or destroyed the TCP socket (noticed only while reading). */
  readonly closed: Promise<void>;

  private constructor(readonly socket: Socket) {
    socket.on('error', () => {});
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  /** Connects to `baseUrl` and upgrades `path`; rejects unless the server answers 101. */
  static async open(baseUrl: string, path = '/v1/ws'): Promise<SilentWsPeer> {
    const url = new URL(baseUrl);
    const socket = connect(Number(url.port), url.hostname);
    const peer = new SilentWsPeer(socket);
    const key = randomBytes(16).toString('base64');
    socket.write(`GET ${path} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    await within(
      new Promise<void>((resolve, reject) => {
        let head = Buffer.alloc(0);
        const onData = (chunk: Buffer) => {
          head = Buffer.concat([head, chunk]);
          const end = head.indexOf('\r\n\r\n');
          if (end < 0) return;
          socket.off('data', onData);
          const status = head.subarray(0, head.indexOf('\r\n')).toString();
          if (!status.startsWith('HTTP/1.1 101 ')) return reject(new Error(`upgrade answered ${status}`));
          peer.take(head.subarray(end + 4));
          socket.on('data', (more: Buffer) => peer.take(more));
          resolve();
        };
        socket.on('data', onData);
        socket.once('close', () => reject(new Error('closed before the upgrade was answered')));
      }),
      5000,
      'the hand-made WebSocket upgrade',
    );
    return peer;
  }

  /** Sends one text frame, masked as a client must (RFC 6455 § 5.3). */
  sendText(text: string): void {
    const payload = Buffer.from(text);
    const mask = randomBytes(4);
    const length = payload.length < 126 ? Buffer.from([0x80 | payload.length]) : Buffer.from([0x80 | 126, payload.length >> 8, payload.length & 0xff]);
    const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!));
    this.socket.write(Buffer.concat([Buffer.from([0x81]), length, mask, masked]));
  }

  /** Cuts whole frames off the received bytes as they arrive. */
  private take(chunk: Buffer): void {
    const bytes = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    let at = 0;
    while (at + 2 <= bytes.length) {
      let length = bytes[at + 1]! & 0x7f;
      let start = at + 2;
      if (length === 126) {
        if (start + 2 > bytes.length) break;
        length = bytes.readUInt16BE(start);
        start += 2;
      } else if (length === 127) {
        if (start + 8 > bytes.length) break;
        length = Number(bytes.readBigUInt64BE(start));
        start += 8;
      }
      if (start + length > bytes.length) break;
      this.frames.push({ opcode: bytes[at]! & 0x0f, payload: bytes.subarray(start, start + length) });
      at = start + length;
    }
    this.pending = bytes.subarray(at);
  }

  /** The code of the server's close frame (RFC 6455 § 5.5.1), once one arrived. */
  closeCode(): number | undefined {
    const close = this.frames.find((f) => f.opcode === 0x8);
    return close === undefined || close.payload.length < 2 ? undefined : close.payload.readUInt16BE(0);
  }

  destroy(): void {
    this.socket.destroy();
  }
}
