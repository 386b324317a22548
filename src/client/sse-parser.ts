/** One parsed unit of an event stream. */
export interface SseRecord {
  /** The `event:` name; 'message' when the stream gave none. */
  event: string;
  /** The joined `data:` lines; undefined for a record with no data (an `id:` alone). */
  data: string | undefined;
  /** The `id:` of this record, when it had one. */
  id: string | undefined;
}

/**
 * An event-stream parser (WHATWG HTML § 9.2.6, "Interpreting an event stream") for a
 * stream read with fetch: the same code in browsers and Node, where EventSource is
 * missing (Node 20) or can't be steered (it reconnects on its own and takes no headers).
 * Unlike EventSource it also reports a record that only sets `id:` (Tidings sends one
 * at the start of a stream, carrying the start cursor). Comments (`: ping`) are dropped;
 * `onActivity` sees every chunk, so a watchdog can tell a live stream from a stalled one.
 */
export class SseParser {
  private buffer = '';
  private event = '';
  private data: string[] = [];
  private id: string | undefined;
  private sawField = false;
  private skipLF = false;

  constructor(private readonly onRecord: (record: SseRecord) => void) {}

  /** Feeds decoded text; records are reported as soon as their blank line arrives. */
  push(text: string): void {
    // A chunk that ended in \r may have split a \r\n: its \n is not another line end.
    if (this.skipLF && text.startsWith('\n')) text = text.slice(1);
    this.skipLF = false;
    this.buffer += text;
    const eol = /\r\n|\r|\n/g;
    let start = 0;
    for (let m = eol.exec(this.buffer); m !== null; m = eol.exec(this.buffer)) {
      this.line(this.buffer.slice(start, m.index));
      start = m.index + m[0].length;
      if (m[0] === '\r' && start === this.buffer.length) this.skipLF = true;
    }
    this.buffer = this.buffer.slice(start);
  }

  private line(line: string): void {
    if (line === '') {
      this.dispatch();
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.event = value;
    else if (field === 'data') this.data.push(value);
    else if (field === 'id' && !value.includes('\0')) this.id = value;
    else return; // `retry:` and unknown fields: the client keeps its own reconnect policy
    this.sawField = true;
  }

  private dispatch(): void {
    if (this.sawField) {
      this.onRecord({ event: this.event || 'message', data: this.data.length > 0 ? this.data.join('\n') : undefined, id: this.id });
    }
    this.event = '';
    this.data = [];
    this.id = undefined;
    this.sawField = false;
  }
}
