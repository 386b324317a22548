import { Agent, get, type ClientRequest } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import type { DeliveryLedger } from './delivery-ledger.js';

export type SoakTransport = 'short-poll' | 'long-poll' | 'sse' | 'ws';
export const SOAK_TRANSPORTS: readonly SoakTransport[] = ['short-poll', 'long-poll', 'sse', 'ws'];

export interface ClientContext {
  url: string;
  ledger: DeliveryLedger;
  /** Lifetime of one connection before the client drops it and resumes (ms, drawn per connection). */
  lifetimeMs: () => number;
  /** Pause between dropping and resuming (ms). */
  pauseMs: () => number;
  /** Counts connects, drops and errors, for the report. */
  stats: { connects: number; drops: number; errors: number; errorExamples: string[] };
}

interface Envelope {
  channel: string;
  offset: number;
  epoch: string;
}

/**
 * One subscriber that connects, lives a while, drops its connection (cleanly or not) and
 * resumes by its cursor, until told to stop; then it stays connected until `stop()`.
 */
export abstract class ChurningClient {
  protected stopped = false;
  protected churning = true;
  /** The cursor to resume with (SSE and polls: one for all channels). */
  protected cursor: string | undefined;

  constructor(
    readonly id: number,
    readonly channels: string[],
    protected readonly ctx: ClientContext,
  ) {}

  /** Runs until stop(): connect, hold for a lifetime, drop, pause, resume. */
  async run(): Promise<void> {
    while (!this.stopped) {
      const deadline = Date.now() + this.ctx.lifetimeMs();
      try {
        this.ctx.stats.connects++;
        await this.session(() => this.stopped || (this.churning && Date.now() >= deadline));
      } catch (err) {
        this.ctx.stats.errors++;
        if (this.ctx.stats.errorExamples.length < 10) this.ctx.stats.errorExamples.push(`${this.constructor.name}: ${(err as Error).message}`);
        await sleep(200);
      }
      if (this.stopped) break;
      this.ctx.stats.drops++;
      await sleep(this.ctx.pauseMs());
    }
  }

  /** Stop churning: stay connected (resuming after any drop) until stop(). */
  settle(): void {
    this.churning = false;
  }

  stop(): void {
    this.stopped = true;
  }

  /** One connection's life: returns when `over()` turns true (after closing) or the connection failed. */
  protected abstract session(over: () => boolean): Promise<void>;

  protected deliver(m: Envelope): void {
    this.ctx.ledger.message(this.id, m.channel, m.epoch, m.offset);
  }

  protected started(cursor: string): void {
    this.ctx.ledger.start(this.id, cursor);
  }
}

/** Waits until `over()` or `failed`; polls `over` every 50 ms. */
async function hold(over: () => boolean, failed: { done: boolean }): Promise<void> {
  while (!over() && !failed.done) await sleep(50);
}

export class WsClient extends ChurningClient {
  private readonly cursors = new Map<string, string>();

  protected async session(over: () => boolean): Promise<void> {
    const ws = new WebSocket(`${this.ctx.url.replace('http', 'ws')}/v1/ws`, { perMessageDeflate: false });
    const failed = { done: false };
    ws.on('message', (raw) => {
      const f = JSON.parse(raw.toString()) as Envelope & { type: string; cursor?: string; code?: string };
      if (f.type === 'message') {
        this.deliver(f);
        this.cursors.set(f.channel, f.cursor!);
      } else if (f.type === 'subscribed') {
        this.started(f.cursor!);
        if (!this.cursors.has(f.channel)) this.cursors.set(f.channel, f.cursor!);
      } else if (f.type === 'gap') this.ctx.ledger.gaps++;
      else if (f.type === 'error') throw new Error(`error frame ${f.code}`);
    });
    ws.on('close', () => (failed.done = true));
    ws.on('error', () => (failed.done = true));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    for (const channel of this.channels) {
      const cursor = this.cursors.get(channel);
      ws.send(JSON.stringify(cursor === undefined ? { type: 'subscribe', channel } : { type: 'subscribe', channel, cursor }));
    }
    await hold(over, failed);
    // Half the drops are clean closes, half are a cut connection.
    if (this.id % 2 === 0) ws.close();
    else ws.terminate();
  }
}

