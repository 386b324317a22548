import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TidingsError } from '../../src/core/errors.js';
import { MAX_JSON_DEPTH, assertJsonDepth } from '../../src/core/json-depth.js';

const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

describe('assertJsonDepth', () => {
  it(`takes JSON nested up to ${MAX_JSON_DEPTH} levels`, () => {
    assertJsonDepth(nested(MAX_JSON_DEPTH), 'x');
    assertJsonDepth('{"a":{"b":[1,2,{"c":null}]}}', 'x');
    assertJsonDepth('"no brackets"', 'x');
  });

  it('refuses one level more as invalid_json', () => {
    assert.throws(
      () => assertJsonDepth(nested(MAX_JSON_DEPTH + 1), 'The body'),
      (err: unknown) => err instanceof TidingsError && err.code === 'invalid_json' && /deeper than/.test(err.message),
    );
  });

  it('does not count brackets inside strings, escaped quotes included', () => {
    assertJsonDepth(JSON.stringify({ s: '['.repeat(5000), t: 'a\\"[[[' + '{'.repeat(500) }), 'x');
  });
});

describe('WebSocket frames nested too deep', () => {
  it('are refused as invalid_json by the frame parser, not left to fail later', async () => {
    const { parseClientFrame } = await import('../../src/transports/ws-frames.js');
    const deep = `{"type":"publish","channel":"x","data":${'['.repeat(5000)}${']'.repeat(5000)}}`;
    const parsed = parseClientFrame(deep, false);
    assert.equal(parsed.ok, false);
    assert.equal(!parsed.ok && parsed.error.code, 'invalid_json');
  });
});
