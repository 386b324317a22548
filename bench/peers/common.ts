import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

/** `--port N` from argv; the peers listen on 127.0.0.1 only. */
export function portArg(): number {
  const i = process.argv.indexOf('--port');
  const port = Number(i >= 0 ? process.argv[i + 1] : NaN);
  if (!Number.isInteger(port) || port <= 0) {
    process.stderr.write('usage: node peer.js --port N\n');
    process.exit(2);
  }
  return port;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * The HTTP side every peer shares: `POST /publish` (body = the message JSON) hands the
 * body to `broadcast` and answers 201; `GET /healthz` answers 200; `other` gets the rest.
 */
export function peerServer(broadcast: (body: string) => void, other?: (req: IncomingMessage, res: ServerResponse) => boolean): Server {
  const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    if (req.method === 'POST' && req.url === '/publish') {
      readBody(req).then(
        (body) => {
          broadcast(body);
          res.writeHead(201, { 'content-type': 'application/json' }).end('{}');
        },
        () => res.destroy(),
      );
      return;
    }
    if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    if (other?.(req, res) === true) return;
    res.writeHead(404).end();
  });
  return server;
}

export function listen(server: Server, port: number): void {
  server.listen(port, '127.0.0.1');
  process.on('SIGTERM', () => process.exit(0));
}
