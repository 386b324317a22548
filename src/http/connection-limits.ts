import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { TidingsError } from '../core/errors.js';
import type { Metrics } from '../metrics.js';

/** Refused sockets kept open at once to be told why; more are dropped unanswered. */
const MAX_REFUSED_WAITING = 1024;

/**
 * `--max-connections` and `--max-connections-per-ip`, counted over open TCP sockets.
 *
 * A socket over a limit is still accepted, so that its client learns why: its first
 * request is answered 503 `server_full` or 429 `too_many_connections` (problem+json,
 * `Connection: close`), a WebSocket upgrade is closed with 1013 "Try Again Later" (a
 * browser can't read the status of a refused upgrade). Such a socket is not counted, and
 * it doesn't stay: it is closed after that answer, or by --headers-timeout if it says
 * nothing. Silently dropping it (node's own `server.maxConnections`) would look like a
 * network fault and invite an immediate retry.
 */
export class ConnectionLimits {
  private total = 0;
  private readonly perAddress = new Map<string, number>();
  private readonly refused = new WeakMap<Socket, TidingsError>();
  /** Refused sockets still open, waiting to be told; past MAX_REFUSED_WAITING the rest are dropped unanswered. */
  private refusedWaiting = 0;

  constructor(
    server: Server,
    /** 0: no limit. */
    readonly maxTotal: number,
    private readonly maxPerAddress: number,
    private readonly metrics: Metrics,
  ) {
    if (maxTotal === 0 && maxPerAddress === 0) return;
    server.on('connection', (socket: Socket) => this.admit(socket));
  }

  private admit(socket: Socket): void {
    const address = socket.remoteAddress ?? '';
    const fromAddress = this.perAddress.get(address) ?? 0;
    if (this.maxTotal > 0 && this.total >= this.maxTotal) {
      this.refuse(socket, new TidingsError('server_full', `The server holds its limit of ${this.maxTotal} connections; retry later or elsewhere.`, { 'retry-after': '5' }));
      return;
    }
    if (this.maxPerAddress > 0 && fromAddress >= this.maxPerAddress) {
      this.refuse(socket, new TidingsError('too_many_connections', `At most ${this.maxPerAddress} connections from one address; close one or retry later.`, { 'retry-after': '5' }));
      return;
    }
    this.total++;
    this.perAddress.set(address, fromAddress + 1);
    socket.once('close', () => {
      this.total--;
      const n = (this.perAddress.get(address) ?? 1) - 1;
      if (n === 0) this.perAddress.delete(address);
      else this.perAddress.set(address, n);
    });
  }

  /**
   * Keeps the socket open just long enough to answer it. A flood of refused sockets would
   * hold file descriptors for up to --headers-timeout each, so past a bound they are
   * dropped at once, unanswered.
   */
  private refuse(socket: Socket, why: TidingsError): void {
    this.metrics.connectionsRefused[why.code === 'server_full' ? 'server_full' : 'too_many_connections']++;
    if (this.refusedWaiting >= MAX_REFUSED_WAITING) {
      socket.destroy();
      return;
    }
    this.refusedWaiting++;
    this.refused.set(socket, why);
    socket.once('close', () => this.refusedWaiting--);
  }

  /** Why requests on this socket are refused, or undefined when it was admitted. */
  refusalOf(socket: Socket): TidingsError | undefined {
    return this.refused.get(socket);
  }

  /** Admitted sockets now open. */
  get open(): number {
    return this.total;
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
