import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Message } from '../../src/core/message.js';
import type { ReadResult } from '../../src/engines/engine.js';
import { catchUpStep } from '../../src/hub/catch-up.js';

/** A page as the engine would answer `read(channel, after, …)` with `first..last` retained. */
function page(epoch: string, first: number, last: number, after: number): ReadResult {
  const messages: Message[] = [];
  for (let o = Math.max(after + 1, first); o <= last; o++) {
    messages.push(new Message({ channel: 'ch', offset: o, epoch, time: 0, data: o }));
  }
  return { channel: 'ch', epoch, first, last, messages };
}

const offsets = (ms: readonly Message[]) => ms.map((m) => m.offset);

describe('catchUpStep (src/hub/catch-up.ts)', () => {
  it('inside the history: no gap, the messages after the position, position at the last one', () => {
    const step = catchUpStep({ epoch: 'E', offset: 3 }, page('E', 1, 6, 3));
    assert.equal(step.gap, undefined);
    assert.deepEqual(offsets(step.messages), [4, 5, 6]);
    assert.deepEqual(step.position, { epoch: 'E', offset: 6 });
  });

  it('at the end: nothing, and the position stays', () => {
    const step = catchUpStep({ epoch: 'E', offset: 6 }, page('E', 1, 6, 6));
    assert.equal(step.gap, undefined);
    assert.deepEqual(step.messages, []);
    assert.deepEqual(step.position, { epoch: 'E', offset: 6 });
  });

  it('right before the oldest retained message is not a gap', () => {
    const step = catchUpStep({ epoch: 'E', offset: 4 }, page('E', 5, 8, 4));
    assert.equal(step.gap, undefined);
    assert.deepEqual(offsets(step.messages), [5, 6, 7, 8]);
  });

  it('behind the trimmed history: a gap from the asked offset to the oldest retained', () => {
    const step = catchUpStep({ epoch: 'E', offset: 2 }, page('E', 5, 8, 2));
    assert.deepEqual(step.gap, { channel: 'ch', epoch: 'E', from: 3, first: 5 });
    assert.deepEqual(offsets(step.messages), [5, 6, 7, 8]);
    assert.deepEqual(step.position, { epoch: 'E', offset: 8 });
  });

  it('behind a history that is now empty: a gap, and the position moves to the end', () => {
    const step = catchUpStep({ epoch: 'E', offset: 2 }, page('E', 9, 8, 2));
    assert.deepEqual(step.gap, { channel: 'ch', epoch: 'E', from: 3, first: 9 });
    assert.deepEqual(step.messages, []);
    assert.deepEqual(step.position, { epoch: 'E', offset: 8 });
  });

  it('another epoch: a gap, delivery from the oldest retained, in the new epoch', () => {
    const step = catchUpStep({ epoch: 'OLD', offset: 3 }, page('NEW', 1, 5, 0));
    assert.deepEqual(step.gap, { channel: 'ch', epoch: 'NEW', from: 4, first: 1 });
    assert.deepEqual(offsets(step.messages), [1, 2, 3, 4, 5]);
    assert.deepEqual(step.position, { epoch: 'NEW', offset: 5 });
  });

  it('another epoch with an empty channel: a gap, position at 0 in the new epoch', () => {
    const step = catchUpStep({ epoch: 'OLD', offset: 3 }, page('NEW', 1, 0, 0));
    assert.deepEqual(step.gap, { channel: 'ch', epoch: 'NEW', from: 4, first: 1 });
    assert.deepEqual(step.position, { epoch: 'NEW', offset: 0 });
  });

  it('a position past the end of the same epoch is clamped, not trusted', () => {
    const step = catchUpStep({ epoch: 'E', offset: 99 }, page('E', 1, 5, 99));
    assert.equal(step.gap, undefined);
    assert.deepEqual(step.position, { epoch: 'E', offset: 5 });
    // So the next message, offset 6, is delivered rather than taken as already seen.
    const next = catchUpStep(step.position, page('E', 1, 6, 5));
    assert.deepEqual(offsets(next.messages), [6]);
  });
});
