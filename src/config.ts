import { availableParallelism } from 'node:os';
import { parseDuration, parseSize } from './core/units.js';

/** The server's settings, validated: every field has one flag, one env var and a README row. */
export interface Config {
  host: string;
  port: number;
  historyCount: number;
  historyAgeMs: number;
  dedupeWindowMs: number;
  maxMessageBytes: number;
  maxFrameBytes: number;
  maxQueueBytes: number;
  writeGapMs: number;
  maxSubscriptions: number;
  heartbeatMs: number;
  longPollMaxWaitMs: number;
  sseRetryMs: number;
  shutdownTimeoutMs: number;
  apiKey: string | undefined;
  jwtSecret: string | undefined;
  jwksUrl: string | undefined;
  publishRateLimit: number;
  corsOrigins: string[];
  logLevel: string;
  maxConnections: number;
  maxConnectionsPerIp: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  lingeringBytes: number;
  lingeringTimeMs: number;
  listenBacklog: number;
  engine: 'memory' | 'redis';
  redisUrl: string;
  redisTimeoutMs: number;
  /** Processes serving one port (node:cluster); 1 runs the server in this process. */
  workers: number;
  web: boolean;
  demo: boolean;
}

type Kind = 'string' | 'port' | 'count' | 'duration' | 'size' | 'list' | 'secret' | 'url' | 'workers' | 'boolean';

export interface Setting {
  key: keyof Config;
  flag: string;
  env: string;
  kind: Kind;
  /** Default as written on the command line, or undefined for "not set". */
  default: string | undefined;
  description: string;
  min?: number;
  max?: number;
}

