/**
 * Why the server ends a subscriber connection: one table for server and SDK. `ws` is the
 * WebSocket close code; SSE sends the reason in a final `event: close` where it can.
 * `resume: true` means the client should reconnect and resume by its cursor.
 */
export const CLOSE_REASONS = {
  shutdown: { ws: 1001, resume: true, text: 'server shutting down' },
  policy_violation: { ws: 1008, resume: false, text: 'too many malformed frames' },
  message_too_big: { ws: 1009, resume: false, text: 'frame larger than the limit' },
  internal_error: { ws: 1011, resume: true, text: 'server error' },
  /** A connection limit was reached (RFC 6455 § 7.4.1 1013 "Try Again Later"): resume after a backoff. */
  over_capacity: { ws: 1013, resume: true, text: 'connection limit reached: retry later' },
  slow_consumer: { ws: 4000, resume: true, text: 'outgoing queue over its bound: resume by cursor' },
  /** The credential lapsed: get a fresh token, then resume by cursor. */
  token_expired: { ws: 4001, resume: true, text: 'token expired: reconnect with a fresh token' },
  dead_peer: { ws: 4002, resume: true, text: 'no answer to pings' },
} as const satisfies Record<string, { ws: number; resume: boolean; text: string }>;

export type CloseReason = keyof typeof CLOSE_REASONS;
