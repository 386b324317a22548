import type { WebSocketLike } from '/client.js';

/**
 * Counts what one client costs on the wire, through the `fetch` and `WebSocket` options the
 * SDK takes (it uses nothing else to reach the server). What a page can measure exactly, it
 * counts; what it can't see, it estimates, and keeps apart:
 * - exact: HTTP requests, empty poll answers, response bodies (counted as they stream),
 *   request bodies, WebSocket payloads and their frame headers (RFC 6455 § 5.2 sizes);
 * - estimated: HTTP request and response heads (a browser adds headers a page can't read,
 *   and chunked encoding adds a line per chunk), and the WebSocket upgrade handshake.
 *
 * `drop()` cuts the connection the way a network failure would: the request or stream in
 * flight fails with a TypeError and its socket is closed; a WebSocket is closed and the
 * client sees code 1006. With nothing in flight (a short poll between polls), the next
 * request fails.
 */
export class Meter {
  requests = 0;
  emptyAnswers = 0;
  exactBytes = 0;
  estimatedBytes = 0;
  private readonly inFlight = new Set<(err: Error) => void>();
  private failNext = false;
  /** Pass as the SDK's `fetch` option. */
  readonly fetch: typeof fetch;
  /** Pass as the SDK's `WebSocket` option. */
  readonly WebSocket: new (url: string) => WebSocketLike;

  constructor() {
    this.fetch = (input, init) => this.meteredFetch(input, init);
    this.WebSocket = meteredWebSocket(this);
  }

  get totalBytes(): number {
    return this.exactBytes + this.estimatedBytes;
  }

  /** Cuts the connection in flight (see the class comment); true when one was cut. */
  drop(): boolean {
    const cut = [...this.inFlight];
    this.inFlight.clear();
    const err = new TypeError('network error: connection dropped by the lab');
    for (const fail of cut) fail(err);
    if (cut.length === 0) this.failNext = true;
    return cut.length > 0;
  }

  /** @internal the WebSocket wrapper registers itself here while open. */
  track(fail: (err: Error) => void): () => void {
    this.inFlight.add(fail);
    return () => this.inFlight.delete(fail);
  }

