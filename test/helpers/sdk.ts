import { Tidings, type TidingsOptions } from '../../src/client/node.js';
import type { Gap, Message, StateChange, TransportName } from '../../src/client/types.js';
import { waitFor } from './server.js';

export const TRANSPORTS: readonly TransportName[] = ['ws', 'sse', 'long-poll', 'short-poll'];

/** Timings that keep tests quick: fast reconnects, fast short polls, short long polls. */
export const QUICK: TidingsOptions = {
  reconnectDelay: { min: 20, max: 200 },
  upgradeDelay: { min: 200, max: 1000 },
  shortPollInterval: 20,
  longPollWait: 5,
  openTimeout: 4000,
  requestTimeout: 5000,
};

/** An SDK client that records everything it is told, for assertions. */
export class Recorder {
  readonly client: Tidings;
  readonly messages: Message[] = [];
  readonly gaps: Gap[] = [];
  readonly states: StateChange[] = [];
  readonly errors: Error[] = [];

  constructor(url: string, options: TidingsOptions = {}) {
    this.client = new Tidings(url, { ...QUICK, ...options });
    this.client.on('gap', (g) => this.gaps.push(g));
    this.client.on('state', (s) => this.states.push(s));
    this.client.on('error', (e) => this.errors.push(e));
  }

  subscribe(channel: string, options: { last?: number; cursor?: string } = {}) {
    return this.client.subscribe(channel, (m) => this.messages.push(m), options);
  }

  /** The offsets received on `channel`, in arrival order. */
  offsets(channel: string): number[] {
    return this.messages.filter((m) => m.channel === channel).map((m) => m.offset);
  }

  async connected(transport?: TransportName, timeoutMs = 8000): Promise<void> {
    await waitFor(() => this.client.state === 'connected' && (transport === undefined || this.client.transport === transport), timeoutMs, `connected${transport ? ` on ${transport}` : ''} (now ${this.client.state} ${this.client.transport})`);
  }

  async received(channel: string, n: number, timeoutMs = 8000): Promise<void> {
    await waitFor(() => this.offsets(channel).length >= n, timeoutMs, `${n} messages on ${channel} (have ${this.offsets(channel).length})`);
  }

  close(): void {
    this.client.close();
  }
}
