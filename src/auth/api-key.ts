import { timingSafeEqual, createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** The bearer credential of a request: the Authorization header, else `token=` (browser APIs can't set headers). */
export function bearerToken(req: IncomingMessage, query: URLSearchParams): string | undefined {
  const header = req.headers.authorization;
  if (header !== undefined) {
    const m = /^Bearer\s+(.+)$/i.exec(header.trim());
    return m === null ? undefined : m[1];
  }
  return query.get('token') ?? undefined;
}

/**
 * `--api-key KEY`: publishing needs it. Compared through hashes of equal length in constant
 * time, so neither the key's bytes nor its length leak through response timing.
 */
export class ApiKeyGuard {
  private readonly digest: Buffer | undefined;

  constructor(key: string | undefined) {
    this.digest = key === undefined ? undefined : createHash('sha256').update(key).digest();
  }

  get enabled(): boolean {
    return this.digest !== undefined;
  }

  /** True only for the configured key; with no key configured nothing matches. */
  matches(token: string | undefined): boolean {
    if (this.digest === undefined || token === undefined) return false;
    return timingSafeEqual(this.digest, createHash('sha256').update(token).digest());
  }
}