/** The one list of settings; the CLI, env parsing and the README table all come from it. */
export const SETTINGS: readonly Setting[] = [
  { key: 'host', flag: '--host', env: 'TIDINGS_HOST', kind: 'string', default: '127.0.0.1', description: 'Address to listen on (0.0.0.0 or :: for every interface).' },
  { key: 'port', flag: '--port', env: 'TIDINGS_PORT', kind: 'port', default: '8080', description: 'TCP port to listen on (0 picks a free one).' },
  { key: 'historyCount', flag: '--history-count', env: 'TIDINGS_HISTORY_COUNT', kind: 'count', default: '1000', min: 1, max: 10_000_000, description: 'Messages kept per channel.' },
  { key: 'historyAgeMs', flag: '--history-age', env: 'TIDINGS_HISTORY_AGE', kind: 'duration', default: '24h', min: 1, description: 'Age after which a message leaves the history.' },
  { key: 'dedupeWindowMs', flag: '--dedupe-window', env: 'TIDINGS_DEDUPE_WINDOW', kind: 'duration', default: '5m', min: 1, description: 'How long an Idempotency-Key is remembered per channel.' },
  { key: 'maxMessageBytes', flag: '--max-message-size', env: 'TIDINGS_MAX_MESSAGE_SIZE', kind: 'size', default: '64KiB', min: 1, description: 'Largest message (HTTP body or WebSocket publish data); larger is 413 payload_too_large.' },
  { key: 'maxFrameBytes', flag: '--max-frame-size', env: 'TIDINGS_MAX_FRAME_SIZE', kind: 'size', default: '1MiB', min: 1024, description: 'Largest incoming WebSocket frame; larger closes the connection with 1009.' },
  { key: 'maxQueueBytes', flag: '--max-queue-bytes', env: 'TIDINGS_MAX_QUEUE_BYTES', kind: 'size', default: '1MiB', min: 1024, description: 'Outgoing bytes a connection may have waiting that the client has not read; past it the client is dropped as a slow consumer and resumes by cursor.' },
  { key: 'writeGapMs', flag: '--write-gap', env: 'TIDINGS_WRITE_GAP', kind: 'duration', default: '20ms', min: 0, max: 1000, description: 'Shortest time between two writes to one SSE or WebSocket connection: messages that come sooner wait and leave together, one syscall for many (CPU per delivery about halves at 200 messages/s). A connection quiet that long is written at once, so only connections getting more than 1000/gap messages a second see up to this much added latency. 0 writes every event-loop turn (latency first, e.g. games).' },
  { key: 'maxSubscriptions', flag: '--max-subscriptions', env: 'TIDINGS_MAX_SUBSCRIPTIONS', kind: 'count', default: '100', min: 1, max: 100_000, description: 'Channels one request or connection may subscribe to.' },
  { key: 'heartbeatMs', flag: '--heartbeat', env: 'TIDINGS_HEARTBEAT', kind: 'duration', default: '15s', min: 10, description: 'SSE keep-alive comment and WebSocket ping interval; a WebSocket silent for two intervals is closed.' },
  { key: 'longPollMaxWaitMs', flag: '--long-poll-max-wait', env: 'TIDINGS_LONG_POLL_MAX_WAIT', kind: 'duration', default: '60s', min: 1000, description: 'Longest `wait=` a long poll may ask for.' },
  { key: 'sseRetryMs', flag: '--sse-retry', env: 'TIDINGS_SSE_RETRY', kind: 'duration', default: '2s', min: 0, description: 'The `retry:` an SSE stream starts with: how soon a browser reconnects.' },
  { key: 'shutdownTimeoutMs', flag: '--shutdown-timeout', env: 'TIDINGS_SHUTDOWN_TIMEOUT', kind: 'duration', default: '10s', min: 0, description: 'Longest a graceful shutdown (on SIGTERM or SIGINT, even one sent while the server is still starting) waits for connections to close before exiting; the same signal again exits at once, with 1.' },
  { key: 'apiKey', flag: '--api-key', env: 'TIDINGS_API_KEY', kind: 'secret', default: undefined, description: 'When set, HTTP publishing needs `Authorization: Bearer KEY`. Unset: open, with a warning at start.' },
  { key: 'jwtSecret', flag: '--jwt-secret', env: 'TIDINGS_JWT_SECRET', kind: 'secret', default: undefined, description: 'HS256 secret for client JWTs; their `publish` and `subscribe` claims (names or globs like `chat:*`) grant channels. Subscribing then needs a token or the API key.' },
  { key: 'jwksUrl', flag: '--jwks-url', env: 'TIDINGS_JWKS_URL', kind: 'url', default: undefined, description: 'URL of a JWKS to verify client JWTs signed with RS/PS/ES/EdDSA keys, instead of --jwt-secret.' },
  { key: 'publishRateLimit', flag: '--publish-rate-limit', env: 'TIDINGS_PUBLISH_RATE_LIMIT', kind: 'count', default: '0', min: 0, max: 1_000_000, description: 'Messages per second one client (IP address) may publish, in bursts of one second\'s worth; more is 429 rate_limited. 0 turns it off.' },
  { key: 'corsOrigins', flag: '--cors-origins', env: 'TIDINGS_CORS_ORIGINS', kind: 'list', default: '*', description: 'Browser origins allowed (comma-separated, or *): CORS on HTTP, the Origin check on WebSocket.' },
  { key: 'logLevel', flag: '--log-level', env: 'TIDINGS_LOG_LEVEL', kind: 'string', default: 'info', description: 'pino log level: fatal, error, warn, info, debug, trace or silent.' },
  { key: 'maxConnections', flag: '--max-connections', env: 'TIDINGS_MAX_CONNECTIONS', kind: 'count', default: '50000', min: 0, max: 10_000_000, description: 'Open TCP connections in all, per process (each of --workers counts its own), capped at the open-file limit (ulimit -n) less 64; past it a request is answered 503 server_full and a WebSocket closed with 1013. 0 turns it off.' },
  { key: 'maxConnectionsPerIp', flag: '--max-connections-per-ip', env: 'TIDINGS_MAX_CONNECTIONS_PER_IP', kind: 'count', default: '0', min: 0, max: 10_000_000, description: 'Open TCP connections from one client address, per process; past it 429 too_many_connections, WebSocket close 1013. 0 (default) turns it off: behind a proxy or NAT every client shares one address.' },
  { key: 'headersTimeoutMs', flag: '--headers-timeout', env: 'TIDINGS_HEADERS_TIMEOUT', kind: 'duration', default: '10s', min: 100, description: 'Time a client has to send a request\'s headers, from its first byte (or from connecting); past it 408 and the socket closes (slowloris).' },
  { key: 'requestTimeoutMs', flag: '--request-timeout', env: 'TIDINGS_REQUEST_TIMEOUT', kind: 'duration', default: '30s', min: 0, description: 'Time a client has to send a whole request, body included; past it 408. Only the request is timed: SSE streams and long polls answer as long as they need. 0 turns it off.' },
  { key: 'lingeringBytes', flag: '--lingering-bytes', env: 'TIDINGS_LINGERING_BYTES', kind: 'size', default: '4MiB', min: 0, description: 'After an early refusal (413, 401, …) the rest of the request body read and discarded, at most this much, so the client sees the answer instead of a reset.' },
  { key: 'lingeringTimeMs', flag: '--lingering-time', env: 'TIDINGS_LINGERING_TIME', kind: 'duration', default: '2s', min: 0, description: 'Longest the rest of a refused request\'s body is read and discarded before the socket is closed (like nginx lingering_time).' },
  { key: 'listenBacklog', flag: '--listen-backlog', env: 'TIDINGS_LISTEN_BACKLOG', kind: 'count', default: '511', min: 1, max: 65_535, description: 'Connections the kernel queues for the server to accept (the listen backlog; the kernel caps it at net.core.somaxconn). Raise it where many clients come back at once after a restart: at 511 the kernel dropped SYNs while 19,000 reconnected (bench/results/hardening.md).' },
  { key: 'engine', flag: '--engine', env: 'TIDINGS_ENGINE', kind: 'string', default: 'memory', description: 'Where channels live: memory (this process) or redis (shared by every node on one Redis; see Running on Redis).' },
  { key: 'redisUrl', flag: '--redis-url', env: 'TIDINGS_REDIS_URL', kind: 'url', default: 'redis://127.0.0.1:6379/0', description: 'Redis for --engine redis: redis://[user:password@]host:port/db, or rediss:// for TLS.' },
  { key: 'redisTimeoutMs', flag: '--redis-timeout', env: 'TIDINGS_REDIS_TIMEOUT', kind: 'duration', default: '1s', min: 500, max: 60_000, description: 'Longest wait for a Redis answer (at least 500ms: a publish must leave Redis time to run it); a publish Redis hasn\'t run by then is refused with 503 (and not run later).' },
  { key: 'workers', flag: '--workers', env: 'TIDINGS_WORKERS', kind: 'workers', default: '1', description: 'Processes serving the one port (node:cluster), or auto for one per core; more than 1 needs --engine redis.' },
  { key: 'web', flag: '--web', env: 'TIDINGS_WEB', kind: 'boolean', default: 'true', description: 'Serve the transport lab and sample apps at `/`; `--no-web` (or `TIDINGS_WEB=false`) turns them off for production.' },
  { key: 'demo', flag: '--demo', env: 'TIDINGS_DEMO', kind: 'boolean', default: 'false', description: 'Run the demo feed (stock ticker, deployment log, cricket score) on channels under `demo:`; `npm start` passes `--demo`, `npm start -- --no-demo` turns it off.' },
];

