import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { createLogger } from './logger.js';
import { Access } from './auth/access.js';
import { ApiKeyGuard } from './auth/api-key.js';
import { JwtVerifier } from './auth/jwt.js';
import { PublishRateLimit } from './auth/rate-limit.js';
import type { Config } from './config.js';
import { CoarseTimer } from './core/coarse-timer.js';
import { DemoFeed } from './demo/demo-feed.js';
import { TidingsError } from './core/errors.js';
import type { Engine } from './engines/engine.js';
import { createEngine, historyLimits } from './engines/create.js';
import { MemoryEngine } from './engines/memory.js';
import { ConnectionLimits, cappedByOpenFiles, openFileLimit } from './http/connection-limits.js';
import { OpenConnections } from './http/connections.js';
import { OriginPolicy } from './http/cors.js';
import { lingerAfterRefusal } from './http/linger.js';
import { refuseSocket } from './http/raw-refusal.js';
import { requestTarget } from './http/request-target.js';
import { sendJson, sendProblem } from './http/respond.js';
import { PUBLIC_DIR, StaticFiles } from './http/static-files.js';
import { webAsset } from './http/web-pages.js';
import { Hub } from './hub/hub.js';
import { Metrics } from './metrics.js';
import type { ServerContext } from './transports/context.js';
import { HttpApi } from './transports/http-api.js';
import { Poll } from './transports/poll.js';
import { Sse } from './transports/sse.js';
import { FlushScheduler } from './transports/outbox.js';
import type { Transport } from './transports/push.js';
import { Ws } from './transports/ws.js';

export interface TidingsOptions {
  /** Defaults to a MemoryEngine with the config's history limits (startServer: the engine `config.engine` names). */
  engine?: Engine;
  logger?: Logger;
}

/** `/v1/channels/{ch}` and `/v1/channels/{ch}/messages`; the name may hold `/`, so the suffix decides. */
const CHANNEL_PATH = /^\/v1\/channels\/(.*?)(\/messages)?$/;

