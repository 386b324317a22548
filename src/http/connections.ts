import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { TidingsError } from '../core/errors.js';

/** One open TCP socket as the server sees it. */
interface OpenSocket {
  readonly address: string;
  /** Why its requests are refused (a connection limit); undefined when it was admitted. */
  readonly refusal: TidingsError | undefined;
  /** Requests under way on it: at 0 it is idle, and a shutdown may close it. */
  inFlight: number;
  /** Upgraded to a WebSocket: it belongs to the WebSocket layer from then on. */
  upgraded: boolean;
}

/** Decides on each new socket from the counts of those already open (ConnectionLimits). */
export interface Admission {
  /**
   * Why `socket` from `address` is refused, or undefined to admit it. It may destroy the
   * socket (a refusal not worth answering); a destroyed socket is not recorded.
   */
  admit(socket: Socket, address: string, open: OpenConnections): TidingsError | undefined;
}

/**
 * The one registry of the server's open TCP sockets: how many were admitted, in all and
 * per remote address, which were refused and why, which have a request in flight, and
 * which were upgraded. Connection limits read their counts here; a shutdown closes from
 * here. Node's own closeIdleConnections() skips sockets that never sent a request (clients
 * pre-open them), and those would hold a shutdown until the client's keep-alive timer runs
 * out; closeIdle() closes every socket not mid-request. Node's closeAllConnections() skips
 * upgraded sockets: closeUpgraded() is for them.
 */
export class OpenConnections {
  private readonly sockets = new Map<Socket, OpenSocket>();
  private admittedTotal = 0;
  private readonly admittedPerAddress = new Map<string, number>();
  private refusedTotal = 0;

  constructor(server: Server, admission?: Admission) {
    server.on('connection', (socket: Socket) => this.opened(socket, admission));
    server.on('upgrade', (req: IncomingMessage) => {
      const open = this.sockets.get(req.socket);
      if (open !== undefined) open.upgraded = true;
    });
  }

  private opened(socket: Socket, admission: Admission | undefined): void {
    const address = socket.remoteAddress ?? '';
    const refusal = admission?.admit(socket, address, this);
    if (socket.destroyed) return;
    const open: OpenSocket = { address, refusal, inFlight: 0, upgraded: false };
    this.sockets.set(socket, open);
    if (refusal === undefined) {
      this.admittedTotal++;
      this.admittedPerAddress.set(address, this.admittedFrom(address) + 1);
    } else {
      this.refusedTotal++;
    }
    socket.once('close', () => this.closed(socket, open));
  }

  private closed(socket: Socket, open: OpenSocket): void {
    this.sockets.delete(socket);
    if (open.refusal !== undefined) {
      this.refusedTotal--;
      return;
    }
    this.admittedTotal--;
    const n = this.admittedFrom(open.address) - 1;
    if (n === 0) this.admittedPerAddress.delete(open.address);
    else this.admittedPerAddress.set(open.address, n);
  }

  /** Admitted sockets now open. */
  get admitted(): number {
    return this.admittedTotal;
  }

  /** Admitted sockets now open from `address`. */
  admittedFrom(address: string): number {
    return this.admittedPerAddress.get(address) ?? 0;
  }

  /** Refused sockets still open, waiting to be told why. */
  get refused(): number {
    return this.refusedTotal;
  }

  /** Why requests on this socket are refused, or undefined when it was admitted. */
  refusalOf(socket: Socket): TidingsError | undefined {
    return this.sockets.get(socket)?.refusal;
  }

  /** Counts `res` as in flight on its socket until it finishes or the socket closes. */
  track(res: ServerResponse): void {
    const open = res.socket === null ? undefined : this.sockets.get(res.socket);
    if (open === undefined) return;
    open.inFlight++;
    res.once('close', () => open.inFlight--);
  }

  closeIdle(): void {
    for (const [socket, open] of this.sockets) if (open.inFlight <= 0 && !open.upgraded) socket.destroy();
  }

  /** Destroys every upgraded socket still open: the end of a shutdown that ran out of time. */
  closeUpgraded(): void {
    for (const [socket, open] of this.sockets) if (open.upgraded) socket.destroy();
  }
}
