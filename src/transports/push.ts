import type { Writable } from 'node:stream';
import type { Grants } from '../auth/access.js';
import type { CloseReason } from '../core/close-reasons.js';
import type { GapNotice, Message } from '../core/message.js';
import type { ChannelSubscription, SubscriptionSink } from '../hub/subscription.js';
import type { ServerContext } from './context.js';
import { Outbox } from './outbox.js';

/** What every transport shows the server: shutdown is a loop over these. */
export interface Transport {
  readonly name: string;
  /** Connections (or parked requests) open now. */
  readonly size: number;
  /** Ends every connection with `reason`; resolves once the goodbyes are written. */
  closeAll(reason: CloseReason): Promise<void>;
}

/** Connections a shutdown closes per event-loop turn. */
const CLOSE_BATCH = 500;

/**
 * One server-push connection (an SSE stream, a WebSocket): its subscriptions, its outbox
 * and the rules both transports share. Bytes go through the outbox, so a connection gets
 * one write per event-loop turn; past `--max-queue-bytes` unsent it is dropped as a slow
 * consumer, while history replay waits on `drained()` instead. A transport adds its
 * framing (`message`, `gap`), its goodbye (`shut`) and its heartbeat.
 */
export abstract class PushConnection implements SubscriptionSink {
  /** By channel, in subscribe order. */
  readonly subscriptions = new Map<string, ChannelSubscription>();
  protected closed = false;
  protected readonly outbox: Outbox;
  private cancelExpiry: () => void = () => {};

  constructor(
    protected readonly owner: PushTransport<PushConnection>,
    socket: Writable,
    /** Checked before each write: false once the connection must not get more bytes. */
    writable?: () => boolean,
  ) {
    this.outbox = new Outbox(owner.ctx.flush, socket, writable);
  }

  protected get ctx(): ServerContext {
    return this.owner.ctx;
  }

  /**
   * Queues bytes for the end of this turn (or of the write gap; a `reply` to the client's
   * own frame never waits for the gap); drops the connection once its socket holds more
   * than the queue bound that the peer has not read.
   */
  protected push(bytes: Buffer, reply = false): void {
    if (this.closed) return;
    this.outbox.push(bytes, reply);
    if (this.outbox.unsent > this.ctx.config.maxQueueBytes) this.close('slow_consumer');
  }

  abstract message(m: Message, subscription: ChannelSubscription): void;
  abstract gap(notice: GapNotice, subscription: ChannelSubscription): void;
  /** Called by the transport's shared heartbeat timer, once per beat. */
  abstract heartbeat(): void;
  /** Tells the client why the connection ends (where it can) and ends it. */
  protected abstract shut(reason: CloseReason): void;

  failed(error: unknown): void {
    this.ctx.logger.warn({ err: error, transport: this.owner.name }, 'subscription failed while reading history');
    this.close('internal_error');
  }

  backlogged(): boolean {
    return !this.closed && this.outbox.queued >= this.ctx.config.maxQueueBytes / 2;
  }

  drained(): Promise<void> {
    return this.outbox.drained();
  }

  /**
   * Ends the connection at the credential's expiry (`token_expired`), as a slot on the
   * shared coarse timer rather than a timer of its own. Called again when the credential
   * is replaced, the old slot is cancelled.
   */
  watchExpiry(grants: Grants): void {
    this.cancelExpiry();
    const at = grants.expiresAtMs;
    this.cancelExpiry = at === undefined ? () => {} : this.ctx.timer.at(at, () => this.expire(grants));
  }

  /** The credential lapsed; a transport may say more before the close. */
  protected expire(grants: Grants): void {
    this.ctx.logger.debug({ sub: grants.subject, transport: this.owner.name }, 'token expired: connection closed');
    this.close('token_expired');
  }

  close(reason: CloseReason): void {
    if (this.closed) return;
    if (reason === 'slow_consumer') this.ctx.metrics.slowConsumersDropped[this.owner.name]++;
    this.shut(reason);
    this.cleanup();
  }

  /** Frees everything the connection holds; also called when the peer goes away. */
  cleanup(): void {
    this.closed = true;
    this.cancelExpiry();
    this.outbox.discard();
    for (const s of this.subscriptions.values()) s.close();
    this.subscriptions.clear();
    this.owner.forget(this);
  }
}

/**
 * The registry of one push transport's connections: counted in the metrics, beaten by one
 * shared interval (running only while there are connections), closed together at shutdown.
 */
export abstract class PushTransport<C extends PushConnection> implements Transport {
  private readonly connections = new Set<C>();
  private beat: NodeJS.Timeout | undefined;

  constructor(
    readonly name: 'sse' | 'ws',
    readonly ctx: ServerContext,
    private readonly heartbeatEveryMs: number,
  ) {}

  /** Registers an open connection: counted, beaten and closed at shutdown from now on. */
  protected add(connection: C): void {
    this.connections.add(connection);
    this.ctx.metrics.connections[this.name]++;
    if (this.beat === undefined) {
      this.beat = setInterval(() => {
        for (const c of this.connections) c.heartbeat();
      }, this.heartbeatEveryMs);
      this.beat.unref();
    }
  }

  forget(connection: PushConnection): void {
    if (this.connections.delete(connection as C)) this.ctx.metrics.connections[this.name]--;
    if (this.connections.size === 0 && this.beat !== undefined) {
      clearInterval(this.beat);
      this.beat = undefined;
    }
  }

  /** Resolves once the connection's last bytes are written or it is gone. */
  protected abstract whenEnded(connection: C): Promise<void>;

  /**
   * Closes every connection, `CLOSE_BATCH` per event-loop turn: closing 19,000 in one turn
   * blocked the loop for over 3 s (bench/results/hardening.md, reconnect storm), and
   * publishes still being accepted during the drain waited behind it.
   */
  async closeAll(reason: CloseReason): Promise<void> {
    const all = [...this.connections];
    const ends: Promise<void>[] = [];
    for (let i = 0; i < all.length; i += CLOSE_BATCH) {
      if (i > 0) await new Promise<void>((resolve) => setImmediate(resolve));
      // One that ended by itself meanwhile was forgotten, and has nothing left to wait for.
      for (const c of all.slice(i, i + CLOSE_BATCH)) {
        if (!this.connections.has(c)) continue;
        ends.push(this.whenEnded(c));
        c.close(reason);
      }
    }
    await Promise.all(ends);
  }

  get size(): number {
    return this.connections.size;
  }
}
