/**
 * Peer: a bare node:http Server-Sent Events broadcast, the floor for SSE fan-out: one
 * `data:` frame per message, made once, written to every open response.
 */
import type { ServerResponse } from 'node:http';
import { listen, peerServer, portArg } from './common.js';

const port = portArg();
const clients = new Set<ServerResponse>();
const server = peerServer(
  (body) => {
    const frame = Buffer.from(`data: ${body}\n\n`);
    for (const res of clients) res.write(frame);
  },
  (req, res) => {
    if (req.url !== '/events') return false;
    req.socket.setTimeout(0);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.write('retry: 2000\n\n');
    clients.add(res);
    res.on('close', () => clients.delete(res));
    return true;
  },
);
listen(server, port);
