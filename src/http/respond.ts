import type { ServerResponse } from 'node:http';
import { asTidingsError, toProblem } from '../core/errors.js';

/** Sends a JSON answer; `body` may already be JSON text (or its UTF-8 bytes), built from cached message JSON. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

/** Answers any thrown value as RFC 9457 problem+json; unknown errors become a bare 500. */
export function sendProblem(res: ServerResponse, error: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const err = asTidingsError(error);
  const text = JSON.stringify(toProblem(err));
  res.writeHead(err.status, {
    ...err.headers,
    'content-type': 'application/problem+json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}
