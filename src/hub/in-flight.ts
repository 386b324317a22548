/**
 * Engine calls in flight, one per key: a caller asking for what is already on its way
 * gets the same promise instead of a second engine call.
 *
 * This is what keeps a channel's subscribers from stampeding the store when they all ask
 * at once: sent back to history together (a Redis pub/sub reconnect calls `missed()` on
 * every one), subscribers at the same position ask for the same page and share one
 * XRANGE, and as they go on page by page in step they keep sharing; thousands joining
 * together after a restart share one channel-info read. A call is forgotten as soon as it
 * settles, success or failure, so nothing is cached beyond the flight and a failed call is
 * tried afresh by whoever asks next. Every caller gets the same answer, so none may change
 * it (`ReadResult.messages` is read-only for that reason). The key is the caller's to make
 * whole: what the answer depends on, and when it may be shared (Hub.readForSubscriber).
 */
export class InFlight<T> {
  private readonly flights = new Map<string, Promise<T>>();

  /** `start()` is the engine call, made only when no call under `key` is in flight. */
  share(key: string, start: () => Promise<T>): Promise<T> {
    const flying = this.flights.get(key);
    if (flying !== undefined) return flying;
    // Forgotten before any caller sees the answer: a caller that asks the same again (messages
    // arrived live while it read) must reach the engine, not get this answer.
    const call: Promise<T> = start().finally(() => {
      if (this.flights.get(key) === call) this.flights.delete(key);
    });
    this.flights.set(key, call);
    return call;
  }
}
