import type { Duplex } from 'node:stream';
import * as wsModule from 'ws';
import type { RawData, WebSocket } from 'ws';
import { tokenExpired, type Grants } from '../auth/access.js';
import { CLOSE_REASONS, type CloseReason } from '../core/close-reasons.js';
import { compactMembers, type EnvelopeForm } from '../core/compact-envelope.js';
import { encodeSingle } from '../core/cursor.js';
import { TidingsError, asTidingsError, toProblem } from '../core/errors.js';
import type { GapNotice, Message } from '../core/message.js';
import type { StartAt } from '../hub/subscription.js';
import { shuttingDown } from './admission.js';
import { PushConnection, type PushTransport } from './push.js';
import { closeWithGrace } from './ws-close.js';
import { idField, parseClientFrame, type ClientFrame, type FrameId } from './ws-frames.js';

/** ws's own RFC 6455 framer; public in ws's exports, missing from its type definitions. */
const frameOf = (wsModule as unknown as { Sender: { frame(data: Buffer, options: object): Buffer[] } }).Sender.frame;

/**
 * `{"type":"message","cursor":…, …envelope}` as a complete unmasked text frame (RFC 6455
 * § 5.2), made once per message: every subscriber's socket gets these same bytes. The
 * compact forms (docs/protocol.md § Compact envelope) are made once too, with and without
 * the channel.
 */
const WS_WIRE = Symbol('ws-wire');
const WS_COMPACT = Symbol('ws-compact');
const WS_COMPACT_WITH_CHANNEL = Symbol('ws-compact-with-channel');

/** A whole unmasked text frame around `text`. */
function textFrame(text: string): Buffer {
  return Buffer.concat(frameOf(Buffer.from(text), { fin: true, rsv1: false, opcode: 1, mask: false, readOnly: false }));
}

function wsWire(m: Message): Buffer {
  return textFrame(`{"type":"message","cursor":"${m.cursorAfter}",${m.json.slice(1)}`);
}

function wsCompact(m: Message, withChannel: boolean): Buffer {
  return textFrame(`{"type":"message","cursor":"${m.cursorAfter}",${compactMembers(m, withChannel)}}`);
}

/** Malformed frames in a row before the connection is closed with 1008. */
const MAX_BAD_FRAMES = 10;

// Made once, not a closure per delivery: Message.framed calls them only for the first subscriber.
const wsCompactWithChannel = (m: Message): Buffer => wsCompact(m, true);
const wsCompactAlone = (m: Message): Buffer => wsCompact(m, false);

/**
 * One WebSocket client: its frames (docs/protocol.md § WebSocket), its credential and its
 * liveness. Every Tidings frame, message or reply, goes through the outbox in order; only
 * ws's own control frames (ping, close) bypass it, and a close flushes it first. Writing
 * frames to the TCP socket beside ws is safe because ws (without permessage-deflate)
 * writes its own frames synchronously and whole.
 */
export class WsClient extends PushConnection {
  /** False once a ping went unanswered for a whole heartbeat. */
  alive = true;
  /** The envelope the client asked for (`envelope=` on the upgrade). */
  envelope: EnvelopeForm = 'full';
  private badFrames = 0;

  constructor(
    owner: PushTransport<WsClient>,
    readonly socket: WebSocket,
    /** The TCP socket under `socket`: pre-framed messages are written to it directly. */
    private readonly raw: Duplex,
    /** What this connection's credential allows: the upgrade's, then the last `auth` frame's. */
    private grants: Grants,
    private readonly address: string,
  ) {
    // Nothing after the close handshake started: the peer would only discard it.
    super(owner, raw, () => socket.readyState === 1);
    this.watchExpiry(grants);
  }

  /** A frame of Tidings' own; `reply` when it answers the client's frame (it then skips the write gap). */
  sendJson(frame: object, reply = false): void {
    this.push(textFrame(JSON.stringify(frame)), reply);
  }

  /**
   * The hot path: the message's frame bytes are shared by every subscriber. Compact frames
   * name the channel only while the connection has several subscriptions; frames leave in
   * order, so a client reads a frame without one as its only channel's.
   */
  message(m: Message): void {
    this.ctx.metrics.deliveries.ws++;
    if (this.envelope === 'full') this.push(m.framed(WS_WIRE, wsWire));
    else if (this.subscriptions.size > 1) this.push(m.framed(WS_COMPACT_WITH_CHANNEL, wsCompactWithChannel));
    else this.push(m.framed(WS_COMPACT, wsCompactAlone));
  }

  gap(notice: GapNotice): void {
    this.sendJson({ type: 'gap', ...notice });
  }

  /** Ping; a client that did not answer the previous ping is gone. */
  heartbeat(): void {
    if (!this.alive) {
      this.close('dead_peer');
      return;
    }
    this.alive = false;
    this.socket.ping();
  }

  /** The token lapsed: say so in an error frame the client can act on, then close 4001. */
  protected override expire(grants: Grants): void {
    this.sendError(tokenExpired());
    super.expire(grants);
  }

  protected shut(reason: CloseReason): void {
    this.closed = true;
    // A dead peer can't read a close frame. A slow one gets it behind its backlog; a peer
    // that doesn't answer it in time is cut (ws-close.ts).
    if (reason === 'dead_peer') {
      this.outbox.discard();
      this.socket.terminate();
    } else {
      this.outbox.flush();
      closeWithGrace(this.socket, this.raw, this.ctx.timer, CLOSE_REASONS[reason].ws, CLOSE_REASONS[reason].text);
    }
  }

