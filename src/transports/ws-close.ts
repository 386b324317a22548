import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { CoarseTimer } from '../core/coarse-timer.js';

/**
 * How long a peer has to answer the server's close frame once that frame has been sent.
 * A peer that reads answers within one round trip (ws and browsers answer by themselves as
 * they read the frame), so 2 s is many round trips of a slow mobile link; and it is short
 * enough that a peer that never answers (a frozen tab, a half-open NAT, a hostile client)
 * holds neither a shutdown nor a socket's memory for long. Not tied to a setting: the
 * heartbeat measures how long a connection may stay silent while open, this how long one
 * already ended may take to say goodbye, and no deployment is better off waiting longer.
 */
export const CLOSE_ANSWER_GRACE_MS = 2000;

/**
 * Starts the close handshake (RFC 6455 § 7.1.2) and bounds it: once the close frame is
 * sent, the peer gets CLOSE_ANSWER_GRACE_MS to answer and close, then the socket is
 * destroyed. ws alone would wait 30 s for the answer.
 *
 * A close frame still queued behind bytes the peer hasn't read (a slow consumer's backlog)
 * has not been sent: the peer gets it, and the grace starts, only once it reads that far.
 * That wait is bounded by ws's own 30 s close timeout, and at shutdown by
 * `--shutdown-timeout`. Checked once per grace on the shared coarse timer, one slot per
 * closing socket, dropped when the socket closes.
 */
export function closeWithGrace(socket: WebSocket, raw: Duplex, timer: CoarseTimer, code: number, text: string): void {
  socket.close(code, text);
  // Closed already (the peer went first): ws emitted 'close' and there is nothing to bound.
  if (socket.readyState === socket.CLOSED) return;
  // The close frame is sent once the socket holds no unsent bytes: the kernel took it all.
  let sent = raw.writableLength === 0;
  let cancel: () => void;
  const check = (): void => {
    if (sent) {
      socket.terminate();
      return;
    }
    // Sent since the last check, or still waiting behind the backlog: either way, one more
    // grace (so a peer gets between one and two graces after its close frame is sent).
    sent = raw.writableLength === 0;
    cancel = timer.at(Date.now() + CLOSE_ANSWER_GRACE_MS, check);
  };
  cancel = timer.at(Date.now() + CLOSE_ANSWER_GRACE_MS, check);
  socket.once('close', () => cancel());
}
