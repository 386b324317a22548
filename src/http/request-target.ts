/** A path the URL parser would hand back unchanged: no dot segments, escapes, empty segments or odd characters. */
const PLAIN_PATH = /^(?:\/[A-Za-z0-9_~-]+)+$/;

/**
 * The request target's path and query, or undefined when it is not a URL path. The paths
 * every poll and publish use are split by hand: a URL object per request is a measurable
 * share of a long poll's cost (bench/notes.md), and for a plain path and a query without
 * `#` the URL parser gives the same path and parameters. Anything else goes through it.
 * `new URL('//', base)` reads "//…" as a host and throws, so an origin-form target is
 * appended to the base instead; absolute-form junk may still throw, and must not escape.
 */
export function requestTarget(target: string | undefined): { pathname: string; searchParams: URLSearchParams } | undefined {
  const raw = target ?? '/';
  const q = raw.indexOf('?');
  const path = q === -1 ? raw : raw.slice(0, q);
  if (PLAIN_PATH.test(path) && !raw.includes('#', q)) return { pathname: path, searchParams: new URLSearchParams(q === -1 ? '' : raw.slice(q + 1)) };
  try {
    return raw.startsWith('/') ? new URL(`http://x${raw}`) : new URL(raw, 'http://x');
  } catch {
    return undefined;
  }
}
