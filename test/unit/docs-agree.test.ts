import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { SETTINGS } from '../../src/config.js';
import { CLOSE_REASONS } from '../../src/core/close-reasons.js';
import { ERROR_CODES } from '../../src/core/errors.js';

// dist/test/unit → the repository root.
const root = new URL('../../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');

/** Rows of the Markdown table that follows `heading`, as arrays of trimmed cells. */
function tableAfter(text: string, heading: string): string[][] {
  const start = text.indexOf(heading);
  assert.ok(start >= 0, `heading ${heading} not found`);
  const rows: string[][] = [];
  let inTable = false;
  for (const line of text.slice(start).split('\n').slice(1)) {
    if (line.startsWith('|')) {
      inTable = true;
      const cells = line.split('|').slice(1, -1).map((c) => c.trim().replace(/^`|`$/g, ''));
      if (!cells.every((c) => /^-+$/.test(c))) rows.push(cells);
    } else if (inTable) break;
  }
  return rows.slice(1); // the header row
}

describe('docs agree with the code', () => {
  it('docs/protocol.md lists every error code with its status', () => {
    const rows = tableAfter(read('docs/protocol.md'), '## Error codes');
    const documented = Object.fromEntries(rows.map(([code, status]) => [code, Number(status)]));
    const actual = Object.fromEntries(Object.entries(ERROR_CODES).map(([code, e]) => [code, e.status]));
    assert.deepEqual(documented, actual);
  });

  it('docs/protocol.md lists every close reason with its code', () => {
    const rows = tableAfter(read('docs/protocol.md'), '## Close reasons');
    const documented = Object.fromEntries(rows.map(([reason, code, resume]) => [reason, [Number(code), resume === 'yes']]));
    const actual = Object.fromEntries(Object.entries(CLOSE_REASONS).map(([reason, r]) => [reason, [r.ws, r.resume]]));
    assert.deepEqual(documented, actual);
  });

  it('the README configuration table has every setting with its env var and default', () => {
    const rows = tableAfter(read('README.md'), '## Configuration');
    const documented = rows.map(([flag, env, def]) => [flag, env, def]);
    const actual = SETTINGS.map((s) => [s.flag, s.env, s.default ?? '(unset)']);
    assert.deepEqual(documented, actual);
  });
});