/** RFC 9112 § 3.2: an HTTP/1.1 request without Host is refused with 400. */
function missingHost(req: IncomingMessage): TidingsError | undefined {
  if (req.httpVersionMajor === 1 && req.httpVersionMinor >= 1 && req.headers.host === undefined) {
    return new TidingsError('invalid_request', 'An HTTP/1.1 request needs a Host header (RFC 9112 § 3.2).');
  }
  return undefined;
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
  /** Every open TCP socket: the connection limits count here, a shutdown closes from here. */
  private readonly connections: OpenConnections;
  /** `--demo`: keeps the sample apps' `demo:` channels moving. */
  readonly demo: DemoFeed | undefined;
  private readonly files = new StaticFiles();
  /** The pages' names carry no hash: a browser revalidates each use (a 304 by ETag), so a rebuild shows at once. */
  private readonly pages = new StaticFiles(PUBLIC_DIR, 'no-cache');
  private readonly limits: ConnectionLimits;
  /** Kept here for its name, health and close only: everything else reaches it through the hub. */
  private readonly engine: Engine;
  private draining = false;

  constructor(readonly config: Config, options: TidingsOptions = {}) {
    const logger = options.logger ?? createLogger(config.logLevel);
    if (options.engine === undefined && config.engine !== 'memory') {
      throw new Error(`config.engine is ${config.engine}: use startServer(), which connects it, or pass options.engine`);
    }
    const engine = (this.engine =
      options.engine ??
      new MemoryEngine(historyLimits(config)));
    const metrics = new Metrics();
    this.ctx = {
      config,
      hub: new Hub(engine, metrics),
      metrics,
      logger,
      timer: new CoarseTimer(100),
      flush: new FlushScheduler(config.writeGapMs),
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
    this.demo = config.demo
      ? new DemoFeed({
          // The same publish as POST /v1/channels/…/messages, counted in the same place.
          publish: (batch) => this.ctx.hub.publish(batch),
          logger,
        })
      : undefined;
    this.http = createServer(
      {
        keepAliveTimeout: 65_000,
        // node's own refusal of a Host-less HTTP/1.1 request is a bare 400; missingHost() answers it as a problem.
        requireHostHeader: false,
        // Slowloris: a client gets this long for its headers, and for its whole request.
        // Only receiving the request is timed; the answer (an SSE stream, a long poll) is not.
        headersTimeout: config.headersTimeoutMs,
        requestTimeout: config.requestTimeoutMs,
        // Node checks those deadlines on an interval (30 s by default, which would stretch a
        // 10 s headers timeout to 40 s): a quarter of the shorter one, within 50 ms to 1 s.
        connectionsCheckingInterval: Math.min(1000, Math.max(50, Math.floor(Math.min(config.headersTimeoutMs, config.requestTimeoutMs || Infinity) / 4))),
      },
      (req, res) => {
        this.connections.track(res);
        const refusal = this.connections.refusalOf(req.socket) ?? missingHost(req);
        if (refusal !== undefined) {
          res.shouldKeepAlive = false;
          return sendProblem(res, refusal);
        }
        void this.route(req, res);
      },
    );
    this.limits = new ConnectionLimits(cappedByOpenFiles(config.maxConnections, openFileLimit()), config.maxConnectionsPerIp, this.ctx.metrics);
    this.connections = new OpenConnections(this.http, this.limits);
    this.http.on('upgrade', (req, socket, head) => this.upgrade(req, socket, head));
    this.http.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
      // The peer is gone already: there is no one to answer. Nor may we once an answer is
      // under way on this socket (an SSE stream, say): node's own rule for its bare 400.
      const answering = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
      if (err.code === 'ECONNRESET' || answering) return socket.destroy();
      refuseSocket(socket, clientErrorProblem(err));
    });
  }

  async listen(): Promise<AddressInfo> {
    const { host, port, listenBacklog: backlog } = this.config;
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen({ port, host, backlog }, () => {
        this.http.off('error', reject);
        resolve();
      });
    });
    const address = this.http.address() as AddressInfo;
    this.ctx.logger.info({ host: address.address, port: address.port, engine: this.engine.name }, 'tidings listening');
    if (this.config.web) this.ctx.logger.info({ url: `${this.url}/` }, 'transport lab and sample apps');
    this.demo?.start();
    if (this.demo !== undefined) this.ctx.logger.info({ channels: this.demo.streams.map((s) => s.channel) }, 'demo feed running');
    if (this.ctx.access.open) {
      this.ctx.logger.warn('NO AUTH CONFIGURED: anyone who can reach this server can publish and subscribe. Set --api-key (and --jwt-secret or --jwks-url) for anything but development.');
    }
    if (this.limits.maxTotal < this.config.maxConnections) {
      this.ctx.logger.info(
        { maxConnections: this.limits.maxTotal, openFileLimit: openFileLimit() },
        `--max-connections ${this.config.maxConnections} capped to ${this.limits.maxTotal} by this process's open-file limit (raise ulimit -n for more)`,
      );
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
      const url = requestTarget(req.url);
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
        const reason = this.engine.unavailable();
        if (reason !== undefined) return sendJson(res, 503, { status: 'unavailable', reason });
        return sendJson(res, 200, { status: 'ok' });
      }
      if (path === '/metrics') {
        allow(['GET']);
        const text = await this.ctx.metrics.registry.metrics();
        res.writeHead(200, { 'content-type': this.ctx.metrics.registry.contentType });
        res.end(text);
        return;
      }
      // The browser SDK, bundled by scripts/bundle.mjs: import { Tidings } from '/client.js'.
      if (path === '/client.js') {
        allow(['GET']);
        return await this.files.serve(req, res, 'client.js');
      }
      // --web: the transport lab at / and the sample apps (web/, built into dist/public).
      const page = this.config.web ? webAsset(path) : undefined;
      if (page !== undefined) {
        allow(['GET']);
        return await this.pages.serve(req, res, page);
      }
      if (path === '/v1/ws') throw new TidingsError('invalid_parameter', '/v1/ws takes a WebSocket upgrade (Upgrade: websocket).');
      throw new TidingsError('not_found', `No endpoint at ${path}.`);
    } catch (err) {
      if (err instanceof URIError) sendProblem(res, new TidingsError('invalid_channel', 'The channel name is not valid percent-encoding.'));
      else {
        if (!(err instanceof TidingsError)) this.ctx.logger.error({ err, url: req.url }, 'request handler failed');
        sendProblem(res, err);
      }
      // Refused before its body was read (413 on Content-Length, 401, 415…): let the client
      // finish sending, within bounds, so it reads this answer instead of a reset.
      lingerAfterRefusal(req, this.ctx.timer, this.config.lingeringBytes, this.config.lingeringTimeMs);
    }
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const noHost = missingHost(req);
    if (noHost !== undefined) return refuseSocket(socket, noHost);
    const url = requestTarget(req.url);
    if (url === undefined || url.pathname !== '/v1/ws') {
      return refuseSocket(socket, new TidingsError('not_found', `No WebSocket endpoint at ${url?.pathname ?? 'this target'}; use /v1/ws.`));
    }
    if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
      return refuseSocket(socket, new TidingsError('invalid_parameter', '/v1/ws upgrades only to websocket (Upgrade: websocket).'));
    }
    const refusal = this.connections.refusalOf(req.socket);
    if (refusal !== undefined) return this.ws.refuseOverCapacity(req, socket, head, refusal);
    void this.ws.handleUpgrade(req, socket, head, url.searchParams);
  }

  /**
   * Graceful shutdown: /healthz turns 503 and new subscriptions are refused, parked long
   * polls answer with their cursor, SSE and WebSocket clients are told why and closed, then
   * the listener closes. A WebSocket that doesn't answer its close frame is cut after a
   * short grace (ws-close.ts); connections still open after the timeout are cut.
   */
  async close(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    const { logger, config } = this.ctx;
    const transports: Transport[] = [this.poll, this.sse, this.ws];
    logger.info(Object.fromEntries(transports.map((t) => [t.name, t.size])), 'shutting down');
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, config.shutdownTimeoutMs).unref());
    this.demo?.stop();
    // http.close() cuts idle keep-alive sockets at once, so every goodbye goes out first.
    await Promise.race([Promise.all(transports.map((t) => t.closeAll('shutdown'))), timeout]);
    const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    // Answers just written (long polls) leave keep-alive sockets that turn idle only once
    // flushed; sweep idle ones until the listener has closed or time is up.
    this.connections.closeIdle();
    const sweep = setInterval(() => this.connections.closeIdle(), 50);
    await Promise.race([closed, timeout]);
    clearInterval(sweep);
    this.http.closeAllConnections();
    // Upgraded sockets are not node's to close: a WebSocket still waiting for a slow
    // consumer to read up to its close frame is cut here.
    this.connections.closeUpgraded();
    this.ctx.timer.stop();
    this.ctx.rateLimit.stop();
    await this.engine.close();
    logger.info('stopped');
  }
}

