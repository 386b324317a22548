import type { Writable } from 'node:stream';

/**
 * Coalesces writes: the first write to a stream in this turn of the event loop corks it,
 * and one shared setImmediate uncorks every stream corked in the turn. Several messages
 * for one subscriber, published together or in quick succession, leave in one writev
 * syscall instead of one each. The cost is at most one event-loop turn of latency.
 */
export class TickCorker {
  private corked = new Set<Writable>();
  private scheduled = false;

  cork(stream: Writable): void {
    if (this.corked.has(stream)) return;
    stream.cork();
    this.corked.add(stream);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  /** Sends what `stream` holds now, before it is ended or destroyed. */
  release(stream: Writable): void {
    if (this.corked.delete(stream)) stream.uncork();
  }

  private readonly flush = (): void => {
    const streams = this.corked;
    this.corked = new Set();
    this.scheduled = false;
    for (const s of streams) s.uncork();
  };
}
