import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { pino, type Logger } from 'pino';
import { Access } from './auth/access.js';
import { ApiKeyGuard } from './auth/api-key.js';
import { JwtVerifier } from './auth/jwt.js';
import { PublishRateLimit } from './auth/rate-limit.js';
import type { Config } from './config.js';
import { CoarseTimer } from './core/coarse-timer.js';
import { TidingsError } from './core/errors.js';
import type { Engine } from './engines/engine.js';
import { MemoryEngine } from './engines/memory.js';
import { ConnectionTracker } from './http/connections.js';
import { OriginPolicy } from './http/cors.js';
import { sendJson, sendProblem } from './http/respond.js';
import { Hub } from './hub/hub.js';
import { Metrics } from './metrics.js';
import type { ServerContext } from './transports/context.js';
import { HttpApi } from './transports/http-api.js';
import { Poll } from './transports/poll.js';
import { Sse } from './transports/sse.js';
import { FlushScheduler } from './transports/outbox.js';
import { Ws } from './transports/ws.js';

export interface TidingsOptions {
  /** Defaults to a MemoryEngine with the config's history limits. */
  engine?: Engine;
  logger?: Logger;
}

/** `/v1/channels/{ch}` and `/v1/channels/{ch}/messages`; the name may hold `/`, so the suffix decides. */
const CHANNEL_PATH = /^\/v1\/channels\/(.*?)(\/messages)?$/;

/**
 * The request target as a URL, or undefined when it is not one. `new URL('//', base)` reads
 * "//…" as a host and throws, so an origin-form target is appended to the base instead;
 * anything else (absolute-form junk) may still throw, and must not escape a handler.
 */
function requestUrl(target: string | undefined): URL | undefined {
  const raw = target ?? '/';
  try {
    return raw.startsWith('/') ? new URL(`http://x${raw}`) : new URL(raw, 'http://x');
  } catch {
    return undefined;
  }
}

/**
 * The wiring: config → engine → hub → transports → one node:http server. node:http is
 * used directly because every transport here is a long-lived or streaming response that a
 * framework's request/response abstraction would only get in the way of.
 */
export class TidingsServer {
  readonly http: Server;
  readonly ctx: ServerContext;
  private readonly api: HttpApi;
  private readonly poll: Poll;
  private readonly sse: Sse;
  private readonly ws: Ws;
  private readonly connections: ConnectionTracker;
  private draining = false;

