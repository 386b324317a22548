import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Grants } from '../auth/access.js';
import { bearerToken } from '../auth/api-key.js';
import { CLOSE_REASONS } from '../core/close-reasons.js';
import { parseEnvelopeForm, type EnvelopeForm } from '../core/compact-envelope.js';
import { TidingsError, asTidingsError, toProblem } from '../core/errors.js';
import { refuseSocket } from '../http/raw-refusal.js';
import { parseSubscribeQuery, type ChannelStart } from '../http/subscribe-params.js';
import { admitSubscriber } from './admission.js';
import type { ServerContext } from './context.js';
import { PushTransport } from './push.js';
import { closeWithGrace } from './ws-close.js';
import { WsClient } from './ws-client.js';

/** A header token list (RFC 9110 § 5.6.2), as `Sec-WebSocket-Protocol` must be. */
const TOKEN_LIST = /^\s*[!#$%&'*+.^_`|~0-9A-Za-z-]+(\s*,\s*[!#$%&'*+.^_`|~0-9A-Za-z-]+)*\s*$/;

/**
 * The opening handshake's own rules (RFC 6455 § 4.2.1), checked before ws sees the request:
 * ws refuses a broken one with a bare text/html 400, and every refusal here is a problem.
 */
function assertHandshake(req: IncomingMessage): void {
  if (req.method !== 'GET') throw new TidingsError('invalid_request', 'A WebSocket opening handshake is a GET (RFC 6455 § 4.1).');
  const key = req.headers['sec-websocket-key'];
  if (typeof key !== 'string' || !/^[+/0-9A-Za-z]{22}==$/.test(key.trim())) {
    throw new TidingsError('invalid_request', 'Sec-WebSocket-Key must be 16 bytes in base64 (RFC 6455 § 4.1).');
  }
  if (req.headers['sec-websocket-version'] !== '13') {
    throw new TidingsError('invalid_request', 'Only Sec-WebSocket-Version 13 is spoken here (RFC 6455 § 4.4).', { 'sec-websocket-version': '13' });
  }
  const protocols = req.headers['sec-websocket-protocol'];
  if (protocols !== undefined && !TOKEN_LIST.test(protocols)) {
    throw new TidingsError('invalid_request', 'Sec-WebSocket-Protocol must be a comma-separated list of tokens.');
  }
}

/**
 * `GET /v1/ws`: WebSocket, full duplex. `ws` does the RFC 6455 handshake and framing;
 * this file admits or refuses the upgrade, ws-client.ts speaks the Tidings frames on top
 * (docs/protocol.md § WebSocket).
 */
export class Ws extends PushTransport<WsClient> {
  private readonly server: WebSocketServer;

  constructor(ctx: ServerContext) {
    super('ws', ctx, ctx.config.heartbeatMs);
    this.server = new WebSocketServer({ noServer: true, maxPayload: ctx.config.maxFrameBytes, clientTracking: false, perMessageDeflate: false });
  }

  /** Called for `upgrade` requests on /v1/ws: refuses with an HTTP problem, or upgrades. */
  async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, query: URLSearchParams): Promise<void> {
    let initial: ChannelStart[] = [];
    let grants: Grants;
    let envelope: EnvelopeForm;
    try {
      assertHandshake(req);
      envelope = parseEnvelopeForm(query.get('envelope'));
      if (!this.ctx.origins.allows(req.headers.origin)) throw new TidingsError('forbidden', `Origin ${req.headers.origin} is not allowed.`);
      if (query.getAll('channel').length > 0) initial = parseSubscribeQuery(query, this.ctx.config.maxSubscriptions);
      // The credential is checked here, and again only when an `auth` frame replaces it: a
      // browser's WebSocket can't send headers, so `token=` in the URL is as good as one.
      grants = await admitSubscriber(this.ctx, bearerToken(req, query), initial.map((s) => s.channel));
      this.ctx.access.assertMayConnect(grants);
    } catch (err) {
      refuseSocket(socket, asTidingsError(err));
      return;
    }
    const address = req.socket.remoteAddress ?? '';
    this.server.handleUpgrade(req, socket, head, (ws) => this.accept(ws, socket, initial, grants, address, envelope));
  }

  /**
   * A connection limit was reached: completes the handshake only to say so, because a
   * browser can't read the status of a refused upgrade. An error frame with the reason's
   * code, then close 1013 "Try Again Later" (RFC 6455 § 7.4.1).
   */
  refuseOverCapacity(req: IncomingMessage, socket: Duplex, head: Buffer, refusal: TidingsError): void {
    this.server.handleUpgrade(req, socket, head, (ws) => {
      const problem = toProblem(refusal);
      ws.send(JSON.stringify({ type: 'error', code: problem.code, message: problem.detail }));
      closeWithGrace(ws, socket, this.ctx.timer, CLOSE_REASONS.over_capacity.ws, CLOSE_REASONS.over_capacity.text);
    });
  }

  private accept(socket: WebSocket, raw: Duplex, initial: ChannelStart[], grants: Grants, address: string, envelope: EnvelopeForm): void {
    const client = new WsClient(this, socket, raw, grants, address);
    client.envelope = envelope;
    this.add(client);
    // Frames are handled one after another, so answers come in the order frames were sent
    // (a subscribe's `subscribed` before the `unsubscribed` of an unsubscribe sent after it).
    let previous: Promise<void> = Promise.resolve();
    socket.on('message', (data, isBinary) => {
      previous = previous.then(() => client.onFrame(data, isBinary));
    });
    socket.on('pong', () => (client.alive = true));
    socket.on('close', () => client.cleanup());
    socket.on('error', (err) => {
      // ws closes with 1009 by itself when a frame passes maxPayload; other errors are the peer's.
      this.ctx.logger.debug({ err }, 'WebSocket error');
    });
    for (const { channel, start } of initial) {
      client.subscribe(channel, start, undefined).catch((err) => client.sendError(err));
    }
  }

  /**
   * Resolves once the close handshake is over and the socket is done, or it is gone already:
   * a peer that doesn't answer the close frame is cut after a short grace (ws-close.ts).
   */
  protected whenEnded(client: WsClient): Promise<void> {
    if (client.socket.readyState === 3) return Promise.resolve();
    return new Promise<void>((resolve) => client.socket.once('close', () => resolve()));
  }
}
