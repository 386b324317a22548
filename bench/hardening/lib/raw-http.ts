import { connect, type Socket } from 'node:net';
import { ERROR_CODES } from '../../../src/core/errors.js';

/** What the client side of one raw exchange does: bytes to write, pauses, and how it ends. */
export interface Script {
  /** Chunks written in order; a number is a pause of that many ms. */
  steps: (Buffer | number)[];
  /** After the steps: 'end' half-closes (FIN), 'destroy' resets, 'wait' keeps writing nothing. */
  then: 'end' | 'destroy' | 'wait';
  /** How long to wait for an answer after the steps (ms). */
  waitMs: number;
}

/** What the server did: an HTTP answer, or nothing before it closed, or nothing at all. */
export interface Answer {
  status?: number;
  headers: Record<string, string>;
  body: Buffer;
  /** The server closed the connection (FIN or reset) before our deadline. */
  closedByServer: boolean;
  /** Bytes the server sent in all. */
  bytes: number;
  /** A 101 upgrade or an event stream: the rest is not an HTTP body. */
  streaming: boolean;
  writeError?: string;
}

/** Parses the head of a response once complete; undefined until then. */
function parseHead(buf: Buffer): { status: number; headers: Record<string, string>; bodyAt: number } | undefined {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return { status: m === null ? -1 : Number(m[1]), headers, bodyAt: end + 4 };
}

/** Decodes a chunked body if it is complete; undefined while more is to come. */
function dechunk(buf: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = buf.indexOf('\r\n', at);
    if (eol < 0) return undefined;
    const size = parseInt(buf.subarray(at, eol).toString('latin1'), 16);
    if (!Number.isFinite(size)) return Buffer.alloc(0);
    if (size === 0) return Buffer.concat(parts);
    if (buf.length < eol + 2 + size + 2) return undefined;
    parts.push(buf.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}

/**
 * Runs one scripted exchange on a fresh TCP connection and reports the first answer (or
 * its absence). Resolves once one complete answer came, the server closed, or the wait ran out.
 */
export function exchange(port: number, script: Script, localAddress?: string): Promise<Answer> {
  return new Promise((resolve) => {
    const socket: Socket = connect({ port, host: '127.0.0.1', localAddress });
    socket.setNoDelay(true);
    let data: Buffer = Buffer.alloc(0);
    let done = false;
    let closedByServer = false;
    let writeError: string | undefined;
    let timer: NodeJS.Timeout | undefined;
    const finish = (streaming = false) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const head = parseHead(data);
      let body = head === undefined ? Buffer.alloc(0) : data.subarray(head.bodyAt);
      if (head !== undefined && /chunked/i.test(head.headers['transfer-encoding'] ?? '')) body = dechunk(body) ?? body;
      resolve({ status: head?.status, headers: head?.headers ?? {}, body, closedByServer, bytes: data.length, streaming, writeError });
      socket.destroy();
    };
    const complete = (): boolean => {
      const head = parseHead(data);
      if (head === undefined) return false;
      if (head.status === 101 || /text\/event-stream/.test(head.headers['content-type'] ?? '')) {
        finish(true);
        return true;
      }
      const rest = data.subarray(head.bodyAt);
      const length = head.headers['content-length'];
      if (length !== undefined && rest.length >= Number(length)) return (finish(), true);
      if (/chunked/i.test(head.headers['transfer-encoding'] ?? '') && dechunk(rest) !== undefined) return (finish(), true);
      return false;
    };
    socket.on('data', (d: Buffer) => {
      data = Buffer.concat([data, d]);
      complete();
    });
    socket.on('error', (err) => {
      if (!done && data.length === 0 && (err as NodeJS.ErrnoException).code !== 'ECONNRESET') writeError = (err as NodeJS.ErrnoException).code ?? err.message;
      closedByServer = true;
      finish();
    });
    socket.on('close', () => {
      closedByServer = true;
      finish();
    });
    socket.once('connect', async () => {
      for (const step of script.steps) {
        if (done) return;
        if (typeof step === 'number') await new Promise((r) => setTimeout(r, step));
        else if (!socket.destroyed) socket.write(step);
      }
      if (done) return;
      if (script.then === 'end') socket.end();
      else if (script.then === 'destroy') {
        done = true;
        socket.destroy();
        resolve({ headers: {}, body: Buffer.alloc(0), closedByServer: false, bytes: data.length, streaming: false });
        return;
      }
      timer = setTimeout(() => finish(), script.waitMs);
    });
  });
}

/**
 * The classes an answer falls in. Proper: `problem` (problem+json, a known code whose
 * status it carries), `accepted` (2xx, 101 or a stream: the input was odd but valid),
 * `closed` (no answer, connection closed: where HTTP allows nothing else), `held`
 * (no answer yet, connection open: a long poll, or a server still waiting for the rest of
 * a request we never finished), `client-gone` (we reset the connection ourselves).
 * Improper: `server-error` (5xx other than 503, or code `internal`), `not-problem`
 * (an error status without a problem+json body), `bad-problem` (problem+json that is not a
 * known code with its status), `garbled` (bytes that are no HTTP answer), `hung` (no answer to
 * a complete request), `dropped` (closed without the answer that was due).
 */
export type HttpClass = 'problem' | 'accepted' | 'closed' | 'held' | 'client-gone' | 'server-error' | 'not-problem' | 'bad-problem' | 'garbled' | 'hung' | 'dropped';

export const IMPROPER_HTTP: ReadonlySet<HttpClass> = new Set(['server-error', 'not-problem', 'bad-problem', 'garbled', 'hung', 'dropped']);

export function classifyHttp(a: Answer, script: Script): { cls: HttpClass; why?: string } {
  if (script.then === 'destroy') return { cls: 'client-gone' };
  if (a.status === undefined) {
    if (a.bytes > 0) return { cls: 'garbled', why: `partial or malformed answer (${a.bytes} bytes)` };
    return { cls: a.closedByServer ? 'closed' : 'held' };
  }
  if (a.status < 0) return { cls: 'garbled', why: 'status line is not HTTP/1.x' };
  if (a.status === 101 || (a.status >= 200 && a.status < 300)) return { cls: 'accepted' };
  if (a.status >= 500 && a.status !== 503) return { cls: 'server-error', why: `${a.status} ${a.body.toString('utf8').slice(0, 200)}` };
  const type = a.headers['content-type'] ?? '';
  if (!/^application\/problem\+json/.test(type)) return { cls: 'not-problem', why: `${a.status} with content-type "${type}"` };
  let problem: { code?: unknown; status?: unknown };
  try {
    problem = JSON.parse(a.body.toString('utf8')) as typeof problem;
  } catch {
    return { cls: 'bad-problem', why: `${a.status} problem+json body is not JSON` };
  }
  const known = ERROR_CODES[problem.code as keyof typeof ERROR_CODES];
  if (known === undefined) return { cls: 'bad-problem', why: `unknown code ${String(problem.code)}` };
  if (known.status !== a.status || problem.status !== a.status) return { cls: 'bad-problem', why: `${problem.code as string} with status ${a.status}` };
  if (problem.code === 'internal') return { cls: 'server-error', why: 'code internal' };
  return { cls: 'problem' };
}
