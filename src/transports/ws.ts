import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import * as wsModule from 'ws';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { Grants } from '../auth/access.js';
import { bearerToken } from '../auth/api-key.js';
import { assertChannelName } from '../core/channel-name.js';
import { CLOSE_REASONS, type CloseReason } from '../core/close-reasons.js';
import { decodeCursor, encodeSingle } from '../core/cursor.js';
import { TidingsError, asTidingsError, toProblem } from '../core/errors.js';
import type { GapNotice, Message } from '../core/message.js';
import { parseLast, parseSubscribeQuery, type ChannelStart } from '../http/subscribe-params.js';
import { ChannelSubscription, type StartAt, type SubscriptionSink } from '../hub/subscription.js';
import type { ServerContext } from './context.js';
import { assertEventName } from './http-api.js';
import { Outbox } from './outbox.js';

/** ws's own RFC 6455 framer; public in ws's exports, missing from its type definitions. */
const frameOf = (wsModule as unknown as { Sender: { frame(data: Buffer, options: object): Buffer[] } }).Sender.frame;

/**
 * `{"type":"message","cursor":…, …envelope}` as a complete unmasked text frame (RFC 6455
 * § 5.2), made once per message: every subscriber's socket gets these same bytes.
 */
const WS_WIRE = Symbol('ws-wire');

/** A whole unmasked text frame around `text`. */
function textFrame(text: string): Buffer {
  return Buffer.concat(frameOf(Buffer.from(text), { fin: true, rsv1: false, opcode: 1, mask: false, readOnly: false }));
}

function wsWire(m: Message): Buffer {
  return textFrame(`{"type":"message","cursor":"${encodeSingle(m.channel, m.epoch, m.offset)}",${m.json.slice(1)}`);
}

/** Malformed frames in a row before the connection is closed with 1008. */
const MAX_BAD_FRAMES = 10;

type Frame = Record<string, unknown> & { type: string; id?: unknown };

function frameId(frame: Frame): { id?: string | number } {
  const id = frame.id;
  return typeof id === 'string' || typeof id === 'number' ? { id } : {};
}

/** One WebSocket client: its subscriptions, its liveness and its frame handling. */
class WsClient implements SubscriptionSink {
  readonly subscriptions = new Map<string, ChannelSubscription>();
  alive = true;
  private badFrames = 0;
  private closed = false;
  /**
   * Every Tidings frame, message or reply, goes through here in order; only ws's own
   * control frames (ping, close) bypass it, and a close flushes it first.
   */
  private readonly outbox: Outbox;

  constructor(
    private readonly owner: Ws,
    readonly socket: WebSocket,
    /** The TCP socket under `socket`: pre-framed messages are written to it directly. */
    raw: Duplex,
    /** What this connection's credential (at upgrade) allows. */
    private readonly grants: Grants,
    private readonly address: string,
  ) {
    // Nothing after the close handshake started: the peer would only discard it.
    this.outbox = new Outbox(owner.ctx.flush, raw, () => socket.readyState === 1);
  }

  private get ctx(): ServerContext {
    return this.owner.ctx;
  }

  /**
   * Queues one complete frame. Writing frames to the TCP socket beside ws is safe because
   * ws (without permessage-deflate) writes its own frames synchronously and whole.
   */
  private send(frame: Buffer): void {
    if (this.closed || this.socket.readyState !== 1) return;
    this.outbox.push(frame);
    if (this.outbox.queued > this.ctx.config.maxQueueBytes) this.close('slow_consumer');
  }

  sendJson(frame: object): void {
    this.send(textFrame(JSON.stringify(frame)));
  }

  /** The hot path: the message's frame bytes are shared by every subscriber. */
  message(m: Message): void {
    this.ctx.metrics.deliveries.ws++;
    this.send(m.framed(WS_WIRE, wsWire));
  }

  gap(notice: GapNotice): void {
    this.sendJson({ type: 'gap', ...notice });
  }

  failed(error: unknown): void {
    this.ctx.logger.warn({ err: error }, 'WebSocket subscription failed while reading history');
    this.close('internal_error');
  }

  backlogged(): boolean {
    return !this.closed && this.outbox.queued >= this.ctx.config.maxQueueBytes / 2;
  }

  /** ws has no drain event of its own: the TCP socket's is the one that counts. */
  drained(): Promise<void> {
    return this.outbox.drained();
  }

  async onFrame(data: RawData, isBinary: boolean): Promise<void> {
    this.alive = true;
    let frame: Frame;
    try {
      frame = this.parse(data, isBinary);
    } catch (err) {
      this.reject(asTidingsError(err), {});
      return;
    }
    try {
      await this.dispatch(frame);
      this.badFrames = 0;
    } catch (err) {
      const e = asTidingsError(err);
      if (e.code === 'internal') this.ctx.logger.error({ err }, 'WebSocket frame handler failed');
      this.reject(e, frameId(frame));
    }
  }

