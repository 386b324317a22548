import { CLOSE_REASONS } from '../../core/close-reasons.js';
import type { Ack, WebSocketLike } from '../types.js';
import { endpoint } from './http.js';
import { clientError, dropFor, type Drop, type SubState, type Transport, type TransportHost } from './transport.js';

type Frame = Record<string, unknown> & { type: string; id?: string };

/** The close reason of a WebSocket close code, by the table the server uses. */
function reasonOf(code: number): string {
  for (const [reason, r] of Object.entries(CLOSE_REASONS)) if (r.ws === code) return reason;
  // 1000/1005/1006 and anything unknown: the network or a proxy ended it (dropFor resumes it).
  return code === 1006 ? 'network' : `ws_${code}`;
}

interface Pending {
  resolve(frame: Frame): void;
  reject(err: Error): void;
}

/**
 * WebSocket (`/v1/ws`): one socket, a `subscribe` frame per channel with its cursor, and
 * publishing over the same socket. Established once the socket is open and every
 * subscription it started with is confirmed (`subscribed`, whose cursor is kept: a drop
 * before the first message still resumes where the subscription began).
 */
export class WsTransport implements Transport {
  readonly name = 'ws' as const;
  private socket: WebSocketLike | undefined;
  /** Channels subscribed (or being subscribed) on this socket, with the subscription they are for. */
  private readonly channels = new Map<string, SubState>();
  private readonly pending = new Map<string, Pending>();
  private nextId = 1;
  private awaiting = 0;
  private established = false;
  private done = false;
  private tokenExpired = false;
  private lastFrameAt = Date.now();
  private tokenUsed: string | undefined;
  private watchdog: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly host: TransportHost) {}

  open(): void {
    const Ctor = this.host.options.WebSocket;
    if (Ctor === undefined) {
      this.end({ reason: 'unsupported', resume: true, neverOpened: true, error: clientError('no WebSocket implementation on this platform') });
      return;
    }
    const url = endpoint(this.host, '/v1/ws');
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    const token = this.host.token();
    this.tokenUsed = token;
    // A browser's WebSocket can't send headers: the token goes in the URL (docs/protocol.md § Auth).
    if (token !== undefined) url.searchParams.set('token', token);
    let socket: WebSocketLike;
    try {
      socket = new Ctor(url.href);
    } catch (err) {
      this.end({ reason: 'network', resume: true, neverOpened: true, error: clientError(String(err)) });
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      this.sync();
      if (this.awaiting === 0) this.markEstablished();
    };
    socket.onmessage = (ev) => {
      this.lastFrameAt = Date.now();
      this.onFrame(String(ev.data));
    };
    socket.onerror = (ev) => {
      // `ws` (Node) says why an upgrade failed; a browser never does (it falls back, then
      // the HTTP transports see the 401 and fetch a token).
      if (/\b401\b/.test(String((ev as { message?: unknown } | undefined)?.message))) this.tokenExpired = true;
    };
    socket.onclose = (ev) => {
      const reason = reasonOf(ev.code);
      this.end({ ...dropFor(reason, !this.established, this.tokenExpired || reason === 'token_expired'), tokenUsed: this.tokenUsed });
    };
  }

  private send(frame: object): void {
    if (this.socket?.readyState === 1) this.socket.send(JSON.stringify(frame));
  }

  /** Sends a frame with an id; resolves with the answer that carries it. */
  private call(frame: Record<string, unknown>): Promise<Frame> {
    const id = `${this.nextId++}`;
    return new Promise<Frame>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.send({ ...frame, id });
    });
  }

  sync(): void {
    if (this.socket?.readyState !== 1) return;
    const subs = this.host.subs;
    // Frames are answered in order, so an unsubscribe then a subscribe of one channel (a
    // subscription replaced within one turn) lands as the new subscription asked.
    for (const [channel, state] of [...this.channels]) {
      if (subs.get(channel) === state) continue;
      this.channels.delete(channel);
      void this.call({ type: 'unsubscribe', channel }).catch(() => {});
    }
    for (const s of subs.values()) {
      if (this.channels.has(s.channel)) continue;
      this.channels.set(s.channel, s);
      const frame: Record<string, unknown> = { type: 'subscribe', channel: s.channel };
      if (s.cursor !== undefined) frame.cursor = s.cursor;
      else if (s.last !== undefined) frame.last = s.last;
      this.awaiting++;
      this.call(frame).then(
        (answer) => {
          // Unsubscribed (and maybe subscribed anew) while this answer was on its way: it
          // speaks for a subscription that is gone, and must not touch its successor.
          if (this.channels.get(s.channel) !== s) return this.answered();
          // Servers before docs/protocol.md § Additions sent no cursor: then the old one stands.
          if (answer.type === 'subscribed' && typeof answer.cursor === 'string') this.host.position(this, [s.channel], answer.cursor);
          else if (answer.type === 'error') this.onRefused(s.channel, answer);
          this.answered();
        },
        () => {},
      );
    }
  }

  private answered(): void {
    if (--this.awaiting === 0) this.markEstablished();
  }

  private markEstablished(): void {
    if (this.established || this.done) return;
    this.established = true;
    this.host.established(this);
    // A browser can't see the server's pings: a link silent for half the idle timeout is
    // asked for a pong, so a half-open connection is found in about idleTimeout, not TCP's minutes.
    const every = this.host.options.idleTimeout / 2;
    this.watchdog = setInterval(() => Date.now() - this.lastFrameAt >= every && this.check(), every);
  }

  private onRefused(channel: string, answer: Frame): void {
    this.channels.delete(channel);
    if (answer.code === 'token_expired' || answer.code === 'unauthorized') {
      // The token behind this socket no longer works: reconnect with a fresh one.
      this.tokenExpired = true;
      this.socket?.close(1000, 'token refresh');
      return;
    }
    if (answer.code === 'unavailable' || answer.code === 'internal' || answer.code === 'rate_limited') {
      // Passing (a draining server, a hiccup): the subscription stands; reconnect and ask again.
      this.socket?.close(1000, String(answer.code));
      return;
    }
    this.host.refused(this, channel, clientError(String(answer.message), String(answer.code), channel));
  }

  private onFrame(text: string): void {
    let frame: Frame;
    try {
      frame = JSON.parse(text) as Frame;
    } catch {
      return;
    }
    if (frame.type === 'message') {
      const { type: _t, cursor, ...m } = frame;
      this.host.message(this, m as never, cursor as string);
      return;
    }
    if (frame.type === 'gap') {
      const { type: _t, ...g } = frame;
      this.host.gap(this, g as never);
      return;
    }
    const waiter = frame.id === undefined ? undefined : this.pending.get(String(frame.id));
    if (waiter !== undefined) {
      this.pending.delete(String(frame.id));
      waiter.resolve(frame);
      return;
    }
    if (frame.type === 'error' && frame.code === 'token_expired') {
      // docs/protocol.md § token lifecycle: close 4001 follows. Ask for a token now (sent
      // in place if the socket is still open); the reconnect after the close uses it.
      this.tokenExpired = true;
      void this.host.refreshToken();
    } else if (frame.type === 'error' && typeof frame.channel === 'string' && this.channels.delete(frame.channel)) {
      // A new token's grants no longer cover this subscription: the server ended it.
      this.host.refused(this, frame.channel, clientError(String(frame.message), String(frame.code), frame.channel));
    }
  }

  publish(channel: string, data: unknown, event: string | undefined, key: string): Promise<Ack> | undefined {
    if (this.socket?.readyState !== 1) return undefined;
    return this.call({ type: 'publish', channel, data, ...(event === undefined ? {} : { event }), idempotencyKey: key }).then((answer) => {
      if (answer.type !== 'ack') throw clientError(String(answer.message), String(answer.code), channel);
      return { channel: answer.channel as string, offset: answer.offset as number, epoch: answer.epoch as string };
    });
  }

  auth(token: string): void {
    // An older server answers invalid_frame: harmless, the token is used at the next connect.
    if (this.established) void this.call({ type: 'auth', token }).catch(() => {});
  }

  check(): void {
    const socket = this.socket;
    if (socket?.readyState !== 1) return;
    // A socket that slept through a network change may be half-open: a ping must come back.
    const timer = setTimeout(() => {
      this.detach();
      this.end({ reason: 'timeout', resume: true, error: clientError('no pong: the connection is gone') });
    }, this.host.options.requestTimeout);
    this.call({ type: 'ping' }).then(() => clearTimeout(timer), () => clearTimeout(timer));
  }

  /** Ends it once: no more pings, and every call waiting for an answer fails. False if it had ended. */
  private stop(why: string): boolean {
    clearInterval(this.watchdog);
    if (this.done) return false;
    this.done = true;
    for (const p of this.pending.values()) p.reject(clientError(`connection closed (${why})`, 'disconnected'));
    this.pending.clear();
    return true;
  }

  private end(drop: Drop): void {
    if (this.stop(drop.reason)) this.host.closed(this, drop);
  }

  /** Lets go of the socket: its events no longer reach this transport. */
  private detach(): void {
    const s = this.socket;
    if (s === undefined) return;
    s.onclose = s.onmessage = s.onopen = null;
    s.onerror = () => {};
    if (s.readyState <= 1) s.close(1000);
  }

  close(): void {
    if (this.stop('closed')) this.detach();
  }
}
