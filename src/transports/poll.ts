import type { IncomingMessage, ServerResponse } from 'node:http';
import { tokenExpired } from '../auth/access.js';
import { bearerToken } from '../auth/api-key.js';
import { parseEnvelopeForm, type EnvelopeForm } from '../core/compact-envelope.js';
import { decodeCursor, type Position, type Positions } from '../core/cursor.js';
import { TidingsError } from '../core/errors.js';
import { sendProblem } from '../http/respond.js';
import { parseSubscribeQuery, type ChannelStart } from '../http/subscribe-params.js';
import { catchUpStep, readPage } from '../hub/catch-up.js';
import { startPosition } from '../hub/start.js';
import type { ChannelSubscription, SubscriptionSink } from '../hub/subscription.js';
import { admitSubscriber } from './admission.js';
import type { ServerContext } from './context.js';
import { SharedAnswer, type Pending } from './poll-answer.js';
import { PAGE, PollSpots } from './poll-spots.js';
import type { Transport } from './push.js';

function parseWait(raw: string | null, maxWaitMs: number): number {
  if (raw === null || raw === '' || raw === '0') return 0;
  const maxS = Math.floor(maxWaitMs / 1000);
  if (!/^\d{1,3}$/.test(raw) || Number(raw) < 1 || Number(raw) > maxS) {
    throw new TidingsError('invalid_parameter', `wait=${raw.slice(0, 20)} is invalid: use 0 (short poll) or 1 to ${maxS} seconds (long poll).`);
  }
  return Number(raw) * 1000;
}

/**
 * decodeCursor once per distinct cursor text per event-loop turn: the pollers answered
 * together come back together, at one position, with the same cursor.
 */
function turnCachedDecoder(): (text: string) => Positions {
  const cache = new Map<string, Positions>();
  let clearing = false;
  return (text) => {
    let positions = cache.get(text);
    if (positions === undefined) {
      positions = decodeCursor(text);
      cache.set(text, positions);
      if (!clearing) {
        clearing = true;
        setImmediate(() => {
          cache.clear();
          clearing = false;
        });
      }
    }
    return positions;
  };
}

/**
 * `GET /v1/poll`: short polling (`wait=0`, answer at once) and long polling (`wait=S`,
 * hold the request until a message or the deadline). Both read the same history and hand
 * back a cursor, so a client can switch between them, or to SSE or WebSocket, at any poll.
 */
export class Poll implements Transport {
  readonly name = 'long_poll';
  private readonly spots: PollSpots;
  private readonly decodeCursor = turnCachedDecoder();

  constructor(private readonly ctx: ServerContext) {
    this.spots = new PollSpots(ctx);
  }

  async handle(req: IncomingMessage, res: ServerResponse, query: URLSearchParams): Promise<void> {
    const { config, metrics } = this.ctx;
    const waitMs = parseWait(query.get('wait'), config.longPollMaxWaitMs);
    const starts = parseSubscribeQuery(query, config.maxSubscriptions, undefined, this.decodeCursor);
    const form = parseEnvelopeForm(query.get('envelope'));
    const grants = await admitSubscriber(this.ctx, bearerToken(req, query), starts.map((s) => s.channel));
    const transport = waitMs === 0 ? 'short_poll' : 'long_poll';
    metrics.connections[transport]++;
    try {
      // One channel from a cursor, what a polling client sends from its second poll on:
      // served with every other poll at that channel and position (poll-spots.ts).
      const only = starts.length === 1 ? starts[0]! : undefined;
      if (only?.start.kind === 'after') {
        await this.spots.poll(only.channel, only.start.position, form, res, waitMs, grants.expiresAtMs);
        return;
      }
      // Read at the end of this event-loop turn, not now: publishes that arrived in the
      // same turn are then in this answer instead of the next poll's. Under load that is
      // what lets one answer carry many messages; when idle it costs nothing.
      await new Promise<void>((resolve) => setImmediate(resolve));
      const pending = await Promise.all(starts.map((s) => this.readNow(s)));
      const ready = pending.some((p) => p.messages.length > 0 || p.gap !== undefined);
      if (waitMs === 0 || ready) {
        this.answer(res, pending, transport, form);
        return;
      }
      await this.park(req, res, pending, waitMs, grants.expiresAtMs, form);
    } finally {
      metrics.connections[transport]--;
    }
  }

