import type { Writable } from 'node:stream';

/** Something with bytes waiting to be written. */
interface Flushable {
  flush(): void;
  /** `performance.now()` of its last write; -Infinity before the first. */
  readonly lastWriteAt: number;
}

/**
 * When each push connection's waiting bytes are written: at the end of the event-loop
 * turn (one `setImmediate` for every connection), or, for a connection written less than
 * `gapMs` ago, when that gap is over (one shared timer for all of them).
 *
 * Each write to a socket is a syscall whose kernel cost (about 4 µs on loopback, measured
 * in bench/notes.md) dwarfs the message's own; at 200 messages/s a connection would pay
 * it for every message. With the gap, a connection is written at most once per `gapMs`,
 * with everything that arrived meanwhile, so CPU per delivery falls as the rate rises;
 * a message to a connection that was quiet for the gap still leaves at the end of the
 * turn. The cost is at most `gapMs` of added latency, and only while a connection gets
 * more than 1000 / gapMs writes a second (`--write-gap`; 0 writes every turn).
 */
export class FlushScheduler {
  private dirty: Flushable[] = [];
  private scheduled = false;
  /** Written too recently: flushed by `timer` once their gap is over. */
  private waiting: Flushable[] = [];
  private timer: NodeJS.Timeout | undefined;
  private timerDueAt = Infinity;

  constructor(private readonly gapMs = 0) {}

  /** `now`: at the end of this turn whatever the gap (a reply the client waits for). */
  mark(outbox: Flushable, now = false): void {
    const dueAt = outbox.lastWriteAt + this.gapMs;
    if (now || this.gapMs === 0 || dueAt <= performance.now()) {
      this.dirty.push(outbox);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.run);
      }
      return;
    }
    this.waiting.push(outbox);
    if (dueAt < this.timerDueAt) this.arm(dueAt);
  }

  private readonly run = (): void => {
    const dirty = this.dirty;
    this.dirty = [];
    this.scheduled = false;
    for (const outbox of dirty) outbox.flush();
  };

  private arm(dueAt: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerDueAt = dueAt;
    this.timer = setTimeout(this.release, Math.max(0, Math.ceil(dueAt - performance.now())));
  }

  /** Writes every waiting connection whose gap is over; the timer waits for the rest. */
  private readonly release = (): void => {
    this.timer = undefined;
    this.timerDueAt = Infinity;
    // Timers fire on whole milliseconds: a gap less than 1 ms from over counts as over.
    const now = performance.now() + 1;
    const waiting = this.waiting;
    this.waiting = [];
    let next = Infinity;
    for (const outbox of waiting) {
      const dueAt = outbox.lastWriteAt + this.gapMs;
      if (dueAt <= now) outbox.flush();
      else {
        this.waiting.push(outbox);
        if (dueAt < next) next = dueAt;
      }
    }
    if (next !== Infinity) this.arm(next);
  };
}

/** Waiting bytes that are written at once, write gap or not. */
export const WRITE_NOW_BYTES = 16 * 1024;

/**
 * The bytes one connection has waiting for the end of the turn. Several chunks are joined
 * into one buffer: a copy of a few hundred bytes is cheaper than a vectored write, and far
 * cheaper than a syscall per message.
 */
export class Outbox implements Flushable {
  private chunks: Buffer[] = [];
  private bytes = 0;
  lastWriteAt = -Infinity;
  /** A reply waits among the chunks: this outbox is already marked for the end of the turn. */
  private replyQueued = false;

  constructor(
    private readonly scheduler: FlushScheduler,
    private readonly socket: Writable,
    /** Checked before each write: false once the connection must not get more bytes. */
    private readonly open: () => boolean = () => true,
  ) {}

  /**
   * Queues `chunk` behind what waits. `reply`: the client is waiting for it (an answer to
   * its own frame), so everything waiting leaves at the end of this turn, gap or not.
   */
  push(chunk: Buffer, reply = false): void {
    // Already waiting for the end of the turn, or for the gap: a reply moves it up (the
    // outbox is then listed twice; the later flush finds nothing and writes nothing).
    if (this.chunks.length === 0 || (reply && !this.replyQueued)) this.scheduler.mark(this, reply);
    if (reply) this.replyQueued = true;
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    // Worth a syscall of its own: waiting longer saves nothing and holds memory.
    if (this.bytes >= WRITE_NOW_BYTES) this.flush();
  }

  /** Writes what is waiting now; also called before a close, so nothing is left behind it. */
  flush(): void {
    if (this.chunks.length === 0) return;
    const data = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.bytes);
    this.chunks = [];
    this.bytes = 0;
    this.replyQueued = false;
    if (!this.open()) return;
    this.lastWriteAt = performance.now();
    this.socket.write(data);
  }

  /** Unsent bytes here and in the socket's buffer. */
  get queued(): number {
    return this.bytes + this.socket.writableLength;
  }

  /**
   * Bytes waiting on the peer, what tells a slow consumer: the socket's unsent bytes and,
   * once there are any, the ones waiting here behind them. Bytes held here for the write
   * gap while the socket is empty don't count: a fast peer has those waiting too (they
   * never pass WRITE_NOW_BYTES).
   */
  get unsent(): number {
    const inSocket = this.socket.writableLength;
    return inSocket === 0 ? 0 : inSocket + this.bytes;
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
    this.replyQueued = false;
  }
}
