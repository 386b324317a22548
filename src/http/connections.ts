import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Which sockets have a request in flight, and which were upgraded. Node's own
 * closeIdleConnections() skips sockets that never sent a request (clients pre-open them),
 * and those would hold a shutdown until the client's keep-alive timer runs out; this closes
 * every socket not mid-request. Node's closeAllConnections() skips upgraded sockets.
 */
export class ConnectionTracker {
  private readonly inFlight = new Map<Socket, number>();
  private readonly upgraded = new Set<Socket>();

  constructor(server: Server) {
    server.on('connection', (socket: Socket) => {
      this.inFlight.set(socket, 0);
      socket.once('close', () => {
        this.inFlight.delete(socket);
        this.upgraded.delete(socket);
      });
    });
    // An upgraded socket belongs to the WebSocket layer from then on.
    server.on('upgrade', (req: IncomingMessage) => {
      this.inFlight.delete(req.socket);
      if (!req.socket.destroyed) this.upgraded.add(req.socket);
    });
  }

  /** Counts `res` as in flight on its socket until it finishes or the socket closes. */
  track(res: ServerResponse): void {
    const socket = res.socket;
    if (socket === null) return;
    this.inFlight.set(socket, (this.inFlight.get(socket) ?? 0) + 1);
    res.once('close', () => {
      const n = this.inFlight.get(socket);
      if (n !== undefined) this.inFlight.set(socket, n - 1);
    });
  }

  closeIdle(): void {
    for (const [socket, n] of this.inFlight) if (n <= 0) socket.destroy();
  }

  /** Destroys every upgraded socket still open: the end of a shutdown that ran out of time. */
  closeUpgraded(): void {
    for (const socket of this.upgraded) socket.destroy();
  }
}