export class SseClient extends ChurningClient {
  protected session(over: () => boolean): Promise<void> {
    const query = this.channels.map((c) => `channel=${encodeURIComponent(c)}`).join('&');
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (this.cursor !== undefined) headers['last-event-id'] = this.cursor;
    return new Promise<void>((resolve, reject) => {
      const failed = { done: false };
      const req: ClientRequest = get(`${this.ctx.url}/v1/events?${query}`, { agent: false, headers }, (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          return reject(new Error(`SSE answered ${res.statusCode}`));
        }
        let buffer = '';
        let first = true;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffer += chunk;
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            let id: string | undefined;
            let data: string | undefined;
            let event = 'message';
            for (const line of block.split('\n')) {
              if (line.startsWith('id: ')) id = line.slice(4);
              else if (line.startsWith('data: ')) data = line.slice(6);
              else if (line.startsWith('event: ')) event = line.slice(7);
            }
            if (id !== undefined && first) {
              first = false;
              this.started(id);
            }
            if (event === 'gap') this.ctx.ledger.gaps++;
            else if (data !== undefined && event !== 'close') this.deliver(JSON.parse(data) as Envelope);
            if (id !== undefined) this.cursor = id;
          }
        });
        res.on('close', () => (failed.done = true));
        hold(over, failed).then(() => {
          req.destroy();
          resolve();
        }, reject);
      });
      // After a deliberate destroy the promise has resolved already, and this is a no-op.
      req.on('error', (err) => {
        failed.done = true;
        reject(err);
      });
    });
  }
}

/** Short polls every `intervalMs`, or long polls with `wait=` seconds; each answer's cursor is the next request's. */
export class PollClient extends ChurningClient {
  constructor(
    id: number,
    channels: string[],
    ctx: ClientContext,
    private readonly waitS: number,
    private readonly intervalMs: number,
  ) {
    super(id, channels, ctx);
  }

  protected async session(over: () => boolean): Promise<void> {
    // A connection pool of one per session: dropping the session drops its socket.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      while (!over()) {
        const params = this.channels.map((c) => `channel=${encodeURIComponent(c)}`);
        if (this.cursor !== undefined) params.push(`cursor=${this.cursor}`);
        if (this.waitS > 0) params.push(`wait=${this.waitS}`);
        const answer = await this.poll(`/v1/poll?${params.join('&')}`, agent, over);
        if (answer === undefined) return; // cut mid-wait on purpose: resume with the old cursor
        this.ctx.ledger.gaps += answer.gap?.length ?? 0;
        for (const m of answer.messages) this.deliver(m);
        // The answer's cursor is after its messages: it starts only the channels that had none.
        if (this.cursor === undefined) this.started(answer.cursor);
        this.cursor = answer.cursor;
        if (this.waitS === 0) await sleep(this.intervalMs);
      }
    } finally {
      agent.destroy();
    }
  }

  private poll(path: string, agent: Agent, over: () => boolean): Promise<{ messages: Envelope[]; cursor: string; gap?: unknown[] } | undefined> {
    return new Promise((resolve, reject) => {
      let watch: NodeJS.Timeout | undefined;
      const req = get(`${this.ctx.url}${path}`, { agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => {
          clearInterval(watch);
          if (res.statusCode !== 200) return reject(new Error(`poll answered ${res.statusCode}: ${body.slice(0, 200)}`));
          resolve(JSON.parse(body) as { messages: Envelope[]; cursor: string; gap?: unknown[] });
        });
      });
      req.on('error', (err) => {
        clearInterval(watch);
        if (req.destroyed && over()) resolve(undefined);
        else reject(err);
      });
      // A long poll may be cut mid-wait when its session is over: the answer it would have
      // carried comes again on the next poll, which resumes from the same cursor.
      if (this.waitS > 0) {
        watch = setInterval(() => {
          if (over()) {
            clearInterval(watch);
            req.destroy();
          }
        }, 50);
      }
    });
  }
}
