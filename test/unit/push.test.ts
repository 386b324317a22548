import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { Grants } from '../../src/auth/access.js';
import { configWith } from '../../src/config.js';
import type { CloseReason } from '../../src/core/close-reasons.js';
import { CoarseTimer } from '../../src/core/coarse-timer.js';
import { Metrics } from '../../src/metrics.js';
import { waitFor } from '../helpers/server.js';
import type { ServerContext } from '../../src/transports/context.js';
import { FlushScheduler } from '../../src/transports/outbox.js';
import { PushConnection, PushTransport } from '../../src/transports/push.js';

/** A socket that takes bytes and never finishes writing them: a peer that stopped reading. */
const stuckSocket = () => new Writable({ highWaterMark: 64, write: () => {} });

class TestConnection extends PushConnection {
  beats = 0;
  shutWith: CloseReason | undefined;
  message(): void {
    this.push(Buffer.alloc(300));
  }
  gap(): void {}
  heartbeat(): void {
    this.beats++;
  }
  protected shut(reason: CloseReason): void {
    this.shutWith = reason;
  }
}

class TestTransport extends PushTransport<TestConnection> {
  open(socket: Writable = stuckSocket()): TestConnection {
    const c = new TestConnection(this, socket);
    this.add(c);
    return c;
  }
  protected whenEnded(): Promise<void> {
    return Promise.resolve();
  }
}

function context(): ServerContext {
  return {
    config: configWith({ maxQueueBytes: 1024 }),
    metrics: new Metrics(),
    logger: pino({ level: 'silent' }),
    timer: new CoarseTimer(10),
    flush: new FlushScheduler(),
    isDraining: () => false,
  } as unknown as ServerContext;
}

describe('the push-connection core (src/transports/push.ts)', () => {
  it('a connection whose unsent bytes pass --max-queue-bytes is closed as a slow consumer, counted and forgotten', async () => {
    const ctx = context();
    const ws = new TestTransport('ws', ctx, 1000);
    const c = ws.open();
    assert.equal(ws.size, 1);
    assert.equal(ctx.metrics.connections.ws, 1);
    for (let i = 0; i < 3; i++) c.message();
    assert.equal(c.backlogged(), true, 'past half the bound, history replay waits');
    await new Promise((r) => setImmediate(r));
    assert.equal(c.shutWith, undefined, '900 bytes: under the bound');
    c.message();
    assert.equal(c.shutWith, 'slow_consumer');
    assert.equal(ctx.metrics.slowConsumersDropped.ws, 1);
    assert.equal(ws.size, 0);
    assert.equal(ctx.metrics.connections.ws, 0);
  });

  it('one shared heartbeat beats every connection while there are any, and stops with the last', async () => {
    const ctx = context();
    const sse = new TestTransport('sse', ctx, 10);
    const a = sse.open();
    const b = sse.open();
    await waitFor(() => a.beats >= 2 && b.beats >= 2, 10_000, 'two beats on each connection');
    a.cleanup();
    b.cleanup();
    const after = b.beats;
    await new Promise((r) => setTimeout(r, 40));
    assert.equal(b.beats, after, 'no beats once every connection is gone');
  });

  it('closeAll ends every connection with the reason; the transport is empty after', async () => {
    const ws = new TestTransport('ws', context(), 1000);
    const conns = [ws.open(), ws.open(), ws.open()];
    await ws.closeAll('shutdown');
    assert.deepEqual(conns.map((c) => c.shutWith), ['shutdown', 'shutdown', 'shutdown']);
    assert.equal(ws.size, 0);
  });

  it('a credential that lapses closes the connection with token_expired; a replacement moves the deadline', async () => {
    const ctx = context();
    const ws = new TestTransport('ws', ctx, 1000);
    const soon = Grants.of(() => true, () => true, 'valid', Date.now() / 1000 + 0.05);
    const later = Grants.of(() => true, () => true, 'valid', Date.now() / 1000 + 3600);
    const kept = ws.open();
    kept.watchExpiry(soon);
    kept.watchExpiry(later);
    const lapsing = ws.open();
    lapsing.watchExpiry(soon);
    await new Promise((r) => setTimeout(r, 120));
    assert.equal(lapsing.shutWith, 'token_expired');
    assert.equal(kept.shutWith, undefined);
    assert.equal(ws.size, 1);
    kept.cleanup();
    ctx.timer.stop();
  });
});
