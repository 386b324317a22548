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
 *
 * Connections waiting for their gap are kept by the millisecond it ends. Under load the
 * timer fires about once a millisecond; one list of them all was scanned whole each time
 * to write the few whose gap had ended (8 % of the server's busy time in a 1,000-subscriber
 * WebSocket fan-out), where a millisecond's list holds just those.
 */
export class FlushScheduler {
  /** Joins an outbox's chunks for its write (one for the whole server). */
  readonly joiner = new Joiner();
  private dirty: Flushable[] = [];
  private scheduled = false;
  /** By millisecond `ms`: the connections written once `performance.now()` reaches `ms`. */
  private readonly waiting = new Map<number, Flushable[]>();
  /** The first millisecond not released yet: nothing waits for an earlier one. */
  private nextMs = -Infinity;
  private timer: NodeJS.Timeout | undefined;
  private timerMs = Infinity;

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
    const ms = Math.max(releaseMs(dueAt), this.nextMs);
    const list = this.waiting.get(ms);
    if (list === undefined) this.waiting.set(ms, [outbox]);
    else list.push(outbox);
    if (ms < this.timerMs) this.arm(ms);
  }

  private readonly run = (): void => {
    const dirty = this.dirty;
    this.dirty = [];
    this.scheduled = false;
    for (const outbox of dirty) outbox.flush();
  };

  private arm(ms: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerMs = ms;
    this.timer = setTimeout(this.release, Math.max(0, Math.ceil(ms - performance.now())));
  }

  /** Writes the connections of every millisecond that has come; the timer waits for the next. */
  private readonly release = (): void => {
    this.timer = undefined;
    this.timerMs = Infinity;
    const through = Math.floor(performance.now());
    // Walked millisecond by millisecond, unless the loop was held up for longer than the
    // lists there are; either way each list is visited once.
    const due = through - this.nextMs < this.waiting.size ? this.walk(through) : [...this.waiting.keys()].filter((ms) => ms <= through);
    // Moved on first: a connection listed while these are written goes after them.
    this.nextMs = Math.max(this.nextMs, through + 1);
    for (const ms of due) {
      const list = this.waiting.get(ms)!;
      this.waiting.delete(ms);
      for (const outbox of list) {
        // Written since it was listed (a reply, a flush before a close): what it holds now
        // was listed again for its new gap, and this entry is spent.
        if (releaseMs(outbox.lastWriteAt + this.gapMs) <= ms) outbox.flush();
      }
    }
    if (this.waiting.size > 0) this.arm(this.earliest());
  };

  /** The listed milliseconds from `nextMs` through `through`, in order. */
  private walk(through: number): number[] {
    const due: number[] = [];
    for (let ms = this.nextMs; ms <= through; ms++) if (this.waiting.has(ms)) due.push(ms);
    return due;
  }

  /** The first listed millisecond: at most a gap after `nextMs`, so a short walk finds it. */
  private earliest(): number {
    for (let ms = this.nextMs, end = ms + this.gapMs + 2; ms <= end; ms++) if (this.waiting.has(ms)) return ms;
    return Math.min(...this.waiting.keys());
  }
}

/**
 * The millisecond at which a gap ending at `dueAt` counts as over. Timers fire on whole
 * milliseconds, and may fire a fraction of one early against `performance.now()`: a gap
 * less than 1 ms from over counts as over, so it is not put off by a whole timer period.
 */
function releaseMs(dueAt: number): number {
  return Math.ceil(dueAt) - 1;
}

/**
 * Where an outbox's chunks are joined for one write: the same memory, over and over. A
 * socket nearly always takes the bytes within the write call (the kernel copies them), and
 * the memory is free again at once; a write the socket could not finish keeps the buffer
 * it was given, and joining moves on to new memory. Joining into new memory for every
 * write (Buffer.concat) made about 35 MB of ArrayBuffers a second in a 1,000-subscriber
 * WebSocket fan-out, and V8 collected that external memory with a full mark-compact
 * several times a second.
 */
export class Joiner {
  private scratch = Buffer.allocUnsafeSlow(JOIN_BYTES);

  /** `chunks`, `bytes` long, as one buffer; valid until the next join. */
  join(chunks: readonly Buffer[], bytes: number): Buffer {
    if (bytes > this.scratch.length) return Buffer.concat(chunks, bytes);
    let at = 0;
    for (const c of chunks) at += c.copy(this.scratch, at);
    return this.scratch.subarray(0, bytes);
  }

  /** The socket still holds `joined` (its write did not finish in the call): it is its now. */
  keep(joined: Buffer): void {
    if (joined.buffer === this.scratch.buffer) this.scratch = Buffer.allocUnsafeSlow(JOIN_BYTES);
  }
}

/** The scratch a Joiner reuses; more (rare: a 16 KB batch is written at once) is joined into new memory. */
const JOIN_BYTES = 64 * 1024;

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
    const joined = this.chunks.length > 1;
    const data = joined ? this.scheduler.joiner.join(this.chunks, this.bytes) : this.chunks[0]!;
    this.chunks = [];
    this.bytes = 0;
    this.replyQueued = false;
    if (!this.open()) return;
    this.lastWriteAt = performance.now();
    this.socket.write(data);
    if (joined && this.socket.writableLength !== 0) this.scheduler.joiner.keep(data);
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
