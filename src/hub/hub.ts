import type { Message } from '../core/message.js';
import type { Engine } from '../engines/engine.js';

/** Anything the hub hands live messages to: a ChannelSubscription. */
export interface LiveListener {
  live(message: Message): void;
}

/**
 * Fan-out of engine feeds to this process's subscriptions. The engine is asked for a
 * channel's feed once, when the first local subscriber arrives, and the feed is dropped
 * with the last; every message then goes to each listener by one loop over a Set.
 */
export class Hub {
  private readonly channels = new Map<string, { listeners: Set<LiveListener>; stop: () => void }>();

  constructor(private readonly engine: Engine) {}

  add(channel: string, listener: LiveListener): void {
    let entry = this.channels.get(channel);
    if (entry === undefined) {
      const listeners = new Set<LiveListener>();
      const stop = this.engine.feed(channel, (m) => {
        for (const l of listeners) l.live(m);
      });
      entry = { listeners, stop };
      this.channels.set(channel, entry);
    }
    entry.listeners.add(listener);
  }

  remove(channel: string, listener: LiveListener): void {
    const entry = this.channels.get(channel);
    if (entry === undefined || !entry.listeners.delete(listener)) return;
    if (entry.listeners.size === 0) {
      entry.stop();
      this.channels.delete(channel);
    }
  }

  /** Live subscriptions to `channel` in this process, on every transport. */
  subscribers(channel: string): number {
    return this.channels.get(channel)?.listeners.size ?? 0;
  }
}
