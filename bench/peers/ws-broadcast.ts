/**
 * Peer: a bare `ws` broadcast server, the floor of what Node does for WebSocket fan-out.
 * It is the broadcast loop of the ws README: one Buffer per message, `send` to each client.
 */
import { WebSocket, WebSocketServer } from 'ws';
import { listen, peerServer, portArg } from './common.js';

const port = portArg();
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
const server = peerServer((body) => {
  const data = Buffer.from(body);
  for (const client of wss.clients) {
    if (client.readyState === WebSocket.OPEN) client.send(data, { binary: false });
  }
});
server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req)));
listen(server, port);
