import { CLOSE_REASONS } from '../../core/close-reasons.js';
import { SseParser, type SseRecord } from '../sse-parser.js';
import { dropOf, resolveStarts, send, subscribeQuery } from './http.js';
import { clientError, type Drop, type Transport, type TransportHost } from './transport.js';

/**
 * Server-Sent Events (`/v1/events`) read with fetch and a stream parser: one stream for
 * every channel, named by their cursors. Established by the stream's first `id:` record,
 * which the server writes at once: a proxy that buffers the stream holds it back, the
 * client's open timeout fires, and the next transport is tried. A change of channels
 * re-opens the stream from the current cursors.
 */
export class SseTransport implements Transport {
  readonly name = 'sse' as const;
  private done = false;
  private established = false;
  private abort: AbortController | undefined;
  private restart = false;
  /** The reason of the server's `event: close`, for when the stream then ends. */
  private closeReason: string | undefined;
  private idleTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly host: TransportHost) {}

  open(): void {
    void this.run();
  }

  private async run(): Promise<void> {
    while (!this.done) {
      const ctl = new AbortController();
      this.abort = ctl;
      this.restart = false;
      try {
        await this.stream(ctl);
        if (this.done) return;
        if (this.restart) continue;
        const reason = this.closeReason ?? 'network';
        const known = (CLOSE_REASONS as Record<string, { resume: boolean } | undefined>)[reason];
        const tokenExpired = reason === 'token_expired';
        this.end({ reason, resume: (known?.resume ?? true) || tokenExpired, tokenExpired, neverOpened: !this.established });
        return;
      } catch (err) {
        if (this.done) return;
        if (this.restart) continue;
        this.end(dropOf(err, !this.established));
        return;
      }
    }
  }

  /** One stream, until it ends (resolves) or fails (throws). */
  private async stream(ctl: AbortController): Promise<void> {
    const signal = ctl.signal;
    this.closeReason = undefined;
    await resolveStarts(this.host, this, signal);
    const subs = [...this.host.subs.values()];
    if (subs.length === 0) {
      this.markEstablished();
      // Nothing to stream: wait for a sync (or close), which aborts.
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
      throw new Error('aborted');
    }
    const channels = subs.map((s) => s.channel);
    // A re-opened stream whose answer never comes would leave the client "connected" to
    // nothing (the open timeout guards only the first): give its headers the idle timeout.
    this.idleTimer = setTimeout(() => ctl.abort(), this.host.options.idleTimeout);
    let res: Response;
    try {
      res = await send(this.host, `/v1/events?${subscribeQuery(subs)}`, { signal, headers: { accept: 'text/event-stream' } }, async (r) => r);
    } finally {
      clearTimeout(this.idleTimer);
    }
    if (res.body === null) throw clientError('the event stream has no body');
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    const parser = new SseParser((r) => this.onRecord(r, channels));
    const watchdog = () => {
      clearTimeout(this.idleTimer);
      // The server writes a keep-alive at least every heartbeat: silence means a dead link.
      this.idleTimer = setTimeout(() => {
        this.closeReason = 'timeout';
        void reader.cancel();
      }, this.host.options.idleTimeout);
    };
    watchdog();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        watchdog();
        parser.push(decoder.decode(value, { stream: true }));
      }
    } finally {
      clearTimeout(this.idleTimer);
    }
  }

  private onRecord(r: SseRecord, channels: readonly string[]): void {
    if (this.done) return;
    if (r.event === 'close') {
      this.closeReason = (JSON.parse(r.data ?? '{}') as { reason?: string }).reason ?? 'closed';
      return;
    }
    if (r.data !== undefined) {
      if (r.event === 'gap') this.host.gap(this, JSON.parse(r.data));
      else this.host.message(this, JSON.parse(r.data), r.id);
    }
    // Every id on a stream is the cursor after this frame for all of the stream's channels.
    if (r.id !== undefined) this.host.position(this, channels, r.id);
    this.markEstablished();
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

  private end(drop: Drop): void {
    if (this.done) return;
    this.done = true;
    this.host.closed(this, drop);
  }

  close(): void {
    this.done = true;
    clearTimeout(this.idleTimer);
    this.abort?.abort();
  }
}