const ENGINES = new Set(['memory', 'redis']);
const MAX_WORKERS = 256;

/** What a boolean setting accepts, as env vars are written in the wild. */
const BOOLEANS = new Map<string, boolean>([
  ['true', true], ['1', true], ['yes', true], ['on', true],
  ['false', false], ['0', false], ['no', false], ['off', false],
]);

const LOG_LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function parseSetting(s: Setting, raw: string, source: string): unknown {
  const fail = (why: string): never => {
    throw new ConfigError(`${source}: ${why}`);
  };
  // Bounds in the unit the value is written in: durations are kept in ms, sizes in bytes.
  const unit = s.kind === 'duration' ? 'ms' : s.kind === 'size' ? ' bytes' : '';
  const bounded = (n: number): number => {
    if (!Number.isFinite(n)) fail(`"${raw}" is not a number`);
    if (s.min !== undefined && n < s.min) fail(`${raw} is below the minimum ${s.min}${unit}`);
    if (s.max !== undefined && n > s.max) fail(`${raw} is above the maximum ${s.max}${unit}`);
    return n;
  };
  try {
    switch (s.kind) {
      case 'string':
      case 'secret':
        if (raw.length === 0) fail('must not be empty');
        if (s.key === 'logLevel' && !LOG_LEVELS.has(raw)) fail(`"${raw}" is not one of ${[...LOG_LEVELS].join(', ')}`);
        if (s.key === 'engine' && !ENGINES.has(raw)) fail(`"${raw}" is not one of ${[...ENGINES].join(', ')}`);
        return raw;
      case 'port': {
        if (!/^\d+$/.test(raw) || Number(raw) > 65535) fail(`"${raw}" is not a port (0 to 65535)`);
        return Number(raw);
      }
      case 'count':
        if (!/^\d+$/.test(raw)) fail(`"${raw}" is not a whole number`);
        return bounded(Number(raw));
      case 'duration':
        return bounded(parseDuration(raw));
      case 'size':
        return bounded(parseSize(raw));
      case 'url': {
        let url: URL | undefined;
        try {
          url = new URL(raw);
        } catch {
          fail(`"${raw}" is not a URL`);
        }
        const schemes = s.key === 'redisUrl' ? ['redis:', 'rediss:'] : ['http:', 'https:'];
        if (!schemes.includes(url!.protocol)) fail(`"${raw}" must be a ${schemes.map((x) => x.slice(0, -1)).join(' or ')} URL`);
        return raw;
      }
      case 'workers': {
        if (raw === 'auto') return availableParallelism();
        if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > MAX_WORKERS) fail(`"${raw}" is not auto or a whole number from 1 to ${MAX_WORKERS}`);
        return Number(raw);
      }
      case 'boolean': {
        const value = BOOLEANS.get(raw.toLowerCase());
        if (value === undefined) fail(`"${raw}" is not a boolean: use true or false`);
        return value;
      }
      case 'list': {
        const items = raw.split(',').map((x) => x.trim()).filter((x) => x.length > 0);
        if (items.length === 0) fail('must name at least one item');
        return items;
      }
    }
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    fail((err as Error).message);
  }
}