  private async meteredFetch(input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> {
    const url = new URL(input instanceof Request ? input.url : String(input), location.href);
    const method = init.method ?? (input instanceof Request ? input.method : 'GET');
    this.requests++;
    const body = typeof init.body === 'string' ? byteLength(init.body) : 0;
    this.exactBytes += body;
    this.estimatedBytes += requestHeadBytes(method, url, body);
    if (this.failNext) {
      this.failNext = false;
      throw new TypeError('network error: connection dropped by the lab');
    }
    // Our own abort, so a drop closes the socket; the caller's signal still works through it.
    const abort = new AbortController();
    const callerSignal = init.signal;
    const onCallerAbort = () => abort.abort(callerSignal?.reason);
    if (callerSignal?.aborted) onCallerAbort();
    callerSignal?.addEventListener('abort', onCallerAbort, { once: true });
    let failStream: ((err: Error) => void) | undefined;
    let rejectWait: (err: Error) => void = () => {};
    const untrack = this.track((err) => {
      if (failStream !== undefined) failStream(err);
      else rejectWait(err);
      abort.abort(err);
    });
    const dropped = new Promise<never>((_, reject) => (rejectWait = reject));
    dropped.catch(() => {});
    let res: Response;
    try {
      res = await Promise.race([fetch(input, { ...init, signal: abort.signal }), dropped]);
    } catch (err) {
      untrack();
      throw err;
    }
    this.estimatedBytes += responseHeadBytes(res);
    const chunked = !res.headers.has('content-length');
    if (res.body === null) {
      untrack();
      return res;
    }
    const isPoll = url.pathname.endsWith('/v1/poll');
    const decoder = new TextDecoder();
    let text = '';
    let chunks = 0;
    const counter = new TransformStream<Uint8Array, Uint8Array>({
      start: (controller) => {
        failStream = (err) => controller.error(err);
      },
      transform: (chunk, controller) => {
        this.exactBytes += chunk.byteLength;
        chunks++;
        if (isPoll) text += decoder.decode(chunk, { stream: true });
        controller.enqueue(chunk);
      },
      flush: () => {
        untrack();
        callerSignal?.removeEventListener('abort', onCallerAbort);
        // A chunk-size line and CRLF per chunk, and the last chunk: estimated, the page can't see them.
        if (chunked) this.estimatedBytes += chunks * 6 + 5;
        if (isPoll && isEmptyPollAnswer(text)) this.emptyAnswers++;
      },
    });
    return new Response(res.body.pipeThrough(counter), { status: res.status, statusText: res.statusText, headers: res.headers });
  }
}

function isEmptyPollAnswer(text: string): boolean {
  try {
    const answer = JSON.parse(text) as { messages?: unknown[] };
    return Array.isArray(answer.messages) && answer.messages.length === 0;
  } catch {
    return false;
  }
}

const encoder = new TextEncoder();
function byteLength(text: string): number {
  return encoder.encode(text).byteLength;
}

/**
 * A browser's request head: the request line, Host, and the headers Chromium adds to a
 * same-origin fetch (User-Agent, Accept*, sec-ch-ua*, Sec-Fetch-*, Referer, Connection),
 * about 420 bytes besides the User-Agent and the URL.
 */
function requestHeadBytes(method: string, url: URL, bodyBytes: number): number {
  const line = `${method} ${url.pathname}${url.search} HTTP/1.1\r\n`.length;
  const body = bodyBytes > 0 ? `content-length: ${bodyBytes}\r\ncontent-type: application/json\r\n`.length : 0;
  return line + `Host: ${url.host}\r\n`.length + navigator.userAgent.length + 420 + body;
}

/** The status line and the headers the page can read, as they came on the wire. */
function responseHeadBytes(res: Response): number {
  let bytes = `HTTP/1.1 ${res.status} ${res.statusText}\r\n`.length + 2;
  res.headers.forEach((value, name) => (bytes += name.length + value.length + 4));
  // Date, Connection and Keep-Alive are on the wire but not always shown to the page.
  return bytes + 70;
}

/** RFC 6455 § 5.2: 2 bytes, +2 or +8 for longer payloads, +4 for the client's mask. */
function frameBytes(payload: number, fromClient: boolean): number {
  return payload + 2 + (payload > 65535 ? 8 : payload > 125 ? 2 : 0) + (fromClient ? 4 : 0);
}

/** A WebSocket class the SDK can `new`, counting every frame of one Meter. */
function meteredWebSocket(meter: Meter): new (url: string) => WebSocketLike {
  return class MeteredWebSocket implements WebSocketLike {
    static readonly CONNECTING = 0;
    static readonly OPEN = 1;
    static readonly CLOSING = 2;
    static readonly CLOSED = 3;
    onopen: ((ev: unknown) => void) | null = null;
    onmessage: ((ev: { data: unknown }) => void) | null = null;
    onclose: ((ev: { code: number; reason: string }) => void) | null = null;
    onerror: ((ev: unknown) => void) | null = null;
    private readonly socket: WebSocket;
    private dropped = false;
    private readonly untrack: () => void;

    constructor(url: string) {
      meter.requests++;
      // The upgrade: a request head with the Sec-WebSocket-* headers, and a 101 answer.
      meter.estimatedBytes += requestHeadBytes('GET', new URL(url), 0) + 120 + 130;
      this.socket = new WebSocket(url);
      this.untrack = meter.track(() => this.drop());
      this.socket.onopen = (ev) => this.onopen?.(ev);
      this.socket.onmessage = (ev: MessageEvent) => {
        const size = typeof ev.data === 'string' ? byteLength(ev.data) : (ev.data as Blob).size;
        meter.exactBytes += frameBytes(size, false);
        this.onmessage?.(ev);
      };
      this.socket.onerror = (ev) => {
        if (!this.dropped) this.onerror?.(ev);
      };
      this.socket.onclose = (ev) => {
        this.untrack();
        meter.exactBytes += 4; // the close frame each way, no reason text
        if (!this.dropped) this.onclose?.({ code: ev.code, reason: ev.reason });
      };
    }

    get readyState(): number {
      return this.dropped ? 3 : this.socket.readyState;
    }

    send(data: string): void {
      meter.exactBytes += frameBytes(byteLength(data), true);
      this.socket.send(data);
    }

    close(code?: number, reason?: string): void {
      this.socket.close(code, reason);
    }

    /** As a network failure looks to the page: no close frame seen, code 1006. */
    private drop(): void {
      if (this.dropped) return;
      this.dropped = true;
      this.untrack();
      this.socket.close();
      setTimeout(() => this.onclose?.({ code: 1006, reason: '' }));
    }
  };
}
