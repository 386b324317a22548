import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy in front of a server, to cut connections from the network's side (as a
 * flaky link or a load balancer would) and to refuse new ones for a while.
 */
export class CuttableProxy {
  private readonly sockets = new Set<Socket>();
  private refusing = false;
  connections = 0;

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(targetUrl: string): Promise<CuttableProxy> {
    const target = new URL(targetUrl);
    let proxy: CuttableProxy | undefined;
    const server = createServer((client) => {
      if (proxy!.refusing) {
        client.destroy();
        return;
      }
      proxy!.connections++;
      const upstream = connect(Number(target.port), target.hostname);
      for (const s of [client, upstream]) {
        proxy!.sockets.add(s);
        s.on('close', () => proxy!.sockets.delete(s));
        s.on('error', () => {});
      }
      client.pipe(upstream);
      upstream.pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address() as { port: number };
    proxy = new CuttableProxy(server, `http://127.0.0.1:${address.port}`);
    return proxy;
  }

  /** Cuts every open connection and refuses new ones until `restore()`. */
  cut(): void {
    this.refusing = true;
    for (const s of this.sockets) s.destroy();
  }

  restore(): void {
    this.refusing = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
