import type { Duplex } from 'node:stream';
import { toProblem, type TidingsError } from '../core/errors.js';

/**
 * Answers `err` as problem+json straight onto a socket that has no ServerResponse: a
 * refused WebSocket upgrade, or a request node's parser gave up on (`clientError`). Then
 * the socket is ended: after a refusal like this, nothing else is read from it.
 */
export function refuseSocket(socket: Duplex, err: TidingsError): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const problem = toProblem(err);
  const body = JSON.stringify(problem);
  const extra = Object.entries(err.headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  socket.end(
    `HTTP/1.1 ${err.status} ${problem.title}\r\n` +
      'Content-Type: application/problem+json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Cache-Control: no-store\r\n' +
      `${extra}Connection: close\r\n\r\n${body}`,
  );
}
