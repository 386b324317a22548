import type { Socket } from 'node:net';
import type { Pool } from 'undici';
import { payload, type Fleet, type FleetContext } from './fleet.js';
import { pollerPool, sleep, socketBytes } from './poll-fleet.js';
import { nowMs } from './tracker.js';

/** Nchan's message id of the last message a poller has: its `Last-Modified` and `Etag` answer headers. */
interface NchanId {
  lastModified: string;
  etag: string;
}

const header = (h: Record<string, string | string[] | undefined>, name: string): string | undefined => {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
};

/**
 * The message bodies of a multipart/mixed answer (RFC 2046 § 5.1.1): parts between
 * `--boundary` lines, each with its own headers, a blank line, then the body. Nchan's
 * long poll answers every message after the client's id this way.
 */
export function multipartBodies(body: string, contentType: string): string[] {
  const m = /boundary="?([^";]+)"?/.exec(contentType);
  if (m === null) throw new Error(`multipart answer without a boundary: ${contentType}`);
  const parts = body.split(`--${m[1]}`);
  // parts[0] is the preamble, the last one the `--` after the closing delimiter.
  return parts.slice(1, -1).map((part) => {
    const headEnd = part.indexOf('\r\n\r\n');
    if (headEnd < 0 || !part.endsWith('\r\n')) throw new Error(`malformed multipart part: ${part.slice(0, 80)}`);
    return part.slice(headEnd + 4, -2);
  });
}

/**
 * Nchan's pollers: long poll on `/lp` (multipart answers, every message after the id) and
 * short poll on `/sp` (`intervalpoll`: one message an answer, 304 when there is none). The
 * id of the last message goes back as `If-Modified-Since` and `If-None-Match`, as Nchan's
 * own client does. Nchan's channel is empty when they start and a poller with no id starts
 * at the oldest message, so each is subscribed at once, with no request.
 *
 * A short poller asks again at once after a message (one answer holds one, more may be
 * waiting) and waits one interval after a 304: the fastest a single-message poller can go.
 */
export class NchanPollFleet implements Fleet {
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

  /** One request; returns the id to ask after next and how many messages came. */
  private async poll(index: number, id: NchanId | undefined): Promise<{ id: NchanId | undefined; count: number }> {
    const headers: Record<string, string> = id === undefined ? {} : { 'if-modified-since': id.lastModified, 'if-none-match': id.etag };
    const res = await this.pool.request({ method: 'GET', path: this.long ? '/lp' : '/sp', headers });
    const text = await res.body.text();
    this.requests++;
    // 304: nothing new (a short poll, or a long poll's timeout); 408 is how some versions time out.
    if (res.statusCode === 304 || res.statusCode === 408) {
      this.emptyAnswers++;
      return { id, count: 0 };
    }
    if (res.statusCode !== 200) throw new Error(`Nchan poll answered ${res.statusCode}: ${text.slice(0, 200)}`);
    const now = nowMs();
    const type = header(res.headers, 'content-type') ?? '';
    const bodies = type.startsWith('multipart/') ? multipartBodies(text, type) : [text];
    for (const b of bodies) {
      const p = payload(JSON.parse(b));
      if (p !== undefined) this.ctx.tracker.receive(index, p, now);
    }
    const lastModified = header(res.headers, 'last-modified');
    const etag = header(res.headers, 'etag');
    if (lastModified === undefined || etag === undefined) throw new Error('Nchan answer without Last-Modified or Etag');
    return { id: { lastModified, etag }, count: bodies.length };
  }

  add(index: number): Promise<void> {
    void this.loop(index);
    return Promise.resolve();
  }

  private async loop(index: number): Promise<void> {
    const interval = this.ctx.pollIntervalMs;
    let id: NchanId | undefined;
    try {
      // Short pollers start spread over one interval, as independent clients would.
      if (!this.long) await sleep(Math.random() * interval);
      while (!this.closing) {
        const answer = await this.poll(index, id);
        id = answer.id;
        if (!this.long && answer.count === 0) await sleep(interval);
      }
    } catch (err) {
      if (!this.closing) {
        this.dropped++;
        process.stderr.write(`loadgen: Nchan poller ${index} stopped: ${(err as Error).message}\n`);
      }
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
