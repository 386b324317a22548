import { createServer, request, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';

/**
 * A small HTTP proxy in front of a server that misbehaves the way real ones do: it can
 * refuse `Upgrade` (403, as proxies that don't pass WebSocket answer) and buffer event
 * streams (hold an SSE body until it ends, as a buffering proxy does), each switchable
 * while clients are connected.
 */
export class MeddlingProxy {
  refuseUpgrade = false;
  /** When set, only paths under it are served, with it stripped: a server mounted at a sub-path. */
  mountedAt: string | undefined;
  bufferEventStreams = false;
  /** Upgrades refused, event streams held: the tests check the proxy really meddled. */
  refused = 0;
  buffered = 0;
  url = '';
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  private constructor(private readonly target: URL) {
    this.server = createServer((req, res) => {
      const path = this.unmount(req.url);
      if (path === undefined) {
        res.writeHead(404).end();
        return;
      }
      const up = request(
        { host: target.hostname, port: target.port, method: req.method, path, headers: req.headers },
        (answer) => {
          const isStream = (answer.headers['content-type'] ?? '').startsWith('text/event-stream');
          if (isStream && this.bufferEventStreams) {
            this.buffered++;
            const chunks: Buffer[] = [];
            answer.on('data', (c: Buffer) => chunks.push(c));
            answer.on('end', () => {
              res.writeHead(answer.statusCode ?? 502, answer.headers);
              res.end(Buffer.concat(chunks));
            });
            return;
          }
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      up.on('error', () => res.destroy());
      res.on('close', () => up.destroy());
      req.pipe(up);
    });
    this.server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.server.on('upgrade', (req, socket: Socket, head: Buffer) => {
      socket.on('error', () => {});
      const path = this.unmount(req.url);
      if (this.refuseUpgrade || path === undefined) {
        this.refused++;
        socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
        return;
      }
      const upstream = connect(Number(target.port), target.hostname, () => {
        const lines = [`${req.method} ${path} HTTP/1.1`];
        for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
        upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
        if (head.length > 0) upstream.write(head);
        socket.pipe(upstream);
        upstream.pipe(socket);
      });
      this.sockets.add(upstream);
      upstream.on('error', () => socket.destroy());
      upstream.on('close', () => {
        this.sockets.delete(upstream);
        socket.destroy();
      });
      socket.on('close', () => upstream.destroy());
    });
  }

  private unmount(url: string | undefined): string | undefined {
    if (this.mountedAt === undefined) return url;
    return url?.startsWith(`${this.mountedAt}/`) ? url.slice(this.mountedAt.length) : undefined;
  }

  static async start(targetUrl: string): Promise<MeddlingProxy> {
    const proxy = new MeddlingProxy(new URL(targetUrl));
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    proxy.url = `http://127.0.0.1:${(proxy.server.address() as { port: number }).port}`;
    return proxy;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