  private parse(data: RawData, isBinary: boolean): Frame {
    if (isBinary) throw new TidingsError('invalid_frame', 'Send text frames holding one JSON object.');
    let frame: unknown;
    try {
      frame = JSON.parse(data.toString());
    } catch {
      throw new TidingsError('invalid_json', 'The frame is not valid JSON.');
    }
    if (typeof frame !== 'object' || frame === null || Array.isArray(frame) || typeof (frame as Frame).type !== 'string') {
      throw new TidingsError('invalid_frame', 'A frame is a JSON object with a string "type".');
    }
    return frame as Frame;
  }

  sendError(err: unknown, id: { id?: string | number } = {}): void {
    const problem = toProblem(asTidingsError(err));
    this.sendJson({ type: 'error', ...id, code: problem.code, message: problem.detail });
  }

  /** An error frame; a client that sends nothing but bad frames is cut off (1008). */
  private reject(err: TidingsError, id: { id?: string | number }): void {
    this.sendError(err, id);
    if (++this.badFrames >= MAX_BAD_FRAMES) this.close('policy_violation');
  }

  private async dispatch(frame: Frame): Promise<void> {
    switch (frame.type) {
      case 'subscribe': {
        const channel = assertChannelName(frame.channel);
        await this.subscribe(channel, this.startFrom(channel, frame), frameId(frame));
        return;
      }
      case 'unsubscribe': {
        const channel = assertChannelName(frame.channel);
        const sub = this.subscriptions.get(channel);
        if (sub === undefined) throw new TidingsError('not_subscribed', `Not subscribed to ${channel}.`);
        sub.close();
        this.subscriptions.delete(channel);
        this.sendJson({ type: 'unsubscribed', channel, ...frameId(frame) });
        return;
      }
      case 'publish':
        await this.publish(frame);
        return;
      case 'ping':
        this.sendJson({ type: 'pong', ...frameId(frame) });
        return;
      default:
        throw new TidingsError('invalid_frame', `Unknown frame type ${JSON.stringify(frame.type).slice(0, 40)}: use subscribe, unsubscribe, publish or ping.`);
    }
  }

  private startFrom(channel: string, frame: Frame): StartAt {
    if (frame.cursor !== undefined) {
      if (typeof frame.cursor !== 'string') throw new TidingsError('invalid_cursor', 'cursor must be a string.');
      // A cursor from a poll or SSE may name several channels: this subscription takes its own.
      const position = decodeCursor(frame.cursor).get(channel);
      if (position === undefined) throw new TidingsError('invalid_cursor', `The cursor holds no position for ${channel}.`);
      return { kind: 'after', position };
    }
    const last = parseLast(frame.last);
    return last === undefined ? { kind: 'now' } : { kind: 'last', count: last };
  }

  async subscribe(channel: string, start: StartAt, id: { id?: string | number }): Promise<void> {
    if (this.ctx.isDraining()) throw new TidingsError('unavailable', 'The server is shutting down; reconnect to another node.');
    this.grants.assertSubscribe(channel);
    if (this.subscriptions.has(channel)) throw new TidingsError('already_subscribed', `Already subscribed to ${channel}; unsubscribe first to move.`);
    if (this.subscriptions.size >= this.ctx.config.maxSubscriptions) {
      throw new TidingsError('too_many_subscriptions', `At most ${this.ctx.config.maxSubscriptions} subscriptions per connection.`);
    }
    const sub = new ChannelSubscription(channel, this.ctx.engine, this.ctx.hub, this);
    this.subscriptions.set(channel, sub);
    let info;
    try {
      info = await sub.open(start);
    } catch (err) {
      if (this.subscriptions.get(channel) === sub) this.subscriptions.delete(channel);
      throw err;
    }
    // Unsubscribed (or closed) while the engine answered: say nothing more about it.
    if (this.subscriptions.get(channel) !== sub || this.closed) return;
    // The start position as a cursor: a client that drops before its first message can
    // still resume exactly where it began (docs/protocol.md § Additions).
    const cursor = encodeSingle(channel, sub.position.epoch, sub.position.offset);
    this.sendJson({ type: 'subscribed', channel, epoch: info.epoch, last: info.last, cursor, ...id });
    sub.resume();
  }

  private async publish(frame: Frame): Promise<void> {
    const channel = assertChannelName(frame.channel);
    this.grants.assertPublish(channel);
    if (!('data' in frame)) throw new TidingsError('invalid_frame', 'A publish frame needs "data".');
    const event = assertEventName(frame.event);
    const size = Buffer.byteLength(JSON.stringify(frame.data) ?? '');
    if (size > this.ctx.config.maxMessageBytes) {
      throw new TidingsError('payload_too_large', `data is ${size} bytes; the limit is ${this.ctx.config.maxMessageBytes}.`);
    }
    this.ctx.rateLimit.take(this.address);
    const [result] = await this.ctx.engine.publish([{ channel, data: frame.data, event }]);
    this.ctx.metrics.published++;
    this.sendJson({ type: 'ack', ...frameId(frame), channel, offset: result!.offset, epoch: result!.epoch });
  }

