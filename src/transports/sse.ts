import type { IncomingMessage, ServerResponse } from 'node:http';
import { bearerToken } from '../auth/api-key.js';
import { CLOSE_REASONS, type CloseReason } from '../core/close-reasons.js';
import { encodeCursor, encodeSingle } from '../core/cursor.js';
import { TidingsError } from '../core/errors.js';
import type { GapNotice, Message } from '../core/message.js';
import { parseSubscribeQuery } from '../http/subscribe-params.js';
import { ChannelSubscription, type SubscriptionSink } from '../hub/subscription.js';
import type { ServerContext } from './context.js';
import { FlushScheduler, Outbox } from './outbox.js';

/** `event:` + `data:` lines of a message: the same bytes for every SSE subscriber. */
const SSE_BODY = Symbol('sse-body');
/** The whole frame with a one-channel cursor as `id:`, shared by single-channel streams. */
const SSE_FRAME = Symbol('sse-frame');

function sseBody(m: Message): string {
  // Envelope JSON has no raw newlines (JSON.stringify escapes them), so one data line holds it.
  return `event: ${m.event ?? 'message'}\ndata: ${m.json}\n\n`;
}

function sseFrame(m: Message): Buffer {
  return Buffer.from(`id: ${encodeSingle(m.channel, m.epoch, m.offset)}\n${m.framed(SSE_BODY, sseBody)}`);
}

const PING = Buffer.from(': ping\n\n');

/** One SSE response stream and its subscriptions. */
class SseStream implements SubscriptionSink {
  readonly subscriptions: ChannelSubscription[] = [];
  wroteSinceTick = false;
  private closed = false;
  private readonly outbox: Outbox;

  constructor(
    private readonly owner: Sse,
    readonly res: ServerResponse,
  ) {
    this.outbox = new Outbox(owner.scheduler, (data) => res.write(data));
  }

  private cursor(): string {
    return encodeCursor(this.subscriptions.map((s) => [s.channel, s.position]));
  }

  /** Unsent bytes: in the response's buffers and in the outbox. */
  private get queued(): number {
    return this.res.writableLength + this.outbox.pending;
  }

  private write(chunk: string | Buffer): void {
    if (this.closed) return;
    this.outbox.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    this.wroteSinceTick = true;
    if (this.queued > this.owner.ctx.config.maxQueueBytes) this.close('slow_consumer');
  }

  message(m: Message): void {
    this.owner.ctx.metrics.deliveries.sse++;
    if (this.subscriptions.length === 1) this.write(m.framed(SSE_FRAME, sseFrame));
    else this.write(`id: ${this.cursor()}\n${m.framed(SSE_BODY, sseBody)}`);
  }

  gap(notice: GapNotice): void {
    this.write(`id: ${this.cursor()}\nevent: gap\ndata: ${JSON.stringify(notice)}\n\n`);
  }

  /** An `id:` with no data sets the browser's Last-Event-ID without firing an event (WHATWG HTML § 9.2.6). */
  markPosition(): void {
    this.write(`id: ${this.cursor()}\n\n`);
  }

  failed(error: unknown): void {
    this.owner.ctx.logger.warn({ err: error }, 'SSE stream failed while reading history');
    this.close('internal_error');
  }

  backlogged(): boolean {
    return !this.closed && this.queued >= this.owner.ctx.config.maxQueueBytes / 2;
  }

  drained(): Promise<void> {
    this.outbox.flush();
    if (!this.res.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.res.off('drain', done);
        this.res.off('close', done);
        resolve();
      };
      this.res.on('drain', done);
      this.res.on('close', done);
    });
  }

  ping(): void {
    if (!this.wroteSinceTick) this.write(PING);
    this.wroteSinceTick = false;
  }

  close(reason: CloseReason): void {
    if (this.closed) return;
    if (reason === 'slow_consumer') {
      this.owner.ctx.metrics.slowConsumersDropped.sse++;
      // Its buffer is full already: more bytes would only wait behind the rest.
      this.closed = true;
      this.res.destroy();
    } else {
      this.write(`event: close\ndata: ${JSON.stringify({ reason, message: CLOSE_REASONS[reason].text })}\n\n`);
      this.closed = true;
      this.outbox.flush();
      // A stream's connection is not reused: end the socket too, so shutdown isn't left
      // waiting on a keep-alive connection the client may never close.
      this.res.end(() => this.res.socket?.end());
    }
    this.cleanup();
  }

  cleanup(): void {
    this.closed = true;
    this.outbox.discard();
    for (const s of this.subscriptions) s.close();
    this.owner.forget(this);
  }
}

/**
 * `GET /v1/events`: Server-Sent Events. One long response per client; resumable with
 * `Last-Event-ID`, because every frame's `id:` is the cursor after that frame.
 */
export class Sse {
  private readonly streams = new Set<SseStream>();
  readonly scheduler = new FlushScheduler();
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(readonly ctx: ServerContext) {}

  async handle(req: IncomingMessage, res: ServerResponse, query: URLSearchParams): Promise<void> {
    const { config, metrics } = this.ctx;
    const lastEventId = req.headers['last-event-id'];
    const resumeFrom = typeof lastEventId === 'string' && lastEventId !== '' ? lastEventId : undefined;
    const starts = parseSubscribeQuery(query, config.maxSubscriptions, resumeFrom);
    const grants = await this.ctx.access.identify(bearerToken(req, query));
    for (const s of starts) grants.assertSubscribe(s.channel);
    if (this.ctx.isDraining()) throw new TidingsError('unavailable', 'The server is shutting down; reconnect to another node.', { 'retry-after': '1' });

    const stream = new SseStream(this, res);
    for (const { channel } of starts) stream.subscriptions.push(new ChannelSubscription(channel, this.ctx.engine, this.ctx.hub, stream));
    res.on('close', () => stream.cleanup());
    this.streams.add(stream);
    metrics.connections.sse++;
    this.startHeartbeat();

    try {
      await Promise.all(starts.map(({ start }, i) => stream.subscriptions[i]!.open(start)));
    } catch (err) {
      stream.cleanup();
      throw err;
    }
    if (res.destroyed) return;
    req.socket.setTimeout(0);
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // nginx buffers responses unless told not to; SSE through it would stall.
      'x-accel-buffering': 'no',
    });
    res.write(`retry: ${config.sseRetryMs}\n\n`);
    stream.markPosition();
    for (const s of stream.subscriptions) s.resume();
  }

  forget(stream: SseStream): void {
    if (this.streams.delete(stream)) this.ctx.metrics.connections.sse--;
    if (this.streams.size === 0 && this.heartbeat !== undefined) {
      clearInterval(this.heartbeat);
      this.heartbeat = undefined;
    }
  }

  /** One timer for every stream: a stream silent for a whole half-interval gets `: ping`. */
  private startHeartbeat(): void {
    if (this.heartbeat !== undefined) return;
    this.heartbeat = setInterval(() => {
      for (const s of this.streams) s.ping();
    }, Math.max(5, Math.floor(this.ctx.config.heartbeatMs / 2)));
    this.heartbeat.unref();
  }

  /** Shutdown: tell every stream why it ends, end it, and resolve once every end is sent. */
  closeAll(reason: CloseReason): Promise<void> {
    const ends = [...this.streams].map(
      (s) => new Promise<void>((resolve) => {
        s.res.once('finish', resolve);
        s.res.once('close', resolve);
        s.close(reason);
      }),
    );
    return Promise.all(ends).then(() => undefined);
  }

  get size(): number {
    return this.streams.size;
  }
}
