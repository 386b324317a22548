import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffDelay } from '../../src/core/backoff.js';
import { UNAVAILABLE_RETRY } from '../../src/hub/subscription.js';

describe('the hub\'s catch-up retry: backoffDelay with UNAVAILABLE_RETRY (src/core/backoff.ts, src/hub/subscription.ts)', () => {
  it('the ceiling starts at the base, doubles per failure in a row and stops at the maximum', () => {
    const top = () => 1 - Number.EPSILON;
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5, 6, 60].map((attempt) => backoffDelay(attempt, UNAVAILABLE_RETRY, top)),
      [499, 999, 1999, 3999, 7999, 7999, 7999, 7999],
    );
    assert.equal(backoffDelay(3, UNAVAILABLE_RETRY, () => 0), 0, 'full jitter reaches down to no wait at all');
  });

  it('spreads waits over the whole window, never at or past the ceiling', () => {
    const waits = Array.from({ length: 2000 }, () => backoffDelay(1, { min: 500, max: 8000 }));
    assert.ok(waits.every((w) => Number.isInteger(w) && w >= 0 && w < 1000), 'every wait in [0, 1000)');
    // 2000 draws: each quarter of the window is hit (a lockstep retry would put them all in one).
    for (let q = 0; q < 4; q++) assert.ok(waits.some((w) => w >= q * 250 && w < (q + 1) * 250), `a wait in quarter ${q}`);
  });
});
