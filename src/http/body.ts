import type { IncomingMessage } from 'node:http';
import { TidingsError } from '../core/errors.js';
import { assertJsonDepth } from '../core/json-depth.js';

/**
 * Reads a request body up to `limit` bytes. A larger body is refused as soon as it is
 * known to be larger (Content-Length up front, or the running count), not after buffering it.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = () => new TidingsError('payload_too_large', `The body is larger than the limit of ${limit} bytes.`);
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    // Don't read it; close once the answer is out, so the client stops sending.
    req.resume();
    return Promise.reject(tooLarge());
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!failed) resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    });
    // A client that goes away mid-body: settle, so the handler doesn't wait forever. Node
    // reports a reset as an 'aborted' error first: that is the client's doing, not a bug
    // of ours to log as one (found by `npm run storm`).
    const cutOff = () => {
      if (!failed && !req.complete) {
        failed = true;
        reject(new TidingsError('invalid_parameter', 'The request body was cut off before its end.'));
      }
    };
    req.on('close', cutOff);
    req.on('error', cutOff);
  });
}

/** The media type without parameters, lower-cased: "application/json; charset=utf-8" → "application/json". */
export function mediaType(req: IncomingMessage): string {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

export function parseJson(bytes: Buffer, what: string): unknown {
  const text = bytes.toString('utf8');
  assertJsonDepth(text, what);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new TidingsError('invalid_json', `${what} is not valid JSON: ${(err as Error).message}`);
  }
}