  constructor(readonly config: Config, options: TidingsOptions = {}) {
    const logger = options.logger ?? pino({ level: config.logLevel, name: 'tidings' });
    const engine =
      options.engine ??
      new MemoryEngine({ maxCount: config.historyCount, maxAgeMs: config.historyAgeMs, dedupeWindowMs: config.dedupeWindowMs });
    this.ctx = {
      config,
      engine,
      hub: new Hub(engine),
      metrics: new Metrics(),
      logger,
      timer: new CoarseTimer(100),
      flush: new FlushScheduler(),
      access: new Access(
        new ApiKeyGuard(config.apiKey),
        config.jwtSecret !== undefined || config.jwksUrl !== undefined
          ? new JwtVerifier({ secret: config.jwtSecret, jwksUrl: config.jwksUrl })
          : undefined,
      ),
      rateLimit: new PublishRateLimit(config.publishRateLimit),
      origins: new OriginPolicy(config.corsOrigins),
      isDraining: () => this.draining,
    };
    this.api = new HttpApi(this.ctx);
    this.poll = new Poll(this.ctx);
    this.sse = new Sse(this.ctx);
    this.ws = new Ws(this.ctx);
    this.http = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
      this.connections.track(res);
      void this.route(req, res);
    });
    this.connections = new ConnectionTracker(this.http);
    this.http.on('upgrade', (req, socket, head) => this.upgrade(req, socket, head));
    this.http.on('clientError', (err, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else socket.destroy(err);
    });
  }

  async listen(): Promise<AddressInfo> {
    const { host, port } = this.config;
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, host, () => {
        this.http.off('error', reject);
        resolve();
      });
    });
    const address = this.http.address() as AddressInfo;
    this.ctx.logger.info({ host: address.address, port: address.port, engine: this.ctx.engine.name }, 'tidings listening');
    if (this.ctx.access.open) {
      this.ctx.logger.warn('NO AUTH CONFIGURED: anyone who can reach this server can publish and subscribe. Set --api-key (and --jwt-secret or --jwks-url) for anything but development.');
    }
    return address;
  }

  /** `http://host:port` of the listening server. */
  get url(): string {
    const a = this.http.address() as AddressInfo;
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    return `http://${host}:${a.port}`;
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = requestUrl(req.url);
      if (url === undefined) throw new TidingsError('not_found', 'The request target is not a valid URL path.');
      if (this.ctx.origins.apply(req, res) === 'preflight-answered') return;
      const path = url.pathname;
      const method = req.method ?? 'GET';
      const allow = (methods: string[]) => {
        if (methods.includes(method) || (method === 'HEAD' && methods.includes('GET'))) return;
        throw new TidingsError('method_not_allowed', `${method} is not allowed on ${path}; use ${methods.join(' or ')}.`, { allow: methods.join(', ') });
      };

      if (path === '/v1/poll') {
        allow(['GET']);
        return await this.poll.handle(req, res, url.searchParams);
      }
      if (path === '/v1/events') {
        allow(['GET']);
        return await this.sse.handle(req, res, url.searchParams);
      }
      if (path === '/v1/publish') {
        allow(['POST']);
        return await this.api.publishBatch(req, res, url.searchParams);
      }
      const channelPath = CHANNEL_PATH.exec(path);
      if (channelPath !== null) {
        const channel = decodeURIComponent(channelPath[1]!);
        if (channelPath[2] !== undefined) {
          allow(['GET', 'POST']);
          if (method === 'POST') return await this.api.publish(req, res, channel, url.searchParams);
          return await this.api.history(req, res, channel, url.searchParams);
        }
        allow(['GET']);
        return await this.api.info(req, res, channel, url.searchParams);
      }
      if (path === '/healthz') {
        allow(['GET']);
        if (this.draining) return sendJson(res, 503, { status: 'draining' });
        return sendJson(res, 200, { status: 'ok' });
      }
      if (path === '/metrics') {
        allow(['GET']);
        const text = await this.ctx.metrics.registry.metrics();
        res.writeHead(200, { 'content-type': this.ctx.metrics.registry.contentType });
        res.end(text);
        return;
      }
      if (path === '/v1/ws') throw new TidingsError('invalid_parameter', '/v1/ws takes a WebSocket upgrade (Upgrade: websocket).');
      throw new TidingsError('not_found', `No endpoint at ${path}.`);
    } catch (err) {
      if (err instanceof URIError) return sendProblem(res, new TidingsError('invalid_channel', 'The channel name is not valid percent-encoding.'));
      if (!(err instanceof TidingsError)) this.ctx.logger.error({ err, url: req.url }, 'request handler failed');
      sendProblem(res, err);
    }
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const url = requestUrl(req.url);
    if (url === undefined || url.pathname !== '/v1/ws' || (req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    void this.ws.handleUpgrade(req, socket, head, url.searchParams);
  }

  /**
   * Graceful shutdown: /healthz turns 503 and new subscriptions are refused, parked long
   * polls answer with their cursor, SSE and WebSocket clients are told why and closed, then
   * the listener closes. Connections still open after the timeout are cut.
   */
  async close(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    const { logger, config } = this.ctx;
    logger.info({ sse: this.sse.size, ws: this.ws.size, longPolls: this.poll.parked }, 'shutting down');
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, config.shutdownTimeoutMs).unref());
    this.poll.drain();
    this.ws.closeAll('shutdown');
    // http.close() cuts idle keep-alive sockets at once, so the SSE goodbyes go out first.
    await Promise.race([this.sse.closeAll('shutdown'), timeout]);
    const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    // Answers just written (long polls) leave keep-alive sockets that turn idle only once
    // flushed; sweep idle ones until the listener has closed or time is up.
    this.connections.closeIdle();
    const sweep = setInterval(() => this.connections.closeIdle(), 50);
    await Promise.race([closed, timeout]);
    clearInterval(sweep);
    this.http.closeAllConnections();
    this.ctx.timer.stop();
    this.ctx.rateLimit.stop();
    await this.ctx.engine.close();
    logger.info('stopped');
  }
}

/** Creates and starts a server: `const s = await startServer(configWith({ port: 0 }))`. */
export async function startServer(config: Config, options: TidingsOptions = {}): Promise<TidingsServer> {
  const server = new TidingsServer(config, options);
  await server.listen();
  return server;
}
