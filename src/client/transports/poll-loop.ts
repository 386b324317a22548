import type { TransportName } from '../types.js';
import { CursorLoop, pause, type Asked, type PollAnswer } from './cursor-loop.js';
import { HttpError, sendJson } from './http.js';
import type { TransportHost } from './transport.js';

/**
 * `GET /v1/poll` in a loop for every channel at once, sending back each answer's cursor.
 * Long and short polling differ only in `wait=` and the pause between requests, so they
 * share this loop (long-poll.ts and short-poll.ts name the two). The first request of a
 * loop never waits, so the transport is established as soon as the server answers.
 */
export class PollLoop extends CursorLoop {
  /** The long poll's `wait=`, seconds: the client's option, lowered if the server allows less. */
  private wait = this.host.options.longPollWait;
  /** No answer yet: the next poll must not wait. */
  private first = true;

  constructor(
    host: TransportHost,
    readonly name: Extract<TransportName, 'long-poll' | 'short-poll'>,
  ) {
    super(host);
  }

  /** One poll; a short poll then pauses (a sync cuts the pause short: it re-asks at once). */
  protected async round(ctl: AbortController, asked: Asked, started: boolean): Promise<undefined> {
    const { signal } = ctl;
    const { options } = this.host;
    const long = this.name === 'long-poll';
    if (started) {
      // The server just answered: the next poll may wait (the first of a loop never does).
      this.first = false;
      this.markEstablished();
      // A short poll just happened: the next one comes after the interval, from the cursors then.
      if (!long) {
        await pause(options.shortPollInterval, signal);
        return;
      }
    }
    const wait = long && !this.first ? this.wait : 0;
    if (wait > 0) asked.query.set('wait', String(wait));
    let answer: PollAnswer;
    try {
      answer = await sendJson<PollAnswer>(this.host, `/v1/poll?${asked.query}`, { signal, timeoutMs: wait * 1000 + options.requestTimeout });
    } catch (err) {
      // A server whose --long-poll-max-wait is below ours refuses the wait: ask for less.
      if (!(err instanceof HttpError && err.code === 'invalid_parameter' && wait > 1)) throw err;
      this.wait = Math.max(1, Math.floor(wait / 2));
      return;
    }
    if (this.done) return;
    this.deliver(asked.channels, answer);
    this.first = false;
    this.markEstablished();
    if (!long) await pause(options.shortPollInterval, signal);
  }
}
