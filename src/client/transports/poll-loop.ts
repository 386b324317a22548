import type { TransportName } from '../types.js';
import { HttpError, deliverAnswer, dropOf, resolveStarts, sendJson, subscribeQuery, type PollAnswer } from './http.js';
import type { Transport, TransportHost } from './transport.js';

/**
 * `GET /v1/poll` in a loop for every channel at once, sending back each answer's cursor.
 * Long and short polling differ only in `wait=` and the pause between requests, so they
 * share this loop (long-poll.ts and short-poll.ts name the two). The first request of a
 * loop never waits, so the transport is established as soon as the server answers.
 */
export class PollLoop implements Transport {
  private done = false;
  private established = false;
  /** Aborts the request in flight, or the pause: a sync re-asks at once with the new channels. */
  private abort: AbortController | undefined;
  private restart = false;
  /** The long poll's `wait=`, seconds: the client's option, lowered if the server allows less. */
  private wait: number;

  constructor(
    private readonly host: TransportHost,
    readonly name: Extract<TransportName, 'long-poll' | 'short-poll'>,
  ) {
    this.wait = host.options.longPollWait;
  }

  open(): void {
    void this.run();
  }

  private async run(): Promise<void> {
    const { options } = this.host;
    const long = this.name === 'long-poll';
    let first = true;
    while (!this.done) {
      const ctl = new AbortController();
      this.abort = ctl;
      this.restart = false;
      try {
        // The server just answered: the next poll may wait (the first of a loop never does).
        if (await resolveStarts(this.host, this, ctl.signal)) {
          first = false;
          this.markEstablished();
          // A short poll just happened: the next one comes after the interval.
          if (!long) {
            await pause(options.shortPollInterval, ctl.signal);
            continue;
          }
        }
        const subs = [...this.host.subs.values()];
        if (subs.length > 0 && !ctl.signal.aborted) {
          const q = subscribeQuery(subs);
          const wait = long && !first ? this.wait : 0;
          if (wait > 0) q.set('wait', String(wait));
          const answer = await sendJson<PollAnswer>(this.host, `/v1/poll?${q}`, { signal: ctl.signal, timeoutMs: wait * 1000 + options.requestTimeout });
          if (this.done) return;
          deliverAnswer(this.host, this, subs.map((s) => s.channel), answer);
          first = false;
        }
        this.markEstablished();
        // Short poll: pause between polls. Long poll, or nothing to poll: wait for a change.
        if (!long || subs.length === 0) await pause(subs.length === 0 ? 2 ** 31 - 1 : options.shortPollInterval, ctl.signal);
      } catch (err) {
        if (this.done) return;
        if (this.restart) continue;
        // A server whose --long-poll-max-wait is below ours refuses the wait: ask for less.
        if (err instanceof HttpError && err.code === 'invalid_parameter' && long && !first && this.wait > 1) {
          this.wait = Math.max(1, Math.floor(this.wait / 2));
          continue;
        }
        this.done = true;
        this.host.closed(this, dropOf(err, !this.established));
        return;
      }
    }
  }

  private markEstablished(): void {
    if (this.established || this.done) return;
    this.established = true;
    this.host.established(this);
  }

  sync(): void {
    this.restart = true;
    this.abort?.abort();
  }

  close(): void {
    this.done = true;
    this.abort?.abort();
  }
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}
