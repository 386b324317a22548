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
}

type Kind = 'string' | 'port' | 'count' | 'duration' | 'size' | 'list' | 'secret' | 'url';

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
  { key: 'maxQueueBytes', flag: '--max-queue-bytes', env: 'TIDINGS_MAX_QUEUE_BYTES', kind: 'size', default: '1MiB', min: 1024, description: 'Outgoing bytes a connection may have waiting; past it the client is dropped as a slow consumer and resumes by cursor.' },
  { key: 'maxSubscriptions', flag: '--max-subscriptions', env: 'TIDINGS_MAX_SUBSCRIPTIONS', kind: 'count', default: '100', min: 1, max: 100_000, description: 'Channels one request or connection may subscribe to.' },
  { key: 'heartbeatMs', flag: '--heartbeat', env: 'TIDINGS_HEARTBEAT', kind: 'duration', default: '15s', min: 10, description: 'SSE keep-alive comment and WebSocket ping interval; a WebSocket silent for two intervals is closed.' },
  { key: 'longPollMaxWaitMs', flag: '--long-poll-max-wait', env: 'TIDINGS_LONG_POLL_MAX_WAIT', kind: 'duration', default: '60s', min: 1000, description: 'Longest `wait=` a long poll may ask for.' },
  { key: 'sseRetryMs', flag: '--sse-retry', env: 'TIDINGS_SSE_RETRY', kind: 'duration', default: '2s', min: 0, description: 'The `retry:` an SSE stream starts with: how soon a browser reconnects.' },
  { key: 'shutdownTimeoutMs', flag: '--shutdown-timeout', env: 'TIDINGS_SHUTDOWN_TIMEOUT', kind: 'duration', default: '10s', min: 0, description: 'Longest a graceful shutdown waits for connections to close before exiting.' },
  { key: 'apiKey', flag: '--api-key', env: 'TIDINGS_API_KEY', kind: 'secret', default: undefined, description: 'When set, HTTP publishing needs `Authorization: Bearer KEY`. Unset: open, with a warning at start.' },
  { key: 'jwtSecret', flag: '--jwt-secret', env: 'TIDINGS_JWT_SECRET', kind: 'secret', default: undefined, description: 'HS256 secret for client JWTs; their `publish` and `subscribe` claims (names or globs like `chat:*`) grant channels. Subscribing then needs a token or the API key.' },
  { key: 'jwksUrl', flag: '--jwks-url', env: 'TIDINGS_JWKS_URL', kind: 'url', default: undefined, description: 'URL of a JWKS to verify client JWTs signed with RS/PS/ES/EdDSA keys, instead of --jwt-secret.' },
  { key: 'publishRateLimit', flag: '--publish-rate-limit', env: 'TIDINGS_PUBLISH_RATE_LIMIT', kind: 'count', default: '0', min: 0, max: 1_000_000, description: 'Messages per second one client (IP address) may publish, in bursts of one second\'s worth; more is 429 rate_limited. 0 turns it off.' },
  { key: 'corsOrigins', flag: '--cors-origins', env: 'TIDINGS_CORS_ORIGINS', kind: 'list', default: '*', description: 'Browser origins allowed (comma-separated, or *): CORS on HTTP, the Origin check on WebSocket.' },
  { key: 'logLevel', flag: '--log-level', env: 'TIDINGS_LOG_LEVEL', kind: 'string', default: 'info', description: 'pino log level: fatal, error, warn, info, debug, trace or silent.' },
];

const LOG_LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function parseSetting(s: Setting, raw: string, source: string): unknown {
  const fail = (why: string): never => {
    throw new ConfigError(`${source}: ${why}`);
  };
  const bounded = (n: number): number => {
    if (!Number.isFinite(n)) fail(`"${raw}" is not a number`);
    if (s.min !== undefined && n < s.min) fail(`${raw} is below the minimum ${s.min}`);
    if (s.max !== undefined && n > s.max) fail(`${raw} is above the maximum ${s.max}`);
    return n;
  };
  try {
    switch (s.kind) {
      case 'string':
      case 'secret':
        if (raw.length === 0) fail('must not be empty');
        if (s.key === 'logLevel' && !LOG_LEVELS.has(raw)) fail(`"${raw}" is not one of ${[...LOG_LEVELS].join(', ')}`);
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
        if (url!.protocol !== 'http:' && url!.protocol !== 'https:') fail(`"${raw}" must be an http or https URL`);
        return raw;
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
  return config as unknown as Config;
}

/** Defaults with overrides, for embedding and tests: `configWith({ port: 0 })`. */
export function configWith(overrides: Partial<Config> = {}): Config {
  return { ...loadConfig({}, {}), ...overrides };
}
