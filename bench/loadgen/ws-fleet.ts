import type { Socket } from 'node:net';
import WebSocket from 'ws';
import { payload, SocketFleet } from './fleet.js';
import { nowMs } from './tracker.js';

/** The TCP socket under a `ws` client (a private field, read only to count bytes). */
function rawSocket(ws: WebSocket): Socket | undefined {
  return (ws as unknown as { _socket?: Socket })._socket ?? undefined;
}

/**
 * WebSocket subscribers, for Tidings (`/v1/ws?channel=…`, ready on the `subscribed` frame)
 * and for the bare `ws` peer (`/`, ready on open: the peer adds a socket before its 101).
 */
export class WsFleet extends SocketFleet {
  private readonly sockets: WebSocket[] = [];

  add(index: number): Promise<void> {
    const { target, tracker } = this.ctx;
    const tidings = target.system === 'tidings';
    const url = tidings ? `${target.url.replace(/^http/, 'ws')}/v1/ws?channel=${target.channel}` : target.url.replace(/^http/, 'ws');
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false });
      this.sockets.push(ws);
      let ready = false;
      const isReady = () => {
        ready = true;
        const s = rawSocket(ws);
        if (s !== undefined) this.raw.push(s);
        resolve();
      };
      ws.on('open', () => {
        if (!tidings) isReady();
      });
      ws.on('message', (data) => {
        const now = nowMs();
        const frame = JSON.parse((data as Buffer).toString()) as { type?: string };
        if (tidings && frame.type !== 'message') {
          if (frame.type === 'subscribed') isReady();
          else if (frame.type === 'gap') tracker.gaps++;
          return;
        }
        const p = payload(frame);
        if (p !== undefined) tracker.receive(index, p, now);
      });
      ws.on('error', (err) => {
        if (!ready) reject(err);
      });
      ws.on('close', () => {
        if (!ready) reject(new Error('closed before subscribing'));
        else if (!this.closing) this.dropped++;
      });
    });
  }

  protected closeAll(): void {
    for (const ws of this.sockets) ws.terminate();
  }
}
