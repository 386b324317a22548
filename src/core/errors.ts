/**
 * Every error the server can answer, made in one place with a stable `code`.
 * HTTP answers them as RFC 9457 problem+json; WebSocket sends them as error frames.
 * docs/protocol.md lists the same table, and test/unit/docs-agree.test.ts checks they agree.
 */
export const ERROR_CODES = {
  invalid_channel: { status: 400, title: 'Invalid channel name' },
  invalid_json: { status: 400, title: 'Invalid JSON' },
  invalid_cursor: { status: 400, title: 'Invalid cursor' },
  invalid_parameter: { status: 400, title: 'Invalid parameter' },
  invalid_frame: { status: 400, title: 'Invalid WebSocket frame' },
  invalid_request: { status: 400, title: 'Malformed HTTP request' },
  request_timeout: { status: 408, title: 'Request timeout' },
  headers_too_large: { status: 431, title: 'Request headers too large' },
  already_subscribed: { status: 409, title: 'Already subscribed' },
  not_subscribed: { status: 409, title: 'Not subscribed' },
  payload_too_large: { status: 413, title: 'Payload too large' },
  unsupported_media_type: { status: 415, title: 'Unsupported media type' },
  unauthorized: { status: 401, title: 'Unauthorized' },
  token_expired: { status: 401, title: 'Token expired' },
  forbidden: { status: 403, title: 'Forbidden' },
  not_found: { status: 404, title: 'Not found' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  too_many_subscriptions: { status: 400, title: 'Too many subscriptions' },
  rate_limited: { status: 429, title: 'Rate limited' },
  too_many_connections: { status: 429, title: 'Too many connections from this address' },
  server_full: { status: 503, title: 'Server full' },
  unavailable: { status: 503, title: 'Unavailable' },
  internal: { status: 500, title: 'Internal server error' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** An error meant for the client: thrown anywhere below a handler, answered by it. */
export class TidingsError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, detail: string, headers: Record<string, string> = {}) {
    super(detail);
    this.name = 'TidingsError';
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.headers = headers;
  }
}

export interface Problem {
  type: 'about:blank';
  title: string;
  status: number;
  code: ErrorCode;
  detail: string;
}

export function toProblem(err: TidingsError): Problem {
  return { type: 'about:blank', title: ERROR_CODES[err.code].title, status: err.status, code: err.code, detail: err.message };
}

/** Anything thrown that is not a TidingsError is a bug of ours: never leak its text. */
export function asTidingsError(err: unknown): TidingsError {
  if (err instanceof TidingsError) return err;
  return new TidingsError('internal', 'The server failed to handle this request.');
}
