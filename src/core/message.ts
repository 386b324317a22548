import { encodeSingle } from './cursor.js';

const CURSOR_AFTER = Symbol('cursor-after');

/** The message envelope of docs/protocol.md § Model, the same on every transport. */
export interface Envelope {
  channel: string;
  offset: number;
  epoch: string;
  time: number;
  event?: string;
  data: unknown;
}

/**
 * One published message. Its envelope JSON is made once, when it is published (or, on a
 * multi-node engine, once when it arrives), and every framing a transport derives from
 * it is cached here too, so N subscribers cost one serialisation, not N.
 */
export class Message implements Envelope {
  readonly channel: string;
  readonly offset: number;
  readonly epoch: string;
  readonly time: number;
  readonly event: string | undefined;
  readonly data: unknown;
  /** The envelope as JSON text: `{"channel":…,"offset":…,"epoch":…,"time":…,"event"?:…,"data":…}`. */
  readonly json: string;
  private framings: Map<symbol, unknown> | undefined;

  constructor(envelope: Envelope, json?: string) {
    this.channel = envelope.channel;
    this.offset = envelope.offset;
    this.epoch = envelope.epoch;
    this.time = envelope.time;
    this.event = envelope.event;
    this.data = envelope.data;
    this.json = json ?? Message.stringify(envelope);
  }

  /** Fixed key order, so the same message is the same bytes on every node. */
  static stringify(e: Envelope): string {
    return `${Message.head(e.channel)}${e.offset},"epoch":${JSON.stringify(e.epoch)},"time":${e.time}${Message.tail(e)}`;
  }

  /**
   * The envelope JSON before the offset: `{"channel":…,"offset":`. With `tail`, lets an
   * engine that learns offset, epoch and time elsewhere (a Redis script) build the same bytes.
   */
  static head(channel: string): string {
    return `{"channel":${JSON.stringify(channel)},"offset":`;
  }

  /** The envelope JSON after the time: `,"event":…,"data":…}`. */
  static tail(e: Pick<Envelope, 'event' | 'data'>): string {
    return `${Message.eventAndData(e)}}`;
  }

  /**
   * The members every envelope form ends with (full, compact): `,"event":…` when there is
   * an event, then `,"data":…`, each after a comma and without the closing brace.
   */
  static eventAndData(e: Pick<Envelope, 'event' | 'data'>): string {
    const event = e.event === undefined ? '' : `,"event":${JSON.stringify(e.event)}`;
    return `${event},"data":${JSON.stringify(e.data)}`;
  }

  /** The cursor of a client that has seen this message and everything before it: made once, put on every transport's copy. */
  get cursorAfter(): string {
    return this.framed(CURSOR_AFTER, (m) => encodeSingle(m.channel, m.epoch, m.offset));
  }

  /** A transport's framing of this message, made on first use and shared by every subscriber. */
  framed<T>(key: symbol, make: (m: Message) => T): T {
    if (this.framings === undefined) this.framings = new Map();
    let framed = this.framings.get(key) as T | undefined;
    if (framed === undefined) {
      framed = make(this);
      this.framings.set(key, framed);
    }
    return framed;
  }
}

/** docs/protocol.md § Subscribing: sent instead of hiding that part of a history is gone. */
export interface GapNotice {
  channel: string;
  epoch: string;
  /** The first offset the client asked for. */
  from: number;
  /** The oldest offset still retained; delivery resumes here. */
  first: number;
}
