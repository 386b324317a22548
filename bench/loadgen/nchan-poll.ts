import type { PollDialect } from './poll-fleet.js';

/** Nchan's message id of the last message a poller has: its `Last-Modified` and `Etag` answer headers. */
export interface NchanId {
  lastModified: string;
  etag: string;
}

const header = (h: Record<string, string | string[] | undefined>, name: string): string | undefined => {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
};

/**
 * The message bodies of a multipart/mixed answer (RFC 2046 § 5.1.1): parts between
 * `--boundary` lines, each with its own headers, a blank line, then the body. Nchan's
 * long poll answers every message after the client's id this way.
 */
export function multipartBodies(body: string, contentType: string): string[] {
  const m = /boundary="?([^";]+)"?/.exec(contentType);
  if (m === null) throw new Error(`multipart answer without a boundary: ${contentType}`);
  const parts = body.split(`--${m[1]}`);
  // parts[0] is the preamble, the last one the `--` after the closing delimiter.
  return parts.slice(1, -1).map((part) => {
    const headEnd = part.indexOf('\r\n\r\n');
    if (headEnd < 0 || !part.endsWith('\r\n')) throw new Error(`malformed multipart part: ${part.slice(0, 80)}`);
    return part.slice(headEnd + 4, -2);
  });
}

/**
 * Nchan's pollers: long poll on `/lp` (multipart answers, every message after the id) and
 * short poll on `/sp` (`intervalpoll`: one message an answer, 304 when there is none). The
 * id of the last message goes back as `If-Modified-Since` and `If-None-Match`, as Nchan's
 * own client does. Nchan's channel is empty when they start and a poller with no id starts
 * at the oldest message, so each is subscribed at once, with no request.
 *
 * A short poller asks again at once after a message (one answer holds one, more may be
 * waiting) and waits one interval after a 304: the fastest a single-message poller can go.
 * A 304 leaves the id as it was: none yet, for a short poller before the first message.
 * How long a long poll is parked is Nchan's setting (nchan.conf), not the request's.
 */
export function nchanPoll(long: boolean): PollDialect<NchanId | undefined> {
  return {
    asksWhereToStart: false,
    shortPacing: 'again-after-message',
    request: (id) => {
      const headers: Record<string, string> = id === undefined ? {} : { 'if-modified-since': id.lastModified, 'if-none-match': id.etag };
      return { path: long ? '/lp' : '/sp', headers };
    },
    read: ({ statusCode, headers, text }, id) => {
      // 304: nothing new (a short poll, or a long poll's timeout); 408 is how some versions time out.
      if (statusCode === 304 || statusCode === 408) {
        return { messages: [], position: id, gaps: 0 };
      }
      if (statusCode !== 200) throw new Error(`Nchan poll answered ${statusCode}: ${text.slice(0, 200)}`);
      const type = header(headers, 'content-type') ?? '';
      const bodies = type.startsWith('multipart/') ? multipartBodies(text, type) : [text];
      const lastModified = header(headers, 'last-modified');
      const etag = header(headers, 'etag');
      if (lastModified === undefined || etag === undefined) throw new Error('Nchan answer without Last-Modified or Etag');
      return { messages: bodies.map((b) => JSON.parse(b) as unknown), position: { lastModified, etag }, gaps: 0 };
    },
  };
}
