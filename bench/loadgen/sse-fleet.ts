import { get, type ClientRequest } from 'node:http';
import { payload, SocketFleet } from './fleet.js';
import { nowMs } from './tracker.js';

/**
 * Server-Sent Events subscribers over node:http (one request and socket each), for
 * Tidings (`/v1/events?channel=…`) and the bare SSE peer (`/events`). The stream is parsed
 * here rather than by an EventSource, to keep the client's cost per event small.
 */
export class SseFleet extends SocketFleet {
  private readonly requestsOpen: ClientRequest[] = [];

  add(index: number): Promise<void> {
    const { target, tracker } = this.ctx;
    const path = target.system === 'tidings' ? `/v1/events?channel=${target.channel}` : '/events';
    return new Promise((resolve, reject) => {
      let ready = false;
      const req = get(`${target.url}${path}`, { agent: false, headers: { accept: 'text/event-stream' } }, (res) => {
        if (res.statusCode !== 200) {
          reject(new Error(`SSE answered ${res.statusCode}`));
          res.resume();
          return;
        }
        // Tidings opens the subscription before it writes the head, so headers mean subscribed.
        ready = true;
        this.raw.push(res.socket);
        resolve();
        let buffer = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          const now = nowMs();
          buffer += chunk;
          let start = 0;
          let end: number;
          while ((end = buffer.indexOf('\n\n', start)) >= 0) {
            const block = buffer.slice(start, end);
            start = end + 2;
            if (block.includes('event: gap')) {
              tracker.gaps++;
              continue;
            }
            const at = block.indexOf('data: ');
            if (at < 0 || block.includes('event: close')) continue;
            const lineEnd = block.indexOf('\n', at);
            const p = payload(JSON.parse(block.slice(at + 6, lineEnd < 0 ? undefined : lineEnd)));
            if (p !== undefined) tracker.receive(index, p, now);
          }
          if (start > 0) buffer = buffer.slice(start);
        });
        res.on('close', () => {
          if (!this.closing) this.dropped++;
        });
      });
      this.requestsOpen.push(req);
      req.on('error', (err) => {
        if (!ready) reject(err);
      });
    });
  }

  protected closeAll(): void {
    for (const r of this.requestsOpen) r.destroy();
  }
}
