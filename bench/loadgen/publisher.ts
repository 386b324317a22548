import { Pool } from 'undici';
import type { Target } from '../lib/types.js';
import { nowMs } from './tracker.js';

/** Requests written ahead of their answers on the one connection. */
const PIPELINE = 64;

/**
 * Publishes `{"seq":N,"t":MS}` by HTTP POST on one keep-alive connection, pipelined: a
 * publish goes out when it is due, not when the previous one is answered, so a busy server
 * does not slow the publisher down (a serial publisher would, and would hide the cost).
 * One connection keeps the requests in publish order on the wire.
 */
export class Publisher {
  private readonly pool: Pool;
  private readonly path: string;
  inFlight = 0;
  failures = 0;
  firstError: string | undefined;
  private waiters: (() => void)[] = [];

  constructor(target: Target) {
    this.pool = new Pool(target.url, { connections: 1, pipelining: PIPELINE, keepAliveTimeout: 120_000, headersTimeout: 0, bodyTimeout: 0 });
    this.path = target.system === 'tidings' ? `/v1/channels/${target.channel}/messages` : '/publish';
  }

  /** Opens the connection, so the measured window does not begin with a handshake. */
  async warm(): Promise<void> {
    const { body } = await this.pool.request({ method: 'GET', path: '/healthz' });
    await body.text();
  }

  /** Sends one message now; resolves when it is written to the pipeline, not when answered. */
  async publish(seq: number, maxInFlight: number): Promise<void> {
    while (this.inFlight >= maxInFlight) await new Promise<void>((resolve) => this.waiters.push(resolve));
    this.inFlight++;
    this.pool
      .request({
        method: 'POST',
        path: this.path,
        // POST is not idempotent to undici, which would then wait for each answer before the next;
        // and undici treats every request but HEAD as "blocking" (no pipelining behind it until
        // its answer's headers are in) unless told otherwise. Both are needed to pipeline.
        idempotent: true,
        blocking: false,
        headers: { 'content-type': 'application/json' },
        body: `{"seq":${seq},"t":${nowMs()}}`,
      })
      .then(async ({ statusCode, body }) => {
        const text = await body.text();
        if (statusCode >= 300) throw new Error(`publish answered ${statusCode}: ${text.slice(0, 200)}`);
      })
      .catch((err: unknown) => {
        this.failures++;
        this.firstError ??= (err as Error).message;
      })
      .finally(() => {
        this.inFlight--;
        this.waiters.shift()?.();
      });
  }

  /** Waits until every publish is answered. */
  async settled(): Promise<void> {
    while (this.inFlight > 0) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  close(): void {
    void this.pool.destroy().catch(() => undefined);
  }
}
