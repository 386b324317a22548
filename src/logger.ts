import { pino, type Logger } from 'pino';

/**
 * The server's logger: JSON lines on stdout, each written as it is logged.
 *
 * pino's default writes asynchronously and, at exit, flushes what is left with sonic-boom's
 * `flushSync`, which retries a failed write every 100 ms for ever unless the error is
 * EAGAIN. With stdout a pipe whose reader has gone (a supervisor restarted, a terminal
 * closed), that write fails with EPIPE, so a server told to stop drained and then hung in
 * `process.exit`, deaf to further signals. Written synchronously, the first EPIPE
 * reaches pino's broken-pipe handler, which stops logging, and nothing is left to flush at
 * exit. The log is a few lines per start, stop and warning, never per message, so the
 * blocking write costs nothing that shows.
 */
export function createLogger(level: string): Logger {
  return pino({ level, name: 'tidings' }, pino.destination({ dest: 1, sync: true }));
}
