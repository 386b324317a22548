import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { FlushScheduler, Outbox, WRITE_NOW_BYTES } from '../../src/transports/outbox.js';

/** A socket that records each write: what it got, and when. */
class RecordingSocket extends Writable {
  readonly writes: { text: string; at: number }[] = [];
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.writes.push({ text: chunk.toString(), at: performance.now() });
    done();
  }
}

const until = async (check: () => boolean, what: string): Promise<void> => {
  for (let i = 0; i < 500; i++) {
    if (check()) return;
    await sleep(5);
  }
  assert.fail(`timed out waiting for ${what}`);
};

describe('the outbox and its flush scheduler (src/transports/outbox.ts)', () => {
  it('without a gap: what a turn pushes leaves in one write at the end of the turn, every turn', async () => {
    const socket = new RecordingSocket();
    const outbox = new Outbox(new FlushScheduler(0), socket);
    outbox.push(Buffer.from('a'));
    outbox.push(Buffer.from('b'));
    assert.equal(socket.writes.length, 0, 'nothing is written during the turn');
    await nextTurn();
    assert.deepEqual(socket.writes.map((w) => w.text), ['ab']);
    outbox.push(Buffer.from('c'));
    await nextTurn();
    assert.deepEqual(socket.writes.map((w) => w.text), ['ab', 'c']);
  });

  it('with a gap: a quiet connection is written at the end of the turn; one written less than the gap ago waits for it and then gets everything in one write', async () => {
    const gapMs = 60;
    const socket = new RecordingSocket();
    const outbox = new Outbox(new FlushScheduler(gapMs), socket);
    outbox.push(Buffer.from('1'));
    await nextTurn();
    assert.deepEqual(socket.writes.map((w) => w.text), ['1'], 'the first write does not wait');

    outbox.push(Buffer.from('2'));
    await nextTurn();
    await sleep(5);
    outbox.push(Buffer.from('3'));
    await nextTurn();
    assert.equal(socket.writes.length, 1, 'within the gap, nothing more is written');

    await until(() => socket.writes.length === 2, 'the second write');
    assert.equal(socket.writes[1]!.text, '23', 'what came within the gap leaves together, in order');
    assert.ok(socket.writes[1]!.at - socket.writes[0]!.at >= gapMs - 1, `the second write waited for the gap (${(socket.writes[1]!.at - socket.writes[0]!.at).toFixed(1)} ms)`);

    await sleep(gapMs + 10);
    outbox.push(Buffer.from('4'));
    await nextTurn();
    assert.deepEqual(socket.writes.map((w) => w.text), ['1', '23', '4'], 'quiet for the gap again: written at the end of the turn');
  });

  it('one timer serves connections whose gaps end at different times, each written once its own gap is over', async () => {
    const gapMs = 40;
    const scheduler = new FlushScheduler(gapMs);
    const early = new RecordingSocket();
    const late = new RecordingSocket();
    const earlyBox = new Outbox(scheduler, early);
    const lateBox = new Outbox(scheduler, late);
    earlyBox.push(Buffer.from('e1'));
    await nextTurn();
    await sleep(15);
    lateBox.push(Buffer.from('l1'));
    await nextTurn();
    // Both within their gaps now; the late one's gap ends ~15 ms after the early one's.
    lateBox.push(Buffer.from('l2'));
    earlyBox.push(Buffer.from('e2'));
    await until(() => early.writes.length === 2 && late.writes.length === 2, 'both second writes');
    assert.deepEqual(early.writes.map((w) => w.text), ['e1', 'e2']);
    assert.deepEqual(late.writes.map((w) => w.text), ['l1', 'l2']);
    for (const s of [early, late]) assert.ok(s.writes[1]!.at - s.writes[0]!.at >= gapMs - 1, 'neither was written before its gap was over');
  });

  it('a flush asked for directly (before a close, or to pace a replay) writes at once, gap or not', async () => {
    const socket = new RecordingSocket();
    const outbox = new Outbox(new FlushScheduler(1000), socket);
    outbox.push(Buffer.from('x'));
    await nextTurn();
    outbox.push(Buffer.from('y'));
    await outbox.drained();
    assert.deepEqual(socket.writes.map((w) => w.text), ['x', 'y']);
    outbox.push(Buffer.from('z'));
    outbox.discard();
    await sleep(20);
    assert.deepEqual(socket.writes.map((w) => w.text), ['x', 'y'], 'discarded bytes are never written');
  });

  it('bytes held for the gap are not a slow consumer\'s backlog, and a gap\'s worth past WRITE_NOW_BYTES is written at once', async () => {
    const socket = new RecordingSocket();
    const outbox = new Outbox(new FlushScheduler(1000), socket);
    outbox.push(Buffer.from('first'));
    await nextTurn();
    outbox.push(Buffer.alloc(1000));
    assert.equal(outbox.unsent, 0, 'the socket is empty: the peer keeps up, whatever the gap holds');
    assert.equal(socket.writes.length, 1);
    outbox.push(Buffer.alloc(WRITE_NOW_BYTES));
    assert.equal(socket.writes.length, 2, 'written without waiting for the gap');
    assert.equal(socket.writes[1]!.text.length, 1000 + WRITE_NOW_BYTES);
  });

  it('once the socket holds unsent bytes, what waits behind them counts too', () => {
    // A socket that never finishes a write: a peer that stopped reading.
    const stuck = new Writable({ highWaterMark: 64, write: () => {} });
    const outbox = new Outbox(new FlushScheduler(1000), stuck);
    outbox.push(Buffer.alloc(100));
    outbox.flush();
    assert.equal(outbox.unsent, 100);
    outbox.push(Buffer.alloc(50));
    assert.equal(outbox.unsent, 150);
  });

  it('a reply the client waits for leaves at the end of the turn, gap or not, behind what waited before it', async () => {
    const socket = new RecordingSocket();
    const outbox = new Outbox(new FlushScheduler(1000), socket);
    outbox.push(Buffer.from('m1'));
    await nextTurn();
    outbox.push(Buffer.from('m2'));
    await nextTurn();
    assert.equal(socket.writes.length, 1, 'm2 waits for the gap');
    outbox.push(Buffer.from('ack'), true);
    await nextTurn();
    assert.deepEqual(socket.writes.map((w) => w.text), ['m1', 'm2ack'], 'the reply takes what waited with it, in order');
  });

  it('a connection written early (a reply) and listed again waits for its new gap, not for the old one', async () => {
    const gapMs = 80;
    const socket = new RecordingSocket();
    const outbox = new Outbox(new FlushScheduler(gapMs), socket);
    outbox.push(Buffer.from('m1'));
    await nextTurn();
    outbox.push(Buffer.from('m2')); // listed for the end of m1's gap
    await sleep(20);
    outbox.push(Buffer.from('ack'), true);
    await nextTurn();
    assert.deepEqual(socket.writes.map((w) => w.text), ['m1', 'm2ack']);
    outbox.push(Buffer.from('m3')); // listed again, for the end of the reply's gap
    await until(() => socket.writes.length === 3, 'the third write');
    const waited = socket.writes[2]!.at - socket.writes[1]!.at;
    assert.ok(waited >= gapMs - 1, `m3 waited a whole gap after the reply's write, not until m1's gap ended (${waited.toFixed(1)} ms)`);
    assert.equal(socket.writes[2]!.text, 'm3');
  });

  it('after the event loop was held up for longer than the gap, every waiting connection is written at the next release', async () => {
    const gapMs = 10;
    const scheduler = new FlushScheduler(gapMs);
    const sockets = Array.from({ length: 40 }, () => new RecordingSocket());
    const boxes = sockets.map((s) => new Outbox(scheduler, s));
    const pushSpread = async (text: string): Promise<void> => {
      for (const [i, b] of boxes.entries()) {
        if (i % 10 === 0) await sleep(1);
        b.push(Buffer.from(text));
      }
    };
    for (const b of boxes) b.push(Buffer.from('first'));
    await nextTurn();
    // A round through the timer first, so the stall comes after releases have run.
    await pushSpread('second');
    await until(() => sockets.every((s) => s.writes.length === 2), 'every second write');
    // Listed at different milliseconds of the gap, then the loop is held for 5 gaps.
    await pushSpread('third');
    const heldUntil = performance.now() + 5 * gapMs;
    while (performance.now() < heldUntil) {
      // busy: no timer can fire
    }
    await until(() => sockets.every((s) => s.writes.length === 3), 'every third write');
    for (const s of sockets) assert.deepEqual(s.writes.map((w) => w.text), ['first', 'second', 'third']);
  });

  it('a joined write the socket could not finish keeps its bytes while other connections are joined and written', async () => {
    // A peer that stopped reading: the socket holds on to what it was given.
    const held: Buffer[] = [];
    const stuck = new Writable({ write: (chunk: Buffer) => void held.push(chunk) });
    const scheduler = new FlushScheduler(0);
    const stuckBox = new Outbox(scheduler, stuck);
    stuckBox.push(Buffer.from('one,'));
    stuckBox.push(Buffer.from('two'));
    await nextTurn();
    const others = Array.from({ length: 3 }, () => new RecordingSocket());
    for (const s of others) {
      const box = new Outbox(scheduler, s);
      box.push(Buffer.from('XXXX'));
      box.push(Buffer.from('YYY'));
    }
    await nextTurn();
    assert.equal(held.length, 1);
    assert.equal(held[0]!.toString(), 'one,two', 'the held bytes were not overwritten by later joins');
    for (const s of others) assert.deepEqual(s.writes.map((w) => w.text), ['XXXXYYY']);
  });
});
