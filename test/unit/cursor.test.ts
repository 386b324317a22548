import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeCursor, encodeCursor, encodeSingle, type Position } from '../../src/core/cursor.js';
import { TidingsError } from '../../src/core/errors.js';

const b64 = (text: string) => '1' + Buffer.from(text, 'latin1').toString('base64url');

function rejects(cursor: string, why: string): void {
  assert.throws(
    () => decodeCursor(cursor),
    (err: unknown) => err instanceof TidingsError && err.code === 'invalid_cursor' && err.status === 400,
    `${why}: ${cursor.slice(0, 40)}`,
  );
}

describe('cursor codec (src/core/cursor.ts)', () => {
  it('round-trips positions in several channels, channel characters included', () => {
    const positions: [string, Position][] = [
      ['prices', { epoch: 'f3k9', offset: 42 }],
      ['a.b:c@d/e-f_g', { epoch: 'A-b_9', offset: 0 }],
      ['x'.repeat(200), { epoch: 'e'.repeat(64), offset: 999_999_999_999_999 }],
    ];
    const cursor = encodeCursor(positions);
    assert.match(cursor, /^1[A-Za-z0-9_-]+$/, 'URL-safe');
    assert.deepEqual([...decodeCursor(cursor)], positions);
  });

  it('encodeSingle is the one-channel cursor', () => {
    assert.equal(encodeSingle('ch', 'ep', 7), encodeCursor([['ch', { epoch: 'ep', offset: 7 }]]));
    assert.deepEqual(decodeCursor(encodeSingle('ch', 'ep', 7)).get('ch'), { epoch: 'ep', offset: 7 });
  });

  it('a later entry for the same channel wins', () => {
    assert.equal(decodeCursor(b64('e1.1.ch,e2.5.ch')).get('ch')?.offset, 5);
  });

  it('rejects what the server never hands out', () => {
    rejects('', 'empty');
    rejects('1', 'version only');
    rejects('2' + Buffer.from('e.1.ch').toString('base64url'), 'unknown version');
    rejects('1abc+/=', 'not base64url');
    rejects('1' + 'A'.repeat(64 * 1024), 'too long');
    rejects(b64('nodots'), 'no dots');
    rejects(b64('e.1'), 'one dot');
    rejects(b64('e.x.ch'), 'offset not a number');
    rejects(b64('e.-1.ch'), 'negative offset');
    rejects(b64('e.1e3.ch'), 'offset with exponent');
    rejects(b64('e.1234567890123456.ch'), 'offset over 15 digits');
    rejects(b64('.1.ch'), 'empty epoch');
    rejects(b64('e!.1.ch'), 'bad epoch character');
    rejects(b64(`${'e'.repeat(65)}.1.ch`), 'epoch too long');
    rejects(b64('e.1.'), 'empty channel');
    rejects(b64('e.1.bad name'), 'bad channel character');
    rejects(b64(`e.1.${'c'.repeat(201)}`), 'channel too long');
    rejects(b64('e.1.ok,'), 'trailing comma');
    rejects(b64('e.1.ok,,e.2.b'), 'empty entry');
  });
});
