import { backoffDelay, type BackoffOptions } from '../core/backoff.js';
import type { Drop, Transport } from './transports/transport.js';
import type { ConnectionState, StateChange, TransportName } from './types.js';

/** How the connector chooses, falls back, upgrades and reconnects. */
export interface ConnectorOptions {
  order: readonly TransportName[];
  /** A transport not established within this many ms is given up on this attempt. */
  openTimeout: number;
  reconnectDelay: BackoffOptions;
  /** Delays between background tries of a better transport while on a fallback. */
  upgradeDelay: BackoffOptions;
}

/**
 * A transport whose connection ends sooner than this after being established is flapping
 * (a proxy that cuts WebSockets after a few seconds, say); twice in a row and it is passed
 * over like one that won't open, and the background upgrade to it backs off further.
 */
export const FLAP_MS = 10_000;

export interface ConnectorEvents {
  make(name: TransportName): Transport;
  state(change: StateChange): void;
  /** A drop that reconnecting won't mend: the client closes. */
  fatal(drop: Drop): void;
  /** A new token from getToken, unless the current one is already newer than `used`. */
  refreshToken(used: string | undefined): Promise<boolean>;
  /** Before each attempt: e.g. a token about to expire is replaced first. */
  prepare(): Promise<void>;
}

/**
 * Which transport carries the client, and when to change it.
 *
 * - Tries `order` in turn: one that fails to open, or isn't established within
 *   `openTimeout` (a proxy refusing Upgrade; one buffering the event stream, so the
 *   server's first bytes never come), is passed over for the next at once.
 * - An established transport that drops is reopened after a backoff with full jitter;
 *   when the whole list has failed, the next round waits a backoff too.
 * - On a fallback, the better transports are tried in the background (with their own
 *   backoff); one that gets established from the same cursors takes over, and only then
 *   is the old one closed. Delivery dedupes by channel and offset meanwhile.
 */
export class Connector {
  /** The transport carrying the client. */
  primary: Transport | undefined;
  /** A transport being opened to become the primary (none is established). */
  private attempt: Transport | undefined;
  /** A better transport tried in the background while the primary carries on. */
  private probe: Transport | undefined;
  private probeIndex = 0;
  private openTimer: ReturnType<typeof setTimeout> | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private probeTimer: ReturnType<typeof setTimeout> | undefined;
  private reconnects = 0;
  private probes = 0;
  private tokenRetries = 0;
  private stateNow: ConnectionState = 'closed';
  private started = false;
  private stopped = false;
  private lastIndex = 0;
  private establishedAt = 0;
  private readonly flaps = new Map<TransportName, number>();

  constructor(
    private readonly opts: ConnectorOptions,
    private readonly on: ConnectorEvents,
  ) {}

  get state(): ConnectionState {
    return this.stateNow;
  }

  /** The transports alive now (each gets every subscription change). */
  live(): Transport[] {
    return [this.primary, this.attempt, this.probe].filter((t): t is Transport => t !== undefined);
  }

