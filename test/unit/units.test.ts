import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDuration, parseSize } from '../../src/core/units.js';

describe('parseDuration', () => {
  it('reads a number with a unit', () => {
    const cases: [string, number][] = [
      ['500ms', 500],
      ['15s', 15_000],
      ['1.5s', 1500],
      ['5m', 300_000],
      ['24h', 86_400_000],
      ['1d', 86_400_000],
      [' 2s ', 2000],
      ['2 s', 2000],
      ['0', 0],
      ['0ms', 0],
    ];
    for (const [text, ms] of cases) assert.equal(parseDuration(text), ms, text);
  });

  it('refuses bare numbers, unknown units and nonsense', () => {
    for (const text of ['15', '1000', 'soon', '-1s', '1w', '', 's', '1.s', '1e3ms', '15 seconds']) {
      assert.throws(() => parseDuration(text), /is not a duration/, text);
    }
  });
});

describe('parseSize', () => {
  it('reads bytes and binary multiples', () => {
    const cases: [string, number][] = [
      ['65536', 65536],
      ['0', 0],
      ['10b', 10],
      ['64KiB', 65536],
      ['64k', 65536],
      ['64kb', 65536],
      ['1MiB', 1024 ** 2],
      ['1mb', 1024 ** 2],
      ['1M', 1024 ** 2],
      ['2GiB', 2 * 1024 ** 3],
      ['1.5k', 1536],
      [' 4 KiB ', 4096],
    ];
    for (const [text, bytes] of cases) assert.equal(parseSize(text), bytes, text);
  });

  it('refuses nonsense', () => {
    for (const text of ['huge', '-1', '1TB', '', 'KiB', '1 K B', '0x10']) {
      assert.throws(() => parseSize(text), /is not a size/, text);
    }
  });
});
