import type { IncomingMessage, ServerResponse } from 'node:http';
import { bearerToken } from '../auth/api-key.js';
import { encodeCursor, type Position } from '../core/cursor.js';
import { TidingsError } from '../core/errors.js';
import type { GapNotice, Message } from '../core/message.js';
import { sendJson } from '../http/respond.js';
import { parseSubscribeQuery, type ChannelStart } from '../http/subscribe-params.js';
import { catchUpStep, readPage } from '../hub/catch-up.js';
import { ChannelSubscription, type SubscriptionSink } from '../hub/subscription.js';
import type { ServerContext } from './context.js';

/** Most messages one poll answer carries per channel; the cursor says where to go on. */
const PAGE = 1000;

/** What one poll answer is built from, per channel. */
interface Pending {
  channel: string;
  position: Position;
  messages: Message[];
  gap: GapNotice | undefined;
}

function answerBody(pending: readonly Pending[]): string {
  const messages: string[] = [];
  const gaps: GapNotice[] = [];
  for (const p of pending) {
    if (p.gap !== undefined) gaps.push(p.gap);
    for (const m of p.messages) messages.push(m.json);
  }
  const cursor = encodeCursor(pending.map((p) => [p.channel, p.position]));
  const gap = gaps.length > 0 ? `,"gap":${JSON.stringify(gaps)}` : '';
  return `{"messages":[${messages.join(',')}],"cursor":"${cursor}"${gap}}`;
}

function parseWait(raw: string | null, maxWaitMs: number): number {
  if (raw === null || raw === '' || raw === '0') return 0;
  const maxS = Math.floor(maxWaitMs / 1000);
  if (!/^\d{1,3}$/.test(raw) || Number(raw) < 1 || Number(raw) > maxS) {
    throw new TidingsError('invalid_parameter', `wait=${raw.slice(0, 20)} is invalid: use 0 (short poll) or 1 to ${maxS} seconds (long poll).`);
  }
  return Number(raw) * 1000;
}

/**
 * `GET /v1/poll`: short polling (`wait=0`, answer at once) and long polling (`wait=S`,
 * hold the request until a message or the deadline). Both read the same history and hand
 * back a cursor, so a client can switch between them, or to SSE or WebSocket, at any poll.
 */
export class Poll {
  constructor(private readonly ctx: ServerContext) {}

  async handle(req: IncomingMessage, res: ServerResponse, query: URLSearchParams): Promise<void> {
    const { config, metrics } = this.ctx;
    const waitMs = parseWait(query.get('wait'), config.longPollMaxWaitMs);
    const starts = parseSubscribeQuery(query, config.maxSubscriptions);
    const grants = await this.ctx.access.identify(bearerToken(req, query));
    for (const s of starts) grants.assertSubscribe(s.channel);
    if (this.ctx.isDraining()) throw new TidingsError('unavailable', 'The server is shutting down; poll another node or retry.', { 'retry-after': '1' });
    const transport = waitMs === 0 ? 'short_poll' : 'long_poll';
    metrics.connections[transport]++;
    try {
      // Read at the end of this event-loop turn, not now: publishes that arrived in the
      // same turn are then in this answer instead of the next poll's. Under load that is
      // what lets one answer carry many messages; when idle it costs nothing.
      await new Promise<void>((resolve) => setImmediate(resolve));
      const pending = await Promise.all(starts.map((s) => this.readNow(s)));
      const ready = pending.some((p) => p.messages.length > 0 || p.gap !== undefined);
      if (waitMs === 0 || ready) {
        this.answer(res, pending, transport);
        return;
      }
      await this.park(req, res, pending, waitMs);
    } finally {
      metrics.connections[transport]--;
    }
  }

  /** Resolves a start to a position and reads what is already there after it. */
  private async readNow({ channel, start }: ChannelStart): Promise<Pending> {
    const { engine } = this.ctx;
    let position: Position;
    if (start.kind === 'after') {
      position = start.position;
    } else {
      const info = await engine.info(channel);
      const offset = start.kind === 'last' ? Math.max(info.first - 1, info.last - start.count) : info.last;
      position = { epoch: info.epoch, offset };
      if (offset === info.last) return { channel, position, messages: [], gap: undefined };
    }
    const step = catchUpStep(position, await readPage(engine, channel, position, PAGE));
    return { channel, position: step.position, messages: step.messages, gap: step.gap };
  }

  private answer(res: ServerResponse, pending: readonly Pending[], transport: 'short_poll' | 'long_poll'): void {
    let count = 0;
    for (const p of pending) count += p.messages.length;
    this.ctx.metrics.deliveries[transport] += count;
    // While draining, the client's next poll must go elsewhere: don't keep this socket.
    sendJson(res, 200, answerBody(pending), this.ctx.isDraining() ? { connection: 'close' } : {});
  }

  /**
   * Holds the request on live subscriptions. The first message schedules the answer for
   * the end of this turn of the event loop, so a burst published together goes out in one
   * answer. The deadline is a slot on the shared coarse timer, not a timer of its own.
   */
  private park(req: IncomingMessage, res: ServerResponse, pending: Pending[], waitMs: number): Promise<void> {
    const { ctx } = this;
    return new Promise<void>((resolve) => {
      const byChannel = new Map(pending.map((p) => [p.channel, p]));
      let finished = false;
      let scheduled = false;
      const subscriptions: ChannelSubscription[] = [];

      const finish = (why: 'ready' | 'timeout' | 'drain' | 'gone' | 'failed', error?: unknown) => {
        if (finished) return;
        finished = true;
        for (const s of subscriptions) {
          s.close();
          byChannel.get(s.channel)!.position = s.position;
        }
        cancelDeadline();
        ctx.metrics.longPollsParked--;
        unregister();
        if (why === 'failed') {
          ctx.logger.warn({ err: error }, 'long poll failed while reading history');
          res.destroy();
        } else if (why !== 'gone') {
          this.answer(res, pending, 'long_poll');
        }
        resolve();
      };
      const schedule = () => {
        if (scheduled) return;
        scheduled = true;
        setImmediate(() => finish('ready'));
      };
      const sink: SubscriptionSink = {
        message(m, sub) {
          const p = byChannel.get(sub.channel)!;
          p.messages.push(m);
          // One answer carries at most a page per channel; the cursor resumes the rest.
          if (p.messages.length >= PAGE) sub.close();
          schedule();
        },
        gap(notice, sub) {
          byChannel.get(sub.channel)!.gap = notice;
          schedule();
        },
        failed: (err) => finish('failed', err),
      };

      ctx.metrics.longPollsParked++;
      const cancelDeadline = ctx.timer.at(Date.now() + waitMs, () => finish('timeout'));
      const unregister = this.onDrain(() => finish('drain'));
      res.on('close', () => finish('gone'));
      req.socket.setTimeout(0);

      for (const p of pending) {
        const sub = new ChannelSubscription(p.channel, ctx.engine, ctx.hub, sink);
        subscriptions.push(sub);
        sub.open({ kind: 'after', position: p.position }).then(
          () => sub.resume(),
          (err) => finish('failed', err),
        );
      }
    });
  }

  private readonly drainWaiters = new Set<() => void>();

  private onDrain(fn: () => void): () => void {
    this.drainWaiters.add(fn);
    return () => this.drainWaiters.delete(fn);
  }

  /** Shutdown: every parked long poll answers now, with what it has and its cursor. */
  drain(): void {
    for (const fn of [...this.drainWaiters]) fn();
  }

  get parked(): number {
    return this.drainWaiters.size;
  }
}
