import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool, buildConnector } from 'undici';
import { payload, socketBytes, type Fleet, type FleetContext } from './fleet.js';
import { nowMs } from './tracker.js';

/** One poll request, as a dialect writes it. */
export interface PollRequest {
  path: string;
  headers?: Record<string, string>;
}

/** One answer, whole, as it came off the pool. */
export interface PollAnswer {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** What a dialect reads in an answer. */
export interface PollRead<Position> {
  /** The messages, parsed, in the order they came (none: an empty answer). */
  messages: unknown[];
  /** Where to ask after next. */
  position: Position;
  /** Messages the server says are gone for this poller. */
  gaps: number;
}

/**
 * How one server is polled: the request it expects, how its answers read, how a poller
 * starts and paces itself. Everything else (connections, keep-alive, counting) is the fleet's.
 */
export interface PollDialect<Position> {
  /**
   * Whether a new poller asks once, without waiting, to learn where the channel ends before
   * it counts as subscribed (Tidings: a cursor). Without, it is subscribed with no position.
   */
  readonly asksWhereToStart: boolean;
  /**
   * How a short poller paces itself: `every-interval` asks once an interval on a fixed
   * schedule (an answer holds every message waiting); `again-after-message` asks at once
   * after an answer with a message (one answer holds one, more may wait) and one interval
   * after an empty one.
   */
  readonly shortPacing: 'every-interval' | 'again-after-message';
  /** The request for what follows `position` (undefined: none yet), parked up to `waitS` seconds (0: answered at once). */
  request(position: Position | undefined, waitS: number): PollRequest;
  /** Reads one answer; throws on one that is not a poll's answer, so the poller stops and counts as dropped. */
  read(answer: PollAnswer, position: Position | undefined): PollRead<Position>;
}

/** An undici keep-alive pool with a connection per poller at most; every socket it opens goes into `sockets`, for wire bytes. */
export function pollerPool(url: string, connections: number, sockets: Socket[]): Pool {
  const base = buildConnector({});
  return new Pool(url, {
    connections,
    pipelining: 1,
    keepAliveTimeout: 120_000,
    headersTimeout: 0,
    bodyTimeout: 0,
    connect: (opts, callback) =>
      base(opts, (...args) => {
        const socket = args[1];
        if (socket) sockets.push(socket as Socket);
        (callback as (...a: typeof args) => void)(...args);
      }),
  });
}

/**
 * Short- or long-polling subscribers of one server, on an undici keep-alive pool with a
 * connection per client at most (node:http alone tops out near 12k requests/s here). The
 * dialect says what to ask and how to read the answer; this loop asks, counts requests and
 * empty answers, and hands every message to the tracker. A long poller asks again as soon
 * as an answer comes; a short one paces itself as its dialect says.
 */
export class PollFleet<Position> implements Fleet {
  private readonly pool: Pool;
  private readonly sockets: Socket[] = [];
  requests = 0;
  emptyAnswers = 0;
  dropped = 0;
  private closing = false;

  constructor(
    private readonly ctx: FleetContext,
    private readonly dialect: PollDialect<Position>,
  ) {
    this.pool = pollerPool(ctx.target.url, ctx.capacity, this.sockets);
  }

  private get long(): boolean {
    return this.ctx.target.transport === 'long-poll';
  }

  /** One request and its answer: messages to the tracker; returns where to ask next and how many messages came. */
  private async poll(index: number, position: Position | undefined, waitS: number): Promise<{ position: Position; count: number }> {
    const { path, headers } = this.dialect.request(position, waitS);
    const res = await this.pool.request({ method: 'GET', path, headers });
    const text = await res.body.text();
    const now = nowMs();
    this.requests++;
    const answer = this.dialect.read({ statusCode: res.statusCode, headers: res.headers, text }, position);
    if (answer.messages.length === 0) this.emptyAnswers++;
    this.ctx.tracker.gaps += answer.gaps;
    for (const m of answer.messages) {
      const p = payload(m);
      if (p !== undefined) this.ctx.tracker.receive(index, p, now);
    }
    return { position: answer.position, count: answer.messages.length };
  }

  async add(index: number): Promise<void> {
    const start = this.dialect.asksWhereToStart ? (await this.poll(index, undefined, 0)).position : undefined;
    void this.loop(index, start);
  }

  private async loop(index: number, start: Position | undefined): Promise<void> {
    let position = start;
    const interval = this.ctx.pollIntervalMs;
    const waitS = this.long ? this.ctx.longPollWaitS : 0;
    // Short pollers start spread over one interval, as independent clients would.
    let next = nowMs() + (this.long ? 0 : Math.random() * interval);
    try {
      while (!this.closing) {
        if (!this.long) {
          const wait = next - nowMs();
          if (wait > 0) await sleep(wait);
          if (this.closing) return;
          if (this.dialect.shortPacing === 'every-interval') next += interval;
        }
        const answer = await this.poll(index, position, waitS);
        position = answer.position;
        if (this.dialect.shortPacing === 'again-after-message') next = nowMs() + (answer.count === 0 ? interval : 0);
      }
    } catch (err) {
      if (this.closing) return;
      // The first stop says why; the rest are counted, not printed (a dead server stops them all).
      if (this.dropped++ === 0) process.stderr.write(`loadgen: ${this.ctx.target.system} poller ${index} stopped: ${(err as Error).message}\n`);
    }
  }

  wireBytes(): number {
    return socketBytes(this.sockets);
  }

  close(): void {
    this.closing = true;
    void this.pool.destroy().catch(() => undefined);
  }
}
