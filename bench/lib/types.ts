/** Types shared by the runner, the load generator and the report. */

/** How a subscriber receives: the four Tidings techniques, plus Socket.IO's own protocol. */
export type Transport = 'short-poll' | 'long-poll' | 'sse' | 'ws' | 'socketio';

/** What runs as the server under test: Tidings, or one of the peers in bench/peers/. */
export type SystemName = 'tidings' | 'ws-bare' | 'sse-bare' | 'socketio' | 'nchan';

/** The server the load generator drives. */
export interface Target {
  system: SystemName;
  transport: Transport;
  /** `http://127.0.0.1:PORT` */
  url: string;
  channel: string;
  /** The server's process id, for CPU and RSS from /proc; absent against a remote `--target`. */
  pid: number | undefined;
  /** The server's inspector WebSocket, when started with --inspect (idle runs: a GC before reading RSS). */
  inspector?: string;
}

export interface ConnectCmd {
  cmd: 'connect';
  target: Target;
  subscribers: number;
  /** Short poll: one request per this many ms per client. */
  pollIntervalMs: number;
  /** Long poll: `wait=` in seconds. */
  longPollWaitS: number;
}

export interface RunCmd {
  cmd: 'run';
  /** Publish this many messages (with `rate`), or publish for `durationMs` flat out. */
  messages: number | undefined;
  /** Messages per second; undefined publishes flat out. */
  rate: number | undefined;
  durationMs: number | undefined;
  /** Flat out: most messages the publisher may be ahead of the slowest subscriber. */
  window: number;
  drainTimeoutMs: number;
}

export interface IdleCmd {
  cmd: 'idle';
  target: Target;
  /** Connections measured. */
  connections: number;
  /** Connections opened before the baseline RSS, so that warm-up is not charged to them. */
  warm: number;
  settleMs: number;
}

export type GenCommand = ConnectCmd | RunCmd | IdleCmd | { cmd: 'exit' };

export interface Progress {
  ev: 'progress';
  phase: 'connect' | 'publish' | 'drain' | 'idle';
  connected: number;
  published: number;
  delivered: number;
  expected: number;
}

export interface ConnectResult {
  ev: 'connected';
  connected: number;
  failed: number;
  ms: number;
  /** Server RSS once every subscriber is connected. */
  rssBytes: number | undefined;
}

export interface Latency {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** What one run measured; every figure is over the measured window (first publish to last delivery). */
export interface RunStats {
  ev: 'done';
  subscribers: number;
  published: number;
  expected: number;
  delivered: number;
  lost: number;
  /**
   * How the wait for the last deliveries ended: every message delivered, deliveries
   * stopped for 3 s (what is missing is lost), or the drain time ran out while deliveries
   * were still arriving (the server lags; what is missing was still on its way).
   */
  drain?: 'complete' | 'stalled' | 'timed-out';
  duplicates: number;
  outOfOrder: number;
  /** Subscribers whose connection closed or failed before the end. */
  dropped: number;
  gaps: number;
  /** Publish → receive, milliseconds. */
  latencyMs: Latency;
  windowMs: number;
  deliveriesPerSec: number;
  /** Socket bytes read and written by the subscribers in the window, headers and framing included. */
  wireBytes: number;
  bytesPerDelivery: number;
  httpRequests: number;
  requestsPerDelivery: number;
  emptyAnswers: number;
  serverCpuSec: number | undefined;
  /**
   * The share of that CPU spent in the kernel (system time): syscalls, and on loopback the
   * TCP work of both ends of each segment the server sends, the receiving socket's included.
   */
  serverKernelShare?: number;
  cpuUsPerDelivery: number | undefined;
  serverRssBytes: number | undefined;
  /**
   * The load generator's own CPU over the same window, as a share of its one core. Near 1,
   * the client sets the pace: a poller comes back when the generator gets to it, so
   * requests per delivery say as much about the client as about the server.
   */
  generatorBusy?: number;
  /** Rate-paced runs: publishes answered per second, from the first sent to the last answered. */
  publishesPerSec?: number;
}

export interface IdleResult {
  ev: 'idle-done';
  connections: number;
  rssBeforeBytes: number | undefined;
  rssAfterBytes: number | undefined;
  bytesPerConnection: number | undefined;
}

export type GenEvent = Progress | ConnectResult | RunStats | IdleResult | { ev: 'error'; message: string };
