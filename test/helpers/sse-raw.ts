/** One SSE block as it came over the wire (WHATWG HTML § 9.2.6 field parsing, minus dispatch). */
export interface RawBlock {
  id?: string;
  event?: string;
  data?: string;
  retry?: string;
  comments: string[];
}

/**
 * An SSE stream read as raw text over fetch, for checks an EventSource hides: the
 * `retry:` line, `: ping` comments, `id:`-only blocks and the exact framing.
 */
export class RawSse {
  text = '';
  ended = false;
  status = 0;
  headers: Headers | undefined;
  private readonly abort = new AbortController();

  static async open(url: string, headers: Record<string, string> = {}): Promise<RawSse> {
    const sse = new RawSse();
    const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: sse.abort.signal });
    sse.status = res.status;
    sse.headers = res.headers;
    if (res.body === null) {
      sse.ended = true;
      return sse;
    }
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    void (async () => {
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          sse.text += decoder.decode(value, { stream: true });
        }
      } catch {
        // aborted by close()
      }
      sse.ended = true;
    })();
    return sse;
  }

  /** Complete blocks (terminated by a blank line), parsed field by field. */
  blocks(): RawBlock[] {
    const parts = this.text.split('\n\n');
    parts.pop(); // an unterminated tail is not a block yet
    return parts.map((part) => {
      const block: RawBlock = { comments: [] };
      for (const line of part.split('\n')) {
        if (line.startsWith(':')) {
          block.comments.push(line.slice(1).trim());
          continue;
        }
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'data') block.data = block.data === undefined ? value : `${block.data}\n${value}`;
        else if (field === 'id' || field === 'event' || field === 'retry') block[field] = value;
      }
      return block;
    });
  }

  /** Blocks that carry data: what an EventSource would dispatch. */
  events(): RawBlock[] {
    return this.blocks().filter((b) => b.data !== undefined);
  }

  close(): void {
    this.abort.abort();
  }
}
