import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { requestTarget } from '../../src/http/request-target.js';

/** What the URL parser makes of a request target: the reference the hand-split path must match. */
function byUrl(raw: string): { pathname: string; params: [string, string][] } | undefined {
  try {
    const url = raw.startsWith('/') ? new URL(`http://x${raw}`) : new URL(raw, 'http://x');
    return { pathname: url.pathname, params: [...url.searchParams] };
  } catch {
    return undefined;
  }
}

function split(raw: string): { pathname: string; params: [string, string][] } | undefined {
  const target = requestTarget(raw);
  return target === undefined ? undefined : { pathname: target.pathname, params: [...target.searchParams] };
}

/** Characters that matter to a URL parser: separators, escapes, dots, spaces, non-ASCII. */
const URLISH = [...'/?#&=%+.-_~ aZ09\\;:@!$\'()*,"<>`{}|^[]'].concat(['é', '€', '%2F', '%41', '%zz', '..', '//']);
const target = fc.array(fc.constantFrom(...URLISH), { maxLength: 30 }).map((parts) => `/${parts.join('')}`);

describe('request target (src/http/request-target.ts)', () => {
  it('splits what the URL parser would give for any origin-form target', () => {
    fc.assert(
      fc.property(target, (raw) => {
        assert.deepEqual(split(raw), byUrl(raw), raw);
      }),
      { numRuns: 5000, seed: 20261124 },
    );
  });

  it('matches the URL parser on the shapes the API uses', () => {
    for (const raw of [
      '/v1/poll?channel=a&cursor=1abc_-&wait=30',
      '/v1/poll?channel=a%2Fb&channel=c+d',
      '/v1/poll',
      '/v1/poll?',
      '/v1/poll?channel=a#frag',
      '/v1/./poll?channel=a',
      '/v1/../v1/poll?x=1',
      '/v1\\poll?x=1',
      '/v1/channels/a%2Fb/messages?last=3',
      '//evil/v1/poll',
      '/',
      '*',
    ]) {
      assert.deepEqual(split(raw), byUrl(raw), raw);
    }
  });
});
