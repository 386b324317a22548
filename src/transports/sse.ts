import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { bearerToken } from '../auth/api-key.js';
import { CLOSE_REASONS, type CloseReason } from '../core/close-reasons.js';
import { compactMembers, parseEnvelopeForm, type EnvelopeForm } from '../core/compact-envelope.js';
import { encodeCursor } from '../core/cursor.js';
import type { GapNotice, Message } from '../core/message.js';
import { parseSubscribeQuery } from '../http/subscribe-params.js';
import { admitSubscriber, shuttingDown } from './admission.js';
import type { ServerContext } from './context.js';
import { PushConnection, PushTransport } from './push.js';

/**
 * How one envelope form is framed: the `event:` + `data:` lines for a stream of several
 * channels (`multi`, behind that stream's own `id:`), and the whole frame with the
 * message's one-channel cursor as `id:` (`frame`), also as one HTTP chunk (`chunk`), shared
 * by every single-channel stream. Each is made once per message.
 */
interface SseForm {
  multi: symbol;
  frame: symbol;
  chunk: symbol;
  body(m: Message, withChannel: boolean): string;
}

const SSE_FORMS: Record<EnvelopeForm, SseForm> = {
  full: {
    multi: Symbol('sse-body'),
    frame: Symbol('sse-frame'),
    chunk: Symbol('sse-chunk'),
    // Envelope JSON has no raw newlines (JSON.stringify escapes them), so one data line holds it.
    body: (m) => `event: ${m.event ?? 'message'}\ndata: ${m.json}\n\n`,
  },
  compact: {
    multi: Symbol('sse-compact-body'),
    frame: Symbol('sse-compact-frame'),
    chunk: Symbol('sse-compact-chunk'),
    // `message` is EventSource's default event type: the line is only sent for a named event.
    body: (m, withChannel) => `${m.event === undefined ? '' : `event: ${m.event}\n`}data: {${compactMembers(m, withChannel)}}\n\n`,
  },
};

function sseFrame(m: Message, form: SseForm): Buffer {
  return Buffer.from(`id: ${m.cursorAfter}\n${form.body(m, false)}`);
}

/** What `Message.framed` calls to make each of a form's framings, made once per form rather than per delivery. */
interface SseMakers {
  multi(m: Message): string;
  frame(m: Message): Buffer;
  chunk(m: Message): Buffer;
}

function makersOf(f: SseForm): SseMakers {
  const frame = (m: Message) => sseFrame(m, f);
  return { multi: (m) => f.body(m, true), frame, chunk: (m) => httpChunk(m.framed(f.frame, frame)) };
}

const SSE_MAKERS: Record<EnvelopeForm, SseMakers> = { full: makersOf(SSE_FORMS.full), compact: makersOf(SSE_FORMS.compact) };

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
class SseStream extends PushConnection {
  private wroteSinceBeat = false;
  /** False only for HTTP/1.0 clients, which get the stream unchunked until the socket closes. */
  private chunked = true;
  /** The envelope the client asked for (`envelope=`). */
  envelope: EnvelopeForm = 'full';

  constructor(
    owner: Sse,
    readonly res: ServerResponse,
    private readonly socket: Socket,
  ) {
    super(owner, socket);
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
    return encodeCursor(Array.from(this.subscriptions, ([channel, s]) => [channel, s.position] as const));
  }

  /** Queues a frame given as text, chunk-framed here. */
  private write(frame: string): void {
    this.push(this.chunked ? httpChunk(frame) : Buffer.from(frame));
  }

  protected override push(bytes: Buffer): void {
    this.wroteSinceBeat = true;
    super.push(bytes);
  }

  message(m: Message): void {
    this.ctx.metrics.deliveries.sse++;
    const f = SSE_FORMS[this.envelope];
    const make = SSE_MAKERS[this.envelope];
    if (this.subscriptions.size > 1) this.write(`id: ${this.cursor()}\n${m.framed(f.multi, make.multi)}`);
    else if (this.chunked) this.push(m.framed(f.chunk, make.chunk));
    else this.push(m.framed(f.frame, make.frame));
  }

  gap(notice: GapNotice): void {
    this.write(`id: ${this.cursor()}\nevent: gap\ndata: ${JSON.stringify(notice)}\n\n`);
  }

  /** An `id:` with no data sets the browser's Last-Event-ID without firing an event (WHATWG HTML § 9.2.6). */
  markPosition(): void {
    this.write(`id: ${this.cursor()}\n\n`);
  }

  /** A stream silent for a whole beat (half the heartbeat interval) gets `: ping`. */
  heartbeat(): void {
    if (!this.wroteSinceBeat) this.write(': ping\n\n');
    this.wroteSinceBeat = false;
  }

  protected shut(reason: CloseReason): void {
    if (reason === 'slow_consumer') {
      // Its buffer is full already: more bytes would only wait behind the rest.
      this.closed = true;
      this.res.destroy();
      return;
    }
    this.write(`event: close\ndata: ${JSON.stringify({ reason, message: CLOSE_REASONS[reason].text })}\n\n`);
    this.closed = true;
    this.outbox.flush();
    // res.end() adds the last chunk; the connection stays usable for the client's next
    // request (a reconnect with a fresh token, say). At shutdown the socket is ended too,
    // so shutdown isn't left waiting on a keep-alive connection the client may keep.
    if (reason === 'shutdown') this.res.end(() => this.socket.end());
    else this.res.end();
  }
}

/**
 * `GET /v1/events`: Server-Sent Events. One long response per client; resumable with
 * `Last-Event-ID`, because every frame's `id:` is the cursor after that frame.
 */
export class Sse extends PushTransport<SseStream> {
  constructor(ctx: ServerContext) {
    super('sse', ctx, Math.max(5, Math.floor(ctx.config.heartbeatMs / 2)));
  }

  async handle(req: IncomingMessage, res: ServerResponse, query: URLSearchParams): Promise<void> {
    const { config } = this.ctx;
    const lastEventId = req.headers['last-event-id'];
    const resumeFrom = typeof lastEventId === 'string' && lastEventId !== '' ? lastEventId : undefined;
    const starts = parseSubscribeQuery(query, config.maxSubscriptions, resumeFrom);
    const envelope = parseEnvelopeForm(query.get('envelope'));
    const grants = await admitSubscriber(this.ctx, bearerToken(req, query), starts.map((s) => s.channel));

    const stream = new SseStream(this, res, req.socket);
    stream.envelope = envelope;
    for (const { channel, start } of starts) stream.subscriptions.set(channel, this.ctx.hub.subscribe(channel, start, stream));
    res.on('close', () => stream.cleanup());
    try {
      await Promise.all([...stream.subscriptions.values()].map((s) => s.ready));
      if (this.ctx.isDraining()) throw shuttingDown();
    } catch (err) {
      stream.cleanup();
      throw err;
    }
    if (res.destroyed) return;
    req.socket.setTimeout(0);
    stream.start(config.sseRetryMs);
    // Counted, beaten and closed at shutdown only once its headers are out.
    this.add(stream);
    // A stream would outlive its token otherwise: at exp it ends with `event: close`, reason token_expired.
    stream.watchExpiry(grants);
    for (const s of stream.subscriptions.values()) s.resume();
  }

  /** Resolves once the stream's last chunk is written, or the response is gone. */
  protected whenEnded(stream: SseStream): Promise<void> {
    return new Promise<void>((resolve) => {
      stream.res.once('finish', resolve);
      stream.res.once('close', resolve);
    });
  }
}