  /** True for the transport whose positions the client should trust. */
  leads(t: Transport): boolean {
    return t === this.primary || (this.primary === undefined && t === this.attempt);
  }

  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.setState('connecting');
    void this.tryIndex(0);
  }

  private setState(state: ConnectionState, reason?: string): void {
    this.stateNow = state;
    const change: StateChange = { state };
    if (state === 'connected' && this.primary !== undefined) change.transport = this.primary.name;
    if (reason !== undefined) change.reason = reason;
    this.on.state(change);
  }

  private async tryIndex(index: number): Promise<void> {
    if (this.stopped) return;
    this.lastIndex = index;
    await this.on.prepare();
    if (this.stopped || this.primary !== undefined || this.attempt !== undefined) return;
    const t = this.on.make(this.opts.order[index]!);
    this.attempt = t;
    this.openTimer = setTimeout(() => this.giveUp(t), this.opts.openTimeout);
    t.open();
  }

  /** Not established in time: close it and carry on as if it had failed to open. */
  private giveUp(t: Transport): void {
    t.close();
    this.closed(t, { reason: 'open_timeout', resume: true, neverOpened: true });
  }

  established(t: Transport): void {
    if (this.stopped) return;
    if (t === this.attempt) {
      clearTimeout(this.openTimer);
      this.attempt = undefined;
      this.promote(t);
    } else if (t === this.probe) {
      clearTimeout(this.openTimer);
      this.probe = undefined;
      const old = this.primary;
      this.promote(t);
      // The new transport was opened from the same cursors and is confirmed: the old
      // one has nothing left that the new one won't deliver (dedupe drops repeats).
      old?.close();
    }
  }

  private promote(t: Transport): void {
    this.primary = t;
    this.establishedAt = Date.now();
    this.tokenRetries = 0;
    this.setState('connected');
    const index = this.opts.order.indexOf(t.name);
    clearTimeout(this.probeTimer);
    if (index > 0) {
      this.probes = 0;
      this.scheduleProbe();
    }
  }

  closed(t: Transport, drop: Drop): void {
    if (this.stopped) return;
    if (t === this.probe) {
      clearTimeout(this.openTimer);
      this.probe = undefined;
      this.probeIndex++;
      if (this.probeIndex < this.opts.order.indexOf(this.primary?.name ?? this.opts.order[0]!)) this.startProbe();
      else this.scheduleProbe();
      return;
    }
    if (t === this.attempt) {
      clearTimeout(this.openTimer);
      this.attempt = undefined;
    } else if (t === this.primary) {
      this.primary = undefined;
      clearTimeout(this.probeTimer);
      clearTimeout(this.openTimer);
      this.probe?.close();
      this.probe = undefined;
      this.setState('reconnecting', drop.reason);
      const lived = Date.now() - this.establishedAt >= FLAP_MS;
      // Backoff starts over only after a connection that lasted: one the server accepts and
      // drops at once (over capacity, shutting down) must not be retried every few hundred ms.
      if (lived) this.reconnects = 0;
      const flaps = lived ? 0 : (this.flaps.get(t.name) ?? 0) + 1;
      this.flaps.set(t.name, flaps);
      if (flaps >= 2) drop = { ...drop, neverOpened: true };
    } else {
      return;
    }
    void this.recover(t, drop);
  }

  private async recover(t: Transport, drop: Drop): Promise<void> {
    const index = this.opts.order.indexOf(t.name);
    if (drop.tokenExpired) {
      if (this.tokenRetries++ < 2 && (await this.on.refreshToken(drop.tokenUsed))) {
        if (!this.stopped) void this.tryIndex(index);
        return;
      }
      // No new token to be had (no getToken, or it keeps giving refused ones): retrying the
      // same credential can only be refused again, so this ends with an error.
      drop = { ...drop, resume: false, neverOpened: false };
    }
    // A transport that never opened may be one a proxy mangles (a 404 for /v1/events, say):
    // the next is tried before any refusal is taken as final.
    if (drop.neverOpened && index + 1 < this.opts.order.length) {
      void this.tryIndex(index + 1);
      return;
    }
    if (!drop.resume) {
      this.on.fatal(drop);
      return;
    }
    // Back to the transport that worked; after a whole failed round, to the best one.
    const next = drop.neverOpened ? 0 : index;
    const delay = backoffDelay(this.reconnects++, this.opts.reconnectDelay);
    this.retryTimer = setTimeout(() => void this.tryIndex(next), delay);
  }

  private scheduleProbe(): void {
    clearTimeout(this.probeTimer);
    const { min, max } = this.opts.upgradeDelay;
    // Half fixed, half jittered: never at once after falling back, never all together.
    const ceiling = Math.min(max, min * 2 ** (this.probes++ + (this.flaps.get(this.opts.order[0]!) ?? 0)));
    this.probeTimer = setTimeout(() => {
      this.probeIndex = 0;
      this.startProbe();
    }, ceiling / 2 + backoffDelay(0, { min: ceiling / 2, max: ceiling / 2 }));
  }

  private startProbe(): void {
    if (this.stopped || this.primary === undefined || this.probe !== undefined) return;
    const t = this.on.make(this.opts.order[this.probeIndex]!);
    this.probe = t;
    this.openTimer = setTimeout(() => this.giveUp(t), this.opts.openTimeout);
    t.open();
  }

  /** The network came back or the page woke up: check the link, or reconnect now. */
  wake(): void {
    if (this.stopped || !this.started) return;
    if (this.primary !== undefined) {
      this.primary.check?.();
      return;
    }
    if (this.attempt === undefined) {
      clearTimeout(this.retryTimer);
      this.reconnects = 0;
      void this.tryIndex(this.lastIndex);
    }
  }

  stop(reason?: string): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const timer of [this.openTimer, this.retryTimer, this.probeTimer]) clearTimeout(timer);
    for (const t of this.live()) t.close();
    this.primary = this.attempt = this.probe = undefined;
    this.setState('closed', reason);
  }
}