/**
 * Builds a Config from flag values (already strings, as the CLI hands them over), then the
 * environment, then defaults. A bad value throws a ConfigError naming the flag or env var.
 */
export function loadConfig(flags: Partial<Record<keyof Config, string>>, env: NodeJS.ProcessEnv = process.env): Config {
  const config: Record<string, unknown> = {};
  for (const s of SETTINGS) {
    const fromFlag = flags[s.key];
    const fromEnv = env[s.env];
    if (fromFlag !== undefined) config[s.key] = parseSetting(s, fromFlag, s.flag);
    else if (fromEnv !== undefined && fromEnv !== '') config[s.key] = parseSetting(s, fromEnv, s.env);
    else config[s.key] = s.default === undefined ? undefined : parseSetting(s, s.default, `default of ${s.flag}`);
  }
  if (config.jwtSecret !== undefined && config.jwksUrl !== undefined) {
    throw new ConfigError('--jwt-secret and --jwks-url: give one of them, not both');
  }
  const headersMs = config.headersTimeoutMs as number;
  const requestMs = config.requestTimeoutMs as number;
  if (requestMs > 0 && headersMs > requestMs) {
    throw new ConfigError(`--headers-timeout: ${headersMs} ms is longer than --request-timeout (${requestMs} ms); the headers are part of the request`);
  }
  if (config.engine === 'memory' && (config.workers as number) > 1) {
    throw new ConfigError(`--workers ${String(config.workers)} needs --engine redis: with the memory engine each process would have channels of its own`);
  }
  return config as unknown as Config;
}

/** Defaults with overrides, for embedding and tests: `configWith({ port: 0 })`. */
export function configWith(overrides: Partial<Config> = {}): Config {
  return { ...loadConfig({}, {}), ...overrides };
}
