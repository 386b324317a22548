import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeCursor } from '../../src/core/cursor.js';
import { DeliveryLedger } from '../../bench/hardening/lib/delivery-ledger.js';

// The soak's and reconnect storm's lost/duplicate figures come from this bookkeeping.
describe('DeliveryLedger (soak and reconnect-storm bookkeeping)', () => {
  it('counts in-order messages after a cursor as delivered', () => {
    const l = new DeliveryLedger();
    l.start(1, encodeCursor([['a', { epoch: 'e', offset: 4 }]]));
    for (const o of [5, 6, 7]) l.message(1, 'a', 'e', o);
    assert.deepEqual([l.delivered, l.lost, l.duplicates], [3, 0, 0]);
    assert.equal(l.caughtUp(new Map([['a', 7]])), true);
    assert.equal(l.caughtUp(new Map([['a', 8]])), false);
  });

  it('counts a skipped offset as lost and a repeated one as a duplicate', () => {
    const l = new DeliveryLedger();
    l.start(1, encodeCursor([['a', { epoch: 'e', offset: 0 }]]));
    for (const o of [1, 3, 3, 2]) l.message(1, 'a', 'e', o);
    assert.deepEqual([l.delivered, l.lost, l.duplicates], [2, 1, 2]);
  });

  it('settle() counts what a subscriber never got up to the final offset', () => {
    const l = new DeliveryLedger();
    l.startAt(1, 'a', 'e', 10);
    l.startAt(2, 'a', 'e', 10);
    l.message(1, 'a', 'e', 11);
    assert.deepEqual(l.settle(new Map([['a', 12]])), { missing: 3 });
    assert.equal(l.lost, 3);
  });

  it('ignores messages from before counting began (startAt), as neither delivered nor repeated', () => {
    const l = new DeliveryLedger();
    l.startAt(1, 'a', 'e', 10);
    l.message(1, 'a', 'e', 10);
    l.message(1, 'a', 'e', 11);
    assert.deepEqual([l.delivered, l.lost, l.duplicates], [1, 0, 0]);
  });
});
