import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export const TRANSPORTS = ['short_poll', 'long_poll', 'sse', 'ws'] as const;
export type Transport = (typeof TRANSPORTS)[number];

type PerTransport = Record<Transport, number>;

/**
 * How often the event-loop lag is sampled (prom-client's default is every 10 ms). Each
 * sample is a timer that wakes the process: at 10 ms, an idle server with no connection
 * spent 5–7 ms of CPU a second (0.5–0.7 % of a core, on the bench's box) waking up 100
 * times a second; at 100 ms, 0.2. A stall longer than 100 ms still always shows in the
 * lag's maximum and percentiles; a shorter one shows with odds of its length over 100 ms.
 */
const EVENT_LOOP_SAMPLE_MS = 100;

const zero = (): PerTransport => ({ short_poll: 0, long_poll: 0, sse: 0, ws: 0 });

/**
 * Counters live as plain numbers on the hot path (one add per delivery) and are read into
 * prom-client only when /metrics is scraped, so a delivery never pays for label lookups.
 */
export class Metrics {
  readonly registry = new Registry();
  /** Open connections (SSE, WebSocket) and requests in flight (polls). */
  readonly connections: PerTransport = zero();
  readonly deliveries: PerTransport = zero();
  readonly slowConsumersDropped: PerTransport = zero();
  published = 0;
  longPollsParked = 0;
  /** Sockets refused by --max-connections (server_full) and --max-connections-per-ip (too_many_connections). */
  readonly connectionsRefused = { server_full: 0, too_many_connections: 0 };

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'tidings_process_', eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
    // prom-client calls collect() with `this` bound to the metric, so keep ours by name.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    const reported = { deliveries: zero(), slow: zero(), published: 0 };
    new Gauge({
      name: 'tidings_connections',
      help: 'Open subscriber connections (SSE, WebSocket) and poll requests in flight, per transport.',
      labelNames: ['transport'],
      registers: [this.registry],
      collect() {
        for (const t of TRANSPORTS) this.set({ transport: t }, self.connections[t]);
      },
    });
    new Counter({
      name: 'tidings_messages_published_total',
      help: 'Messages appended to a channel.',
      registers: [this.registry],
      collect() {
        this.inc(self.published - reported.published);
        reported.published = self.published;
      },
    });
    new Counter({
      name: 'tidings_deliveries_total',
      help: 'Messages handed to a subscriber, per transport.',
      labelNames: ['transport'],
      registers: [this.registry],
      collect() {
        for (const t of TRANSPORTS) {
          this.inc({ transport: t }, self.deliveries[t] - reported.deliveries[t]);
          reported.deliveries[t] = self.deliveries[t];
        }
      },
    });
    new Counter({
      name: 'tidings_slow_consumers_dropped_total',
      help: 'Connections closed because their outgoing queue passed --max-queue-bytes.',
      labelNames: ['transport'],
      registers: [this.registry],
      collect() {
        for (const t of TRANSPORTS) {
          this.inc({ transport: t }, self.slowConsumersDropped[t] - reported.slow[t]);
          reported.slow[t] = self.slowConsumersDropped[t];
        }
      },
    });
    const reportedRefused = { server_full: 0, too_many_connections: 0 };
    new Counter({
      name: 'tidings_connections_refused_total',
      help: 'Connections refused by a connection limit, per reason (server_full: --max-connections, too_many_connections: --max-connections-per-ip).',
      labelNames: ['reason'],
      registers: [this.registry],
      collect() {
        for (const reason of ['server_full', 'too_many_connections'] as const) {
          this.inc({ reason }, self.connectionsRefused[reason] - reportedRefused[reason]);
          reportedRefused[reason] = self.connectionsRefused[reason];
        }
      },
    });
    new Gauge({
      name: 'tidings_long_polls_parked',
      help: 'Long polls held open, waiting for a message or their deadline.',
      registers: [this.registry],
      collect() {
        this.set(self.longPollsParked);
      },
    });
  }
}
