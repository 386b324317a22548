import type { Socket } from 'node:net';
import { Pool, buildConnector } from 'undici';
import { payload, type Fleet, type FleetContext } from './fleet.js';
import { nowMs } from './tracker.js';

interface PollAnswer {
  messages: unknown[];
  cursor: string;
  gap?: unknown[];
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** An undici keep-alive pool with a connection per poller at most; every socket it opens goes into `sockets`, for wire bytes. */
export function pollerPool(ctx: FleetContext, sockets: Socket[]): Pool {
  const base = buildConnector({});
  return new Pool(ctx.target.url, {
    connections: ctx.capacity,
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

/** Socket bytes read plus written. */
export function socketBytes(sockets: readonly Socket[]): number {
  let n = 0;
  for (const s of sockets) n += s.bytesRead + s.bytesWritten;
  return n;
}

/**
 * Short- or long-polling subscribers of `GET /v1/poll`, on an undici keep-alive pool with a
 * connection per client at most (node:http alone tops out near 12k requests/s here). Each
 * client first asks with `wait=0` for a cursor at the channel's end, so it is subscribed
 * from then on; it then polls with that cursor, every `pollIntervalMs` (short) or parked
 * with `wait=` (long).
 */
export class PollFleet implements Fleet {
  private readonly pool: Pool;
  private readonly sockets: Socket[] = [];
  requests = 0;
  emptyAnswers = 0;
  dropped = 0;
  private closing = false;

  constructor(private readonly ctx: FleetContext) {
    this.pool = pollerPool(ctx, this.sockets);
  }

  private get long(): boolean {
    return this.ctx.target.transport === 'long-poll';
  }

  private async poll(index: number, cursor: string | undefined, wait: number): Promise<string> {
    const { channel } = this.ctx.target;
    const path = `/v1/poll?channel=${channel}${cursor === undefined ? '' : `&cursor=${cursor}`}${wait > 0 ? `&wait=${wait}` : ''}`;
    const { statusCode, body } = await this.pool.request({ method: 'GET', path });
    const text = await body.text();
    this.requests++;
    if (statusCode !== 200) throw new Error(`poll answered ${statusCode}: ${text.slice(0, 200)}`);
    const now = nowMs();
    const answer = JSON.parse(text) as PollAnswer;
    if (answer.messages.length === 0) this.emptyAnswers++;
    if (answer.gap !== undefined) this.ctx.tracker.gaps += answer.gap.length;
    for (const m of answer.messages) {
      const p = payload(m);
      if (p !== undefined) this.ctx.tracker.receive(index, p, now);
    }
    return answer.cursor;
  }

  async add(index: number): Promise<void> {
    const cursor = await this.poll(index, undefined, 0);
    void this.loop(index, cursor);
  }

  private async loop(index: number, first: string): Promise<void> {
    let cursor = first;
    const interval = this.ctx.pollIntervalMs;
    // Short pollers start spread over one interval, as independent clients would.
    let next = nowMs() + (this.long ? 0 : Math.random() * interval);
    try {
      while (!this.closing) {
        if (!this.long) {
          const wait = next - nowMs();
          if (wait > 0) await sleep(wait);
          next += interval;
          if (this.closing) return;
        }
        cursor = await this.poll(index, cursor, this.long ? this.ctx.longPollWaitS : 0);
      }
    } catch {
      if (!this.closing) this.dropped++;
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