  close(reason: CloseReason): void {
    if (this.closed) return;
    this.closed = true;
    const r = CLOSE_REASONS[reason];
    if (reason === 'slow_consumer') this.ctx.metrics.slowConsumersDropped.ws++;
    // A dead peer can't read a close frame. A slow one gets it behind its backlog, and ws
    // destroys the socket if the close handshake doesn't finish in time.
    if (reason === 'dead_peer') {
      this.outbox.discard();
      this.socket.terminate();
    } else {
      this.outbox.flush();
      this.socket.close(r.ws, r.text);
    }
    this.cleanup();
  }

  cleanup(): void {
    this.closed = true;
    this.outbox.discard();
    for (const s of this.subscriptions.values()) s.close();
    this.subscriptions.clear();
    this.owner.forget(this);
  }
}

/**
 * `GET /v1/ws`: WebSocket, full duplex. Frames are JSON objects (PROTOCOL.md § WebSocket);
 * `ws` does the RFC 6455 framing, this file only the Tidings frames on top.
 */
export class Ws {
  private readonly server: WebSocketServer;
  private readonly clients = new Set<WsClient>();
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(readonly ctx: ServerContext) {
    this.server = new WebSocketServer({ noServer: true, maxPayload: ctx.config.maxFrameBytes, clientTracking: false, perMessageDeflate: false });
  }

  /** Called for `upgrade` requests on /v1/ws: refuses with an HTTP problem, or upgrades. */
  async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, query: URLSearchParams): Promise<void> {
    const refuse = (err: TidingsError) => {
      const problem = toProblem(err);
      const body = JSON.stringify(problem);
      socket.end(
        `HTTP/1.1 ${err.status} ${problem.title}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    };
    let initial: ChannelStart[] = [];
    let grants: Grants;
    try {
      if (!this.ctx.origins.allows(req.headers.origin)) throw new TidingsError('forbidden', `Origin ${req.headers.origin} is not allowed.`);
      if (this.ctx.isDraining()) throw new TidingsError('unavailable', 'The server is shutting down; reconnect to another node.');
      if (query.getAll('channel').length > 0) initial = parseSubscribeQuery(query, this.ctx.config.maxSubscriptions);
      // The credential is checked once, here: a browser's WebSocket can't send headers
      // later, so `token=` in the URL is as good as the Authorization header.
      grants = await this.ctx.access.identify(bearerToken(req, query));
      this.ctx.access.assertMayConnect(grants);
      for (const s of initial) grants.assertSubscribe(s.channel);
    } catch (err) {
      refuse(asTidingsError(err));
      return;
    }
    const address = req.socket.remoteAddress ?? '';
    this.server.handleUpgrade(req, socket, head, (ws) => this.accept(ws, socket, initial, grants, address));
  }

  private accept(socket: WebSocket, raw: Duplex, initial: ChannelStart[], grants: Grants, address: string): void {
    const client = new WsClient(this, socket, raw, grants, address);
    this.clients.add(client);
    this.ctx.metrics.connections.ws++;
    this.startHeartbeat();
    // Frames are handled one after another, so answers come in the order frames were sent
    // (a subscribe's `subscribed` before the `unsubscribed` of an unsubscribe sent after it).
    let previous: Promise<void> = Promise.resolve();
    socket.on('message', (data, isBinary) => {
      previous = previous.then(() => client.onFrame(data, isBinary));
    });
    socket.on('pong', () => (client.alive = true));
    socket.on('close', () => client.cleanup());
    socket.on('error', (err) => {
      // ws closes with 1009 by itself when a frame passes maxPayload; other errors are the peer's.
      this.ctx.logger.debug({ err }, 'WebSocket error');
    });
    for (const { channel, start } of initial) {
      client.subscribe(channel, start, {}).catch((err) => client.sendError(err));
    }
  }

  forget(client: WsClient): void {
    if (this.clients.delete(client)) this.ctx.metrics.connections.ws--;
    if (this.clients.size === 0 && this.heartbeat !== undefined) {
      clearInterval(this.heartbeat);
      this.heartbeat = undefined;
    }
  }

  /** One timer for every client: ping each; one that did not answer the last ping is gone. */
  private startHeartbeat(): void {
    if (this.heartbeat !== undefined) return;
    this.heartbeat = setInterval(() => {
      for (const c of this.clients) {
        if (!c.alive) {
          c.close('dead_peer');
          continue;
        }
        c.alive = false;
        c.socket.ping();
      }
    }, this.ctx.config.heartbeatMs);
    this.heartbeat.unref();
  }

  closeAll(reason: CloseReason): void {
    for (const c of [...this.clients]) c.close(reason);
  }

  get size(): number {
    return this.clients.size;
  }
}
