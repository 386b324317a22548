import { SseParser, type SseRecord } from '../sse-parser.js';
import { CursorLoop, type Asked } from './cursor-loop.js';
import { send } from './http.js';
import { clientError, dropFor, type Drop } from './transport.js';

/**
 * Server-Sent Events (`/v1/events`) read with fetch and a stream parser: one stream for
 * every channel, named by their cursors. Established by the stream's first `id:` record,
 * which the server writes at once: a proxy that buffers the stream holds it back, the
 * client's open timeout fires, and the next transport is tried. A change of channels
 * re-opens the stream from the current cursors.
 */
export class SseTransport extends CursorLoop {
  readonly name = 'sse' as const;
  /** The reason of the server's `event: close`, for when the stream then ends. */
  private closeReason: string | undefined;
  private idleTimer: ReturnType<typeof setTimeout> | undefined;

  /** One stream, until it ends (resolves with how) or fails (throws). */
  protected async round(ctl: AbortController, asked: Asked): Promise<Drop | undefined> {
    const signal = ctl.signal;
    this.closeReason = undefined;
    // A re-opened stream whose answer never comes would leave the client "connected" to
    // nothing (the open timeout guards only the first): give its headers the idle timeout.
    this.idleTimer = setTimeout(() => ctl.abort(), this.host.options.idleTimeout);
    let res: Response;
    try {
      res = await send(this.host, `/v1/events?${asked.query}`, { signal, headers: { accept: 'text/event-stream' } }, async (r) => r);
    } finally {
      clearTimeout(this.idleTimer);
    }
    if (res.body === null) throw clientError('the event stream has no body');
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    const parser = new SseParser((r) => this.onRecord(r, asked.channels));
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
        if (done) break;
        watchdog();
        parser.push(decoder.decode(value, { stream: true }));
      }
    } finally {
      clearTimeout(this.idleTimer);
    }
    // Ended by the server's `event: close` (its reason), by the watchdog, or by the network.
    return dropFor(this.closeReason ?? 'network', !this.established);
  }

  private onRecord(r: SseRecord, channels: readonly string[]): void {
    if (this.done) return;
    if (r.event === 'close') {
      this.closeReason = (JSON.parse(r.data ?? '{}') as { reason?: string }).reason ?? 'closed';
      return;
    }
    // Every id on a stream is the cursor after this frame for all of the stream's channels.
    const one = r.data === undefined ? [] : [JSON.parse(r.data)];
    const gap = r.event === 'gap';
    this.deliver(channels, { gap: gap ? one : [], messages: gap ? [] : one, cursor: r.id });
    this.markEstablished();
  }

  override close(): void {
    clearTimeout(this.idleTimer);
    super.close();
  }
}
