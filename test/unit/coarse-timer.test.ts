import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CoarseTimer } from '../../src/core/coarse-timer.js';
import { waitFor } from '../helpers/server.js';

describe('CoarseTimer (src/core/coarse-timer.ts)', () => {
  it('fires each entry at or after its deadline, in deadline order', async () => {
    const timer = new CoarseTimer(20);
    try {
      const start = Date.now();
      const fired: [string, number][] = [];
      timer.at(start + 60, () => fired.push(['b', Date.now() - start]));
      timer.at(start + 20, () => fired.push(['a', Date.now() - start]));
      timer.at(start + 100, () => fired.push(['c', Date.now() - start]));
      // Generous: a loaded machine delays every timer; lateness is not what this checks.
      await waitFor(() => fired.length === 3, 10_000, 'three entries');
      assert.deepEqual(
        fired.map(([name]) => name),
        ['a', 'b', 'c'],
      );
      const deadlines: Record<string, number> = { a: 20, b: 60, c: 100 };
      for (const [name, at] of fired) {
        assert.ok(at >= deadlines[name]! - 1, `${name} not early (${at} ms)`);
      }
    } finally {
      timer.stop();
    }
  });

  it('thousands of far deadlines (token expiries hours away) neither fire early nor hold back a near one; an entry added while firing fires too', async () => {
    const timer = new CoarseTimer(10);
    try {
      const now = Date.now();
      let far = 0;
      for (let i = 0; i < 5000; i++) timer.at(now + 3_600_000 - i * 700, () => far++);
      const order: string[] = [];
      timer.at(now + 40, () => order.push('second'));
      timer.at(now + 20, () => {
        order.push('first');
        timer.at(Date.now(), () => order.push('added while firing'));
      });
      await waitFor(() => order.length === 3, 10_000, 'the near entries');
      assert.deepEqual(order.slice(0, 1), ['first']);
      assert.deepEqual(new Set(order), new Set(['first', 'second', 'added while firing']));
      assert.equal(far, 0);
    } finally {
      timer.stop();
    }
  });

  it('a deadline in the past fires on the next tick', async () => {
    const timer = new CoarseTimer(10);
    let fired = false;
    timer.at(Date.now() - 1000, () => (fired = true));
    await waitFor(() => fired, 5000, 'past deadline');
    timer.stop();
  });

  it('a cancelled entry never fires; cancelling twice or after firing is harmless', async () => {
    const timer = new CoarseTimer(10);
    let cancelledFired = false;
    let kept = 0;
    const cancel = timer.at(Date.now() + 20, () => (cancelledFired = true));
    const cancelKept = timer.at(Date.now() + 20, () => kept++);
    cancel();
    cancel();
    await waitFor(() => kept === 1, 5000, 'the kept entry');
    cancelKept();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(cancelledFired, false);
    assert.equal(kept, 1, 'fires once');
    timer.stop();
  });

  it('an entry may cancel another of the same bucket from inside its callback', async () => {
    const timer = new CoarseTimer(10);
    const deadline = Date.now() + 20;
    const fired: string[] = [];
    // eslint-disable-next-line prefer-const
    let cancelSecond: () => void;
    timer.at(deadline, () => {
      fired.push('first');
      cancelSecond();
    });
    cancelSecond = timer.at(deadline, () => fired.push('second'));
    await waitFor(() => fired.length >= 1, 5000, 'first');
    await new Promise((r) => setTimeout(r, 40));
    assert.deepEqual(fired, ['first']);
    timer.stop();
  });

  it('stop() drops every entry', async () => {
    const timer = new CoarseTimer(10);
    let fired = false;
    timer.at(Date.now() + 20, () => (fired = true));
    timer.stop();
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(fired, false);
    // And it can be used again afterwards.
    let again = false;
    timer.at(Date.now(), () => (again = true));
    await waitFor(() => again, 5000, 'reuse after stop');
    timer.stop();
  });

  it('holds a thousand deadlines with one interval and fires them all', async () => {
    const timer = new CoarseTimer(10);
    let count = 0;
    const now = Date.now();
    for (let i = 0; i < 1000; i++) timer.at(now + (i % 50), () => count++);
    await waitFor(() => count === 1000, 10_000, '1000 entries');
    timer.stop();
  });
});