  async onFrame(data: RawData, isBinary: boolean): Promise<void> {
    this.alive = true;
    const parsed = parseClientFrame(data, isBinary);
    if (!parsed.ok) {
      this.reject(parsed.error, parsed.id);
      return;
    }
    try {
      await this.dispatch(parsed.frame);
      this.badFrames = 0;
    } catch (err) {
      const e = asTidingsError(err);
      if (e.code === 'internal') this.ctx.logger.error({ err }, 'WebSocket frame handler failed');
      this.reject(e, parsed.frame.id);
    }
  }

  sendError(err: unknown, id: FrameId = undefined): void {
    const problem = toProblem(asTidingsError(err));
    this.sendJson({ type: 'error', ...idField(id), code: problem.code, message: problem.detail }, true);
  }

  /** An error frame; a client that sends nothing but bad frames is cut off (1008). */
  private reject(err: TidingsError, id: FrameId): void {
    this.sendError(err, id);
    if (++this.badFrames >= MAX_BAD_FRAMES) this.close('policy_violation');
  }

  private async dispatch(frame: ClientFrame): Promise<void> {
    switch (frame.type) {
      case 'subscribe':
        await this.subscribe(frame.channel, frame.start, frame.id);
        return;
      case 'unsubscribe': {
        const sub = this.subscriptions.get(frame.channel);
        if (sub === undefined) throw new TidingsError('not_subscribed', `Not subscribed to ${frame.channel}.`);
        sub.close();
        this.subscriptions.delete(frame.channel);
        this.sendJson({ type: 'unsubscribed', channel: frame.channel, ...idField(frame.id) }, true);
        return;
      }
      case 'publish':
        await this.publish(frame);
        return;
      case 'ping':
        this.sendJson({ type: 'pong', ...idField(frame.id) }, true);
        return;
      case 'auth':
        await this.authenticate(frame.token, frame.id);
        return;
    }
  }

  async subscribe(channel: string, start: StartAt, id: FrameId): Promise<void> {
    // A frame queued before the client went away: a subscription now would join the hub
    // with nobody left to close it.
    if (this.closed) return;
    if (this.ctx.isDraining()) throw shuttingDown();
    this.grants.assertSubscribe(channel);
    if (this.subscriptions.has(channel)) throw new TidingsError('already_subscribed', `Already subscribed to ${channel}; unsubscribe first to move.`);
    if (this.subscriptions.size >= this.ctx.config.maxSubscriptions) {
      throw new TidingsError('too_many_subscriptions', `At most ${this.ctx.config.maxSubscriptions} subscriptions per connection.`);
    }
    const sub = this.ctx.hub.subscribe(channel, start, this);
    this.subscriptions.set(channel, sub);
    let info;
    try {
      info = await sub.ready;
    } catch (err) {
      if (this.subscriptions.get(channel) === sub) this.subscriptions.delete(channel);
      throw err;
    }
    // Unsubscribed (or closed) while the engine answered: say nothing more about it.
    if (this.subscriptions.get(channel) !== sub || this.closed) return;
    // The start position as a cursor: a client that drops before its first message can
    // still resume exactly where it began (docs/protocol.md § Additions).
    const cursor = encodeSingle(channel, sub.position.epoch, sub.position.offset);
    this.sendJson({ type: 'subscribed', channel, epoch: info.epoch, last: info.last, cursor, ...idField(id) }, true);
    sub.resume();
  }

  private async publish(frame: Extract<ClientFrame, { type: 'publish' }>): Promise<void> {
    const { channel, event } = frame;
    this.grants.assertPublish(channel);
    const size = Buffer.byteLength(JSON.stringify(frame.data) ?? '');
    if (size > this.ctx.config.maxMessageBytes) {
      throw new TidingsError('payload_too_large', `data is ${size} bytes; the limit is ${this.ctx.config.maxMessageBytes}.`);
    }
    this.ctx.rateLimit.take(this.address);
    const [result] = await this.ctx.hub.publish([{ channel, data: frame.data, event, idempotencyKey: frame.idempotencyKey }]);
    this.sendJson({ type: 'ack', ...idField(frame.id), channel, offset: result!.offset, epoch: result!.epoch }, true);
  }

  /**
   * `{"type":"auth","token"}`: the new credential replaces the old one in place. Its grants
   * apply from now on; each subscription it no longer covers ends with a `forbidden` error
   * frame naming the channel. A refused credential changes nothing.
   */
  private async authenticate(token: string, id: FrameId): Promise<void> {
    const grants = await this.ctx.access.identify(token);
    if (grants.credential !== 'valid') throw new TidingsError('unauthorized', 'The credential given is not valid.');
    grants.assertFresh();
    if (this.closed) return;
    this.grants = grants;
    this.watchExpiry(grants);
    for (const [channel, sub] of this.subscriptions) {
      if (grants.maySubscribe(channel)) continue;
      sub.close();
      this.subscriptions.delete(channel);
      this.sendJson({ type: 'error', code: 'forbidden', channel, message: `The new credential does not grant subscribing to ${channel}; the subscription ended.` }, true);
    }
    this.ctx.logger.debug({ sub: grants.subject }, 'WebSocket credential replaced');
    this.sendJson({ type: 'authenticated', ...idField(id), expires: grants.expires ?? null }, true);
  }
}
