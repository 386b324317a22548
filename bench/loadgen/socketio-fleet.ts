import type { Socket as NetSocket } from 'node:net';
import { io, type Socket } from 'socket.io-client';
import { payload, SocketFleet } from './fleet.js';
import { nowMs } from './tracker.js';

/** The TCP socket under a Socket.IO client's WebSocket transport (private fields, read to count bytes). */
function rawSocket(s: Socket): NetSocket | undefined {
  const transport = (s.io as unknown as { engine?: { transport?: { ws?: { _socket?: NetSocket } } } }).engine?.transport;
  return transport?.ws?._socket;
}

/** Socket.IO 4 clients on the WebSocket transport, each with its own Manager and connection. */
export class SocketIoFleet extends SocketFleet {
  private readonly sockets: Socket[] = [];

  add(index: number): Promise<void> {
    const { target, tracker } = this.ctx;
    return new Promise((resolve, reject) => {
      const s = io(target.url, { transports: ['websocket'], forceNew: true, reconnection: false, timeout: 30_000 });
      this.sockets.push(s);
      let ready = false;
      s.on('connect', () => {
        ready = true;
        const raw = rawSocket(s);
        if (raw !== undefined) this.raw.push(raw);
        resolve();
      });
      s.on('message', (data: unknown) => {
        const p = payload(data);
        if (p !== undefined) tracker.receive(index, p, nowMs());
      });
      s.on('connect_error', (err) => {
        if (!ready) reject(err);
      });
      s.on('disconnect', () => {
        if (!this.closing) this.dropped++;
      });
    });
  }

  protected closeAll(): void {
    for (const s of this.sockets) s.disconnect();
  }
}
