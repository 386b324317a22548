import type { Writable } from 'node:stream';

/** Something with bytes waiting to be written at the end of this event-loop turn. */
interface Flushable {
  flush(): void;
}

/**
 * One `setImmediate` for every connection that has something to send. A message fanned
 * out to N subscribers costs N array pushes now and one write per subscriber later, however
 * many messages reached that subscriber in the turn: several messages published together
 * or in quick succession leave in one write syscall instead of one each. The cost is at
 * most one event-loop turn of latency.
 */
export class FlushScheduler {
  private dirty: Flushable[] = [];
  private scheduled = false;

  mark(outbox: Flushable): void {
    this.dirty.push(outbox);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.run);
    }
  }

  private readonly run = (): void => {
    const dirty = this.dirty;
    this.dirty = [];
    this.scheduled = false;
    for (const outbox of dirty) outbox.flush();
  };
}

/**
 * The bytes one connection has waiting for the end of the turn. Several chunks are joined
 * into one buffer: a copy of a few hundred bytes is cheaper than a vectored write, and far
 * cheaper than a syscall per message.
 */
export class Outbox implements Flushable {
  private chunks: Buffer[] = [];
  private bytes = 0;

  constructor(
    private readonly scheduler: FlushScheduler,
    private readonly socket: Writable,
    /** Checked before each write: false once the connection must not get more bytes. */
    private readonly open: () => boolean = () => true,
  ) {}

  push(chunk: Buffer): void {
    if (this.chunks.length === 0) this.scheduler.mark(this);
    this.chunks.push(chunk);
    this.bytes += chunk.length;
  }

  /** Writes what is waiting now; also called before a close, so nothing is left behind it. */
  flush(): void {
    if (this.chunks.length === 0) return;
    const data = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.bytes);
    this.chunks = [];
    this.bytes = 0;
    if (this.open()) this.socket.write(data);
  }

  /** Unsent bytes here and in the socket's buffer. */
  get queued(): number {
    return this.bytes + this.socket.writableLength;
  }

  /** Flushes now and resolves once the socket has drained (or closed): paces history replay. */
  drained(): Promise<void> {
    this.flush();
    const socket = this.socket;
    if (!socket.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        socket.off('drain', done);
        socket.off('close', done);
        resolve();
      };
      socket.on('drain', done);
      socket.on('close', done);
    });
  }

  /** Drops what is waiting: the connection is gone. */
  discard(): void {
    this.chunks = [];
    this.bytes = 0;
  }
}