  /** Resolves a start to a position and reads what is already there after it. */
  private async readNow({ channel, start }: ChannelStart): Promise<Pending> {
    const { hub } = this.ctx;
    let position: Position;
    if (start.kind === 'after') {
      position = start.position;
    } else {
      const info = await hub.info(channel);
      position = startPosition(start, info);
      if (position.offset === info.last) return { channel, position, messages: [], gap: undefined };
    }
    const step = catchUpStep(position, await readPage(hub, channel, position, PAGE));
    return { channel, position: step.position, messages: step.messages, gap: step.gap };
  }

  private answer(res: ServerResponse, pending: readonly Pending[], transport: 'short_poll' | 'long_poll', form: EnvelopeForm): void {
    const answer = new SharedAnswer(pending, form);
    this.ctx.metrics.deliveries[transport] += answer.count;
    // While draining, the client's next poll must go elsewhere: don't keep this socket.
    answer.send(res, this.ctx.isDraining());
  }

  /**
   * Holds the request on live subscriptions. The first message schedules the answer for
   * the end of this turn of the event loop, so a burst published together goes out in one
   * answer. The deadline is a slot on the shared coarse timer, not a timer of its own.
   */
  private park(req: IncomingMessage, res: ServerResponse, pending: Pending[], waitMs: number, tokenExpiresAt: number | undefined, form: EnvelopeForm): Promise<void> {
    const { ctx } = this;
    return new Promise<void>((resolve) => {
      const byChannel = new Map(pending.map((p) => [p.channel, p]));
      let finished = false;
      let scheduled = false;
      const subscriptions: ChannelSubscription[] = [];

      const finish = (why: 'ready' | 'timeout' | 'drain' | 'gone' | 'failed' | 'expired', error?: unknown) => {
        if (finished) return;
        finished = true;
        for (const s of subscriptions) {
          s.close();
          byChannel.get(s.channel)!.position = s.position;
        }
        cancelDeadline();
        cancelExpiry();
        ctx.metrics.longPollsParked--;
        unregister();
        if (why === 'failed') {
          ctx.logger.warn({ err: error }, 'long poll failed while reading history');
          res.destroy();
        } else if (why === 'expired') {
          // Nothing was delivered, so the cursor the client holds is still right: it polls again with a fresh token.
          sendProblem(res, tokenExpired());
        } else if (why !== 'gone') {
          this.answer(res, pending, 'long_poll', form);
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
      const deadline = Date.now() + waitMs;
      const cancelDeadline = ctx.timer.at(deadline, () => finish('timeout'));
      // A token that lapses before the deadline ends the wait with 401 token_expired.
      const cancelExpiry = tokenExpiresAt !== undefined && tokenExpiresAt < deadline ? ctx.timer.at(tokenExpiresAt, () => finish('expired')) : () => {};
      const unregister = this.onDrain(() => finish('drain'));
      res.on('close', () => finish('gone'));
      req.socket.setTimeout(0);
      // Shutdown began while this poll read: drain() has run already and won't come back for it.
      if (ctx.isDraining()) {
        finish('drain');
        return;
      }

      for (const p of pending) {
        const sub = ctx.hub.subscribe(p.channel, { kind: 'after', position: p.position }, sink);
        subscriptions.push(sub);
        sub.ready.then(
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
    this.spots.drain();
  }

  /** Long polls parked now: the one count, kept by the metrics gauge. */
  get parked(): number {
    return this.ctx.metrics.longPollsParked;
  }

  /** Transport shape: what is open is the parked long polls. */
  get size(): number {
    return this.parked;
  }

  /** Shutdown: parked long polls answer with their cursor (the reason shows in `Connection: close`). */
  closeAll(): Promise<void> {
    this.drain();
    return Promise.resolve();
  }
}
