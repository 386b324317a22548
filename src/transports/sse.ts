import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { bearerToken } from '../auth/api-key.js';
import { CLOSE_REASONS, type CloseReason } from '../core/close-reasons.js';
import { encodeCursor, encodeSingle } from '../core/cursor.js';
import { TidingsError } from '../core/errors.js';
import type { GapNotice, Message } from '../core/message.js';
import { parseSubscribeQuery } from '../http/subscribe-params.js';
import { ChannelSubscription, type SubscriptionSink } from '../hub/subscription.js';
import type { ServerContext } from './context.js';
import { Outbox } from './outbox.js';

/** `event:` + `data:` lines of a message: the same bytes for every SSE subscriber. */
const SSE_BODY = Symbol('sse-body');
/** The frame with a one-channel cursor as `id:`, as one HTTP chunk: shared by single-channel streams. */
const SSE_CHUNK = Symbol('sse-chunk');
/** The same frame unchunked, for the rare HTTP/1.0 client. */
const SSE_FRAME = Symbol('sse-frame');

function sseBody(m: Message): string {
  // Envelope JSON has no raw newlines (JSON.stringify escapes them), so one data line holds it.
  return `event: ${m.event ?? 'message'}\ndata: ${m.json}\n\n`;
}

function sseFrame(m: Message): Buffer {
  return Buffer.from(`id: ${encodeSingle(m.channel, m.epoch, m.offset)}\n${m.framed(SSE_BODY, sseBody)}`);
}

/** `body` as one chunk of chunked transfer coding (RFC 9112 § 7.1): size in hex, CRLF, data, CRLF. */
export function httpChunk(body: string | Buffer): Buffer {
  const data = typeof body === 'string' ? Buffer.from(body) : body;
  const size = data.length.toString(16);
  const out = Buffer.allocUnsafe(size.length + data.length + 4);
  out.write(`${size}\r\n`, 0, 'latin1');
  data.copy(out, size.length + 2);
  out.write('\r\n', size.length + 2 + data.length, 'latin1');
  return out;
}

/**
 * One SSE response stream and its subscriptions.
 *
 * After the headers, frames bypass ServerResponse and go to the socket as ready-made
 * chunks: a message's chunk is built once and shared, and a turn's worth of frames for
 * one client is one socket write. Node's own `res.write` would frame every write anew.
 */
class SseStream implements SubscriptionSink {
  readonly subscriptions: ChannelSubscription[] = [];
  wroteSinceTick = false;
  private closed = false;
  private readonly outbox: Outbox;
  /** False only for HTTP/1.0 clients, which get the stream unchunked until the socket closes. */
  private chunked = true;

  constructor(
    private readonly owner: Sse,
    readonly res: ServerResponse,
    private readonly socket: Socket,
  ) {
    this.outbox = new Outbox(owner.ctx.flush, socket);
  }

  /** Writes the headers and the stream's opening; from here on the socket is ours. */
  start(retryMs: number): void {
    this.res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // nginx buffers responses unless told not to; SSE through it would stall.
      'x-accel-buffering': 'no',
    });
    this.res.flushHeaders();
    this.chunked = (this.res as unknown as { chunkedEncoding: boolean }).chunkedEncoding;
    this.write(`retry: ${retryMs}\n\n`);
    this.markPosition();
  }

  private cursor(): string {
    return encodeCursor(this.subscriptions.map((s) => [s.channel, s.position]));
  }

  /** Queues a frame given as text, chunk-framed here. */
  private write(frame: string): void {
    this.push(this.chunked ? httpChunk(frame) : Buffer.from(frame));
  }

  private push(bytes: Buffer): void {
    if (this.closed) return;
    this.outbox.push(bytes);
    this.wroteSinceTick = true;
    if (this.outbox.queued > this.owner.ctx.config.maxQueueBytes) this.close('slow_consumer');
  }

  message(m: Message): void {
    this.owner.ctx.metrics.deliveries.sse++;
    if (this.subscriptions.length > 1) this.write(`id: ${this.cursor()}\n${m.framed(SSE_BODY, sseBody)}`);
    else if (this.chunked) this.push(m.framed(SSE_CHUNK, (x) => httpChunk(x.framed(SSE_FRAME, sseFrame))));
    else this.push(m.framed(SSE_FRAME, sseFrame));
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
    return !this.closed && this.outbox.queued >= this.owner.ctx.config.maxQueueBytes / 2;
  }

  drained(): Promise<void> {
    return this.outbox.drained();
  }

  ping(): void {
    if (!this.wroteSinceTick) this.write(': ping\n\n');
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
      // res.end() adds the last chunk. A stream's connection is not reused: end the socket
      // too, so shutdown isn't left waiting on a keep-alive connection the client may keep.
      this.res.end(() => this.socket.end());
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
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(readonly ctx: ServerContext) {}

  async handle(req: IncomingMessage, res: ServerResponse, query: URLSearchParams): Promise<void> {
    const { config, metrics } = this.ctx;
    const lastEventId = req.headers['last-event-id'];
    const resumeFrom = typeof lastEventId === 'string' && lastEventId !== '' ? lastEventId : undefined;
    const starts = parseSubscribeQuery(query, config.maxSubscriptions, resumeFrom);
    const grants = await this.ctx.access.identify(bearerToken(req, query));
    for (const s of starts) grants.assertSubscribe(s.channel);
    const unavailable = () => new TidingsError('unavailable', 'The server is shutting down; reconnect to another node.', { 'retry-after': '1' });
    if (this.ctx.isDraining()) throw unavailable();

    const stream = new SseStream(this, res, req.socket);
    for (const { channel } of starts) stream.subscriptions.push(new ChannelSubscription(channel, this.ctx.engine, this.ctx.hub, stream));
    res.on('close', () => stream.cleanup());
    try {
      await Promise.all(starts.map(({ start }, i) => stream.subscriptions[i]!.open(start)));
      if (this.ctx.isDraining()) throw unavailable();
    } catch (err) {
      stream.cleanup();
      throw err;
    }
    if (res.destroyed) return;
    req.socket.setTimeout(0);
    stream.start(config.sseRetryMs);
    // Counted, pinged and closed at shutdown only once its headers are out.
    this.streams.add(stream);
    metrics.connections.sse++;
    this.startHeartbeat();
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
      (s) =>
        new Promise<void>((resolve) => {
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
