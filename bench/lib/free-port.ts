import { createServer } from 'node:net';

/**
 * A port free now on 127.0.0.1: 0 asks the kernel for one, another number is checked
 * (rejects when taken). Another process may take it before the caller binds it: good
 * enough for a server the caller starts at once.
 */
export function freePort(port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const { port: bound } = server.address() as { port: number };
      server.close(() => resolve(bound));
    });
  });
}
