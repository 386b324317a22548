import type { IncomingMessage, ServerResponse } from 'node:http';

/** Allowed browser origins: `*` or an exact list (scheme://host[:port]). */
export class OriginPolicy {
  private readonly any: boolean;
  private readonly allowed: Set<string>;

  constructor(origins: readonly string[]) {
    this.any = origins.includes('*');
    this.allowed = new Set(origins.filter((o) => o !== '*').map((o) => o.toLowerCase()));
  }

  /** Requests without an Origin header are not from a browser page and are not limited. */
  allows(origin: string | undefined): boolean {
    return origin === undefined || this.any || this.allowed.has(origin.toLowerCase());
  }

  /** Adds CORS headers for an allowed origin; answers a preflight itself and says so. */
  apply(req: IncomingMessage, res: ServerResponse): 'preflight-answered' | 'continue' {
    const origin = req.headers.origin;
    if (origin !== undefined && this.allows(origin)) {
      res.setHeader('access-control-allow-origin', this.any ? '*' : origin);
      if (!this.any) res.setHeader('vary', 'Origin');
      res.setHeader('access-control-expose-headers', 'Content-Type, Retry-After');
    }
    if (req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined) {
      if (origin !== undefined && this.allows(origin)) {
        res.setHeader('access-control-allow-methods', 'GET, POST, OPTIONS');
        res.setHeader('access-control-allow-headers', 'Authorization, Content-Type, Idempotency-Key, Last-Event-ID');
        res.setHeader('access-control-max-age', '600');
      }
      res.writeHead(204).end();
      return 'preflight-answered';
    }
    return 'continue';
  }
}
