/**
 * Peer: Socket.IO 4, what most Node teams run today, on its WebSocket transport with its
 * defaults otherwise. A publish is one `io.emit`, which encodes the packet once per broadcast.
 */
import { Server } from 'socket.io';
import { listen, peerServer, portArg } from './common.js';

const port = portArg();
const io = new Server({ transports: ['websocket'], serveClient: false });
const server = peerServer((body) => {
  io.emit('message', JSON.parse(body));
});
io.attach(server);
listen(server, port);
