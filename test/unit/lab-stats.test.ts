import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Latencies, PerSecond, SequenceCheck } from '../../web/lab/stats.js';

describe('the lab\'s counters (web/lab/stats.ts)', () => {
  it('SequenceCheck counts a repeat and the size of a hole, and starts again on a new epoch', () => {
    const check = new SequenceCheck();
    for (const offset of [5, 6, 7]) check.see('e1', offset);
    assert.deepEqual([check.repeats, check.holes], [0, 0], 'consecutive offsets are fine, from wherever they start');
    check.see('e1', 7);
    check.see('e1', 6);
    assert.deepEqual([check.repeats, check.holes], [2, 0], 'an offset seen before is a repeat');
    check.see('e1', 10);
    assert.deepEqual([check.repeats, check.holes], [2, 2], 'offsets 8 and 9 skipped');
    check.see('e2', 1);
    check.see('e2', 2);
    assert.deepEqual([check.repeats, check.holes], [2, 2], 'a new epoch starts from its first offset');
  });

  it('Latencies gives nearest-rank quantiles over the last N samples', () => {
    const l = new Latencies(100);
    assert.equal(l.quantile(0.5), undefined);
    for (let ms = 1; ms <= 100; ms++) l.add(ms);
    assert.equal(l.quantile(0.5), 50);
    assert.equal(l.quantile(0.99), 99);
    for (let i = 0; i < 100; i++) l.add(1000);
    assert.equal(l.quantile(0.5), 1000, 'old samples roll out');
  });

  it('PerSecond keeps a 30 s window and shows quiet seconds as zeros', () => {
    const t0 = 1_000_000_000_000;
    const p = new PerSecond(3);
    p.roll(t0);
    p.add(2, t0);
    p.add(1, t0 + 1000);
    assert.deepEqual(p.buckets, [0, 2, 1]);
    p.roll(t0 + 3000);
    assert.deepEqual(p.buckets, [1, 0, 0]);
    p.roll(t0 + 60_000);
    assert.deepEqual(p.buckets, [0, 0, 0]);
  });
});
