import type { IncomingMessage } from 'node:http';
import type { CoarseTimer } from '../core/coarse-timer.js';

/**
 * Lingering close (nginx's `lingering_close`): after a request was answered before its
 * body was read (413 on a declared Content-Length, 401, 415, …), read and discard the rest
 * of the body instead of closing at once. Closing a socket with unread bytes makes the
 * kernel send a reset, and a client still sending its body then sees EPIPE or ECONNRESET
 * instead of the answer waiting in its receive buffer.
 *
 * Bounded both ways, so a refused client can't make the server read forever: past
 * `maxBytes`, or `maxMs` after the answer, the socket is destroyed. A body that ends
 * within the bounds leaves a keep-alive connection usable for the next request. The time
 * bound is a slot on the shared coarse timer, not a timer of its own.
 */
export function lingerAfterRefusal(req: IncomingMessage, timer: CoarseTimer, maxBytes: number, maxMs: number): void {
  // No body announced: nothing to drain (the parser may not have marked it complete yet).
  const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  if (!hasBody || req.complete || req.socket.destroyed) return;
  let bytes = 0;
  const cut = () => {
    req.off('data', count);
    req.socket.destroy();
  };
  const cancel = timer.at(Date.now() + maxMs, cut);
  const count = (chunk: Buffer) => {
    bytes += chunk.length;
    if (bytes > maxBytes) {
      cancel();
      cut();
    }
  };
  req.on('data', count);
  req.once('end', cancel);
  req.once('close', cancel);
  req.resume();
}
