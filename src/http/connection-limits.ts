import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { TidingsError } from '../core/errors.js';
import type { Metrics } from '../metrics.js';
import type { Admission, OpenConnections } from './connections.js';

/** Refused sockets kept open at once to be told why; more are dropped unanswered. */
const MAX_REFUSED_WAITING = 1024;

/**
 * `--max-connections` and `--max-connections-per-ip`, over the open TCP sockets that
 * OpenConnections (connections.ts) counts.
 *
 * A socket over a limit is still accepted, so that its client learns why: its first
 * request is answered 503 `server_full` or 429 `too_many_connections` (problem+json,
 * `Connection: close`), a WebSocket upgrade is closed with 1013 "Try Again Later" (a
 * browser can't read the status of a refused upgrade). Such a socket is not counted, and
 * it doesn't stay: it is closed after that answer, or by --headers-timeout if it says
 * nothing. Silently dropping it (node's own `server.maxConnections`) would look like a
 * network fault and invite an immediate retry.
 */
export class ConnectionLimits implements Admission {
  constructor(
    /** 0: no limit. */
    readonly maxTotal: number,
    private readonly maxPerAddress: number,
    private readonly metrics: Metrics,
  ) {}

  admit(socket: Socket, address: string, open: OpenConnections): TidingsError | undefined {
    const why = this.overLimit(address, open);
    if (why !== undefined) this.refuse(socket, why, open);
    return why;
  }

  private overLimit(address: string, open: OpenConnections): TidingsError | undefined {
    if (this.maxTotal > 0 && open.admitted >= this.maxTotal) {
      return new TidingsError('server_full', `The server holds its limit of ${this.maxTotal} connections; retry later or elsewhere.`, { 'retry-after': '5' });
    }
    if (this.maxPerAddress > 0 && open.admittedFrom(address) >= this.maxPerAddress) {
      return new TidingsError('too_many_connections', `At most ${this.maxPerAddress} connections from one address; close one or retry later.`, { 'retry-after': '5' });
    }
    return undefined;
  }

  /**
   * A refused socket is kept open just long enough to answer it. A flood of them would
   * hold file descriptors for up to --headers-timeout each, so past a bound they are
   * dropped at once, unanswered.
   */
  private refuse(socket: Socket, why: TidingsError, open: OpenConnections): void {
    this.metrics.connectionsRefused[why.code === 'server_full' ? 'server_full' : 'too_many_connections']++;
    if (open.refused >= MAX_REFUSED_WAITING) socket.destroy();
  }
}

/**
 * The soft limit on open files from a `/proc/<pid>/limits` text ("Max open files  1024
 * 4096  files"), or undefined where there is none (not Linux). Each connection is a file
 * descriptor: past this limit the kernel refuses sockets before any limit of ours can
 * answer them.
 */
export function openFileLimit(limits?: string): number | undefined {
  let text = limits;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return undefined;
    }
  }
  const m = /^Max open files\s+(\d+|unlimited)\s/m.exec(text);
  if (m === null || m[1] === 'unlimited') return undefined;
  return Number(m[1]);
}

/** File descriptors kept for everything but client sockets: the listener, log and engine connections, files. */
const RESERVED_FILES = 64;

/**
 * `--max-connections` as it can hold: never above the open-file limit (less a reserve),
 * where the kernel would refuse sockets unanswered before the server could say why.
 * 0 (no limit) stays 0: the operator asked for none.
 */
export function cappedByOpenFiles(maxConnections: number, openFiles: number | undefined): number {
  if (maxConnections === 0 || openFiles === undefined) return maxConnections;
  return Math.min(maxConnections, Math.max(1, openFiles - RESERVED_FILES));
}
