import type { ReadResult } from '../engines/engine.js';

/**
 * History reads in flight, one per (channel, after, limit): a caller asking for a read
 * that is already on its way gets the same promise instead of a second engine call.
 *
 * This is what keeps a channel's subscribers from stampeding the store when they are all
 * sent back to history at once (a Redis pub/sub reconnect calls `missed()` on every one):
 * subscribers at the same position ask for the same page and share one XRANGE, and as
 * they go on page by page in step they keep sharing. A read is forgotten as soon as it
 * settles, success or failure, so nothing is cached beyond the flight and a failed read
 * is tried afresh by whoever asks next. Every caller gets the same `ReadResult`, which is
 * why its `messages` are read-only.
 */
export class SharedReads {
  private readonly inFlight = new Map<string, Promise<ReadResult>>();

  /**
   * `start()` is the engine read, called only when no identical read is in flight. `since`
   * marks what the caller may share: reads asked under another mark (before the channel's
   * last live event) are not joined.
   */
  read(channel: string, after: number, limit: number, since: number, start: () => Promise<ReadResult>): Promise<ReadResult> {
    // Numbers first: whatever characters a channel name holds, the key stays unambiguous.
    const key = `${since} ${after} ${limit} ${channel}`;
    const flying = this.inFlight.get(key);
    if (flying !== undefined) return flying;
    // Forgotten before any caller sees the result: a caller that reads the same again
    // (messages arrived live while it read) must reach the engine, not get this answer.
    const read: Promise<ReadResult> = start().finally(() => {
      if (this.inFlight.get(key) === read) this.inFlight.delete(key);
    });
    this.inFlight.set(key, read);
    return read;
  }
}
