import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffDelay } from '../../src/core/backoff.js';
import { SseParser, type SseRecord } from '../../src/client/sse-parser.js';
import { tokenExpiry } from '../../src/client/token.js';

function parse(...chunks: string[]): SseRecord[] {
  const out: SseRecord[] = [];
  const p = new SseParser((r) => out.push(r));
  for (const c of chunks) p.push(c);
  return out;
}

describe('SseParser (WHATWG HTML § 9.2.6), without sockets', () => {
  it('reads records split anywhere, with LF, CRLF or CR line ends', () => {
    const text = 'retry: 2000\n\nid: c0\n\nid: c1\nevent: tick\ndata: {"a":1}\n\n: ping\n\nid: c2\ndata: x\n\n';
    const expected: SseRecord[] = [
      { event: 'message', data: undefined, id: 'c0' },
      { event: 'tick', data: '{"a":1}', id: 'c1' },
      { event: 'message', data: 'x', id: 'c2' },
    ];
    assert.deepEqual(parse(text), expected);
    assert.deepEqual(parse(...text.split('')), expected, 'one character at a time');
    assert.deepEqual(parse(text.replace(/\n/g, '\r\n')), expected, 'CRLF');
    assert.deepEqual(parse(...text.replace(/\n/g, '\r\n').split('')), expected, 'CRLF split between \\r and \\n');
    assert.deepEqual(parse(text.replace(/\n/g, '\r')), expected, 'CR');
  });

  it('joins data lines, keeps a value without a leading space, ignores retry and unknown fields', () => {
    assert.deepEqual(parse('data:a\ndata: b\nfoo: bar\nretry: 10\n\n'), [{ event: 'message', data: 'a\nb', id: undefined }]);
    assert.deepEqual(parse('retry: 10\n\n: comment only\n\n'), [], 'nothing to report');
    assert.deepEqual(parse('data: incomplete'), [], 'no record before its blank line');
  });
});

describe('backoffDelay: full jitter', () => {
  it('is uniform in [0, min(max, min·2^attempt)]', () => {
    const opts = { min: 500, max: 20_000 };
    assert.equal(backoffDelay(0, opts, () => 0), 0);
    assert.equal(backoffDelay(0, opts, () => 0.999999), 499);
    assert.equal(backoffDelay(3, opts, () => 0.5), 2000);
    assert.equal(backoffDelay(10, opts, () => 0.5), 10_000, 'capped at max');
    assert.equal(backoffDelay(5000, opts, () => 0.5), 10_000, 'no overflow');
    for (let i = 0; i < 100; i++) {
      const d = backoffDelay(2, opts);
      assert.ok(d >= 0 && d < 2000);
    }
  });
});

describe('tokenExpiry', () => {
  const jwt = (payload: object) => `h.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.s`;
  it('reads a JWT exp in ms; anything else is undefined', () => {
    assert.equal(tokenExpiry(jwt({ exp: 1700000000, sub: 'ü' })), 1700000000_000);
    assert.equal(tokenExpiry(jwt({ sub: 'x' })), undefined);
    assert.equal(tokenExpiry('an-api-key'), undefined);
    assert.equal(tokenExpiry('a.!!!.c'), undefined);
    assert.equal(tokenExpiry(undefined), undefined);
  });
});

describe('Tidings options', () => {
  it('refuses bad timings and unknown transports at construction, with the option named', async () => {
    const { Tidings } = await import('../../src/client/node.js');
    assert.throws(() => new Tidings('http://127.0.0.1:1', { shortPollInterval: -1 }), /shortPollInterval must be a positive number of ms/);
    assert.throws(() => new Tidings('http://127.0.0.1:1', { longPollWait: 0 }), /longPollWait must be a positive number of seconds/);
    assert.throws(() => new Tidings('http://127.0.0.1:1', { requestTimeout: Number.NaN }), /requestTimeout/);
    assert.throws(() => new Tidings('http://127.0.0.1:1', { transports: ['carrier-pigeon' as 'ws'] }), /transports must name some of ws, sse, long-poll, short-poll/);
    assert.throws(() => new Tidings('http://127.0.0.1:1', { transports: [] }), /transports must name/);
    new Tidings('http://127.0.0.1:1', { transports: ['sse'], longPollWait: 5 }).close();
  });
});