/** The answer to a request node's HTTP parser refused, by node's own error codes. */
function clientErrorProblem(err: NodeJS.ErrnoException): TidingsError {
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return new TidingsError('request_timeout', 'The request did not arrive within the time allowed (--headers-timeout, --request-timeout).');
  if (err.code === 'HPE_HEADER_OVERFLOW') return new TidingsError('headers_too_large', 'The request headers are larger than the server accepts (16 KiB).');
  return new TidingsError('invalid_request', 'The request is not valid HTTP/1.1.');
}

/** The server could not start; the message is one line for a person. */
export class StartError extends Error {
  override name = 'StartError';
}

/** Creates and starts a server: `const s = await startServer(configWith({ port: 0 }))`. */
export async function startServer(config: Config, options: TidingsOptions = {}): Promise<TidingsServer> {
  const logger = options.logger ?? createLogger(config.logLevel);
  // ioredis reports every failed reconnect; one line per few seconds says enough.
  let quietUntil = 0;
  const onEngineError = (err: unknown) => {
    if (Date.now() < quietUntil) return;
    quietUntil = Date.now() + 5000;
    logger.warn({ err }, 'engine connection error');
  };
  let engine = options.engine;
  try {
    engine ??= await createEngine(config, onEngineError);
  } catch (err) {
    throw new StartError(`cannot start the ${config.engine} engine: ${(err as Error).message}`);
  }
  let server: TidingsServer;
  try {
    server = new TidingsServer(config, { ...options, engine, logger });
  } catch (err) {
    // An engine made here (a Redis connection) must not outlive a server that never was.
    if (options.engine === undefined) await engine.close();
    throw err;
  }
  try {
    await server.listen();
  } catch (err) {
    if (options.engine === undefined) await engine.close();
    throw new StartError(`cannot listen on ${config.host}:${config.port}: ${(err as Error).message}`);
  }
  return server;
}
