import { EventSource } from 'eventsource';
import WebSocket from 'ws';
import { Tidings } from '../../src/client/node.js';
import type { Subscription } from '../../src/client/tidings.js';
import { QUICK } from './sdk.js';
import { waitFor, within, type Envelope, type GapNotice, type PollAnswer } from './server.js';

/**
 * One subscriber contract, four implementations (short poll, long poll, SSE, WebSocket):
 * the shared scenarios in test/integration/transports.case.test.ts run over each of them,
 * the way centrifuge-js runs `test.each(transportCases)`.
 */
export type TransportName = 'short-poll' | 'long-poll' | 'sse' | 'ws';

export interface SubscribeOptions {
  channels: string[];
  /** A cursor the server handed out (any transport's). */
  cursor?: string;
  last?: number;
  /** SSE only: publisher event names to listen for besides `message`. */
  events?: string[];
}

export interface Subscriber {
  readonly name: TransportName;
  /** Every envelope received, in arrival order, across drops and resumes. */
  readonly messages: Envelope[];
  readonly gaps: GapNotice[];
  /** The latest cursor the server handed this subscriber (undefined before the first). */
  readonly cursor: string | undefined;
  /** Resolves once the server has fixed the start position: later publishes will arrive. */
  subscribe(opts: SubscribeOptions): Promise<void>;
  /** Cuts the connection (or stops polling) abruptly; the cursor is kept. */
  drop(): Promise<void>;
  /** Reconnects from `cursor`, as a client coming back would. */
  resume(): Promise<void>;
  close(): Promise<void>;
}

function subscribeQuery(channels: readonly string[], cursor: string | undefined, last: number | undefined): URLSearchParams {
  const q = new URLSearchParams();
  for (const c of channels) q.append('channel', c);
  if (cursor !== undefined) q.set('cursor', cursor);
  if (last !== undefined) q.set('last', String(last));
  return q;
}

/**
 * Short and long polling: `GET /v1/poll` in a loop, sending back the cursor of each
 * answer. The first request is always `wait=0`, so `subscribe()` knows when the server
 * has fixed the position; later ones use `wait=waitS` (0: short poll every `intervalMs`).
 */
export class PollSubscriber implements Subscriber {
  readonly messages: Envelope[] = [];
  readonly gaps: GapNotice[] = [];
  cursor: string | undefined;
  /** Poll requests answered so far. */
  answers = 0;
  private channels: string[] = [];
  private running = false;
  private loop: Promise<void> | undefined;
  private abort: AbortController | undefined;
  private failure: unknown;

  constructor(
    private readonly baseUrl: string,
    readonly name: 'short-poll' | 'long-poll',
    private readonly waitS = name === 'long-poll' ? 5 : 0,
    private readonly intervalMs = 10,
  ) {}

  private async pollOnce(waitS: number, last?: number): Promise<void> {
    const q = subscribeQuery(this.channels, this.cursor, this.cursor === undefined ? last : undefined);
    if (waitS > 0) q.set('wait', String(waitS));
    this.abort = new AbortController();
    const res = await fetch(new URL(`/v1/poll?${q}`, this.baseUrl), { signal: this.abort.signal });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`poll answered ${res.status}: ${text}`);
    const answer = JSON.parse(text) as PollAnswer;
    if (!this.running) return; // dropped while the answer was on its way: as if never received
    this.gaps.push(...(answer.gap ?? []));
    this.messages.push(...answer.messages);
    this.cursor = answer.cursor;
    this.answers++;
  }

  async subscribe(opts: SubscribeOptions): Promise<void> {
    this.channels = opts.channels;
    this.cursor = opts.cursor;
    this.running = true;
    await this.pollOnce(0, opts.last);
    this.startLoop();
  }

  private startLoop(): void {
    this.loop = (async () => {
      while (this.running) {
        try {
          await this.pollOnce(this.waitS);
        } catch (err) {
          if (!this.running) return;
          this.failure = err;
          this.running = false;
          return;
        }
        if (this.waitS === 0 && this.running) await new Promise((r) => setTimeout(r, this.intervalMs));
      }
    })();
  }

  /** The loop's error, if it stopped on one (a test asserts there is none). */
  get error(): unknown {
    return this.failure;
  }

  async drop(): Promise<void> {
    this.running = false;
    this.abort?.abort();
    await this.loop;
  }

  async resume(): Promise<void> {
    this.running = true;
    await this.pollOnce(0);
    this.startLoop();
  }

  async close(): Promise<void> {
    await this.drop();
  }
}

/**
 * SSE through the `eventsource` package (a WHATWG EventSource for Node): it reconnects by
 * itself with Last-Event-ID. `resume()` after `drop()` opens a new EventSource and sends
 * the kept cursor as Last-Event-ID, as a browser tab reopening the same URL would.
 */
export class SseSubscriber implements Subscriber {
  readonly name = 'sse' as const;
  readonly messages: Envelope[] = [];
  readonly gaps: GapNotice[] = [];
  cursor: string | undefined;
  /** Times the stream opened (1 + reconnects, the automatic ones included). */
  opens = 0;
  /** Data of `event: close` frames the server sent. */
  readonly closeEvents: unknown[] = [];
  source: EventSource | undefined;
  private opts: SubscribeOptions = { channels: [] };

  constructor(private readonly baseUrl: string) {}

  private open(lastEventId: string | undefined): Promise<void> {
    const q = subscribeQuery(this.opts.channels, this.opts.cursor, this.opts.last);
    const url = new URL(`/v1/events?${q}`, this.baseUrl);
    let first = true;
    const source = new EventSource(url, {
      fetch: (input, init) => {
        // Only the first request of a new EventSource carries the kept cursor; later
        // reconnects carry the client's own Last-Event-ID.
        const headers = { ...(init?.headers as Record<string, string>) };
        if (first && lastEventId !== undefined) headers['Last-Event-ID'] = lastEventId;
        first = false;
        return fetch(input, { ...init, headers });
      },
    });
    this.source = source;
    const onEnvelope = (e: MessageEvent<string>) => {
      this.messages.push(JSON.parse(e.data) as Envelope);
      this.cursor = e.lastEventId;
    };
    source.addEventListener('message', onEnvelope);
    for (const name of this.opts.events ?? []) source.addEventListener(name, onEnvelope);
    source.addEventListener('gap', (e: MessageEvent<string>) => {
      this.gaps.push(JSON.parse(e.data) as GapNotice);
      this.cursor = e.lastEventId;
    });
    source.addEventListener('close', (e: MessageEvent<string>) => this.closeEvents.push(JSON.parse(e.data)));
    source.addEventListener('open', () => this.opens++);
    return new Promise((resolve, reject) => {
      const onOpen = () => {
        source.removeEventListener('error', onError);
        resolve();
      };
      const onError = (e: Event) => {
        if (source.readyState !== source.CLOSED) return; // will retry by itself
        source.removeEventListener('open', onOpen);
        reject(new Error(`SSE failed to open: ${(e as Event & { message?: string }).message ?? 'error'}`));
      };
      source.addEventListener('open', onOpen, { once: true });
      source.addEventListener('error', onError);
    });
  }

  async subscribe(opts: SubscribeOptions): Promise<void> {
    this.opts = opts;
    await within(this.open(undefined), 5000, 'SSE open');
  }

  async drop(): Promise<void> {
    this.source?.close();
  }

  async resume(): Promise<void> {
    await within(this.open(this.cursor), 5000, 'SSE reopen');
  }

  async close(): Promise<void> {
    this.source?.close();
  }
}

type ServerFrame = Record<string, unknown> & { type: string };

/** A `ws` client speaking the Tidings frames; every frame received is kept in `frames`. */
export class WsSubscriber implements Subscriber {
  readonly name = 'ws' as const;
  readonly messages: Envelope[] = [];
  readonly gaps: GapNotice[] = [];
  readonly frames: ServerFrame[] = [];
  /** Latest cursor per channel: a WebSocket message carries its own channel's cursor. */
  readonly cursors = new Map<string, string>();
  socket: WebSocket | undefined;
  closeCode: number | undefined;
  private opts: SubscribeOptions = { channels: [] };
  private nextId = 1;

  constructor(private readonly baseUrl: string) {}

  get cursor(): string | undefined {
    const c = this.opts.channels;
    return c.length === 1 ? this.cursors.get(c[0]!) : undefined;
  }

  /** Opens the socket (no subscriptions yet). */
  async connect(query = '', headers: Record<string, string> = {}): Promise<WebSocket> {
    const url = this.baseUrl.replace(/^http/, 'ws') + '/v1/ws' + query;
    const socket = new WebSocket(url, { headers });
    this.socket = socket;
    this.closeCode = undefined;
    socket.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as ServerFrame;
      this.frames.push(frame);
      if (frame.type === 'message') {
        const { type: _type, cursor, ...envelope } = frame;
        this.messages.push(envelope as unknown as Envelope);
        this.cursors.set(envelope.channel as string, cursor as string);
      } else if (frame.type === 'gap') {
        const { type: _type, ...gap } = frame;
        this.gaps.push(gap as unknown as GapNotice);
      } else if (frame.type === 'subscribed' && typeof frame.cursor === 'string' && !this.cursors.has(frame.channel as string)) {
        // The start position (docs/protocol.md § Additions): a drop before the first
        // message resumes here, not from "now".
        this.cursors.set(frame.channel as string, frame.cursor);
      }
    });
    socket.on('close', (code) => (this.closeCode = code));
    socket.on('error', () => {});
    await within(
      new Promise<void>((resolve, reject) => {
        socket.once('open', () => resolve());
        socket.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused with ${res.statusCode}`)));
        socket.once('error', reject);
      }),
      5000,
      'WebSocket open',
    );
    return socket;
  }

  send(frame: object): void {
    this.socket!.send(JSON.stringify(frame));
  }

  /** Sends a frame with a fresh id and resolves with the answer that carries that id. */
  async call(frame: Record<string, unknown>, timeoutMs = 5000): Promise<ServerFrame> {
    const id = `c${this.nextId++}`;
    const from = this.frames.length;
    this.send({ ...frame, id });
    let answer: ServerFrame | undefined;
    await waitFor(
      () => {
        answer = this.frames.slice(from).find((f) => f.id === id);
        return answer !== undefined;
      },
      timeoutMs,
      `answer to ${JSON.stringify(frame).slice(0, 80)}`,
    );
    return answer!;
  }

  private async subscribeAll(cursorFor: (channel: string) => string | undefined): Promise<void> {
    for (const channel of this.opts.channels) {
      const cursor = cursorFor(channel);
      const frame: Record<string, unknown> = { type: 'subscribe', channel };
      if (cursor !== undefined) frame.cursor = cursor;
      else if (this.opts.last !== undefined) frame.last = this.opts.last;
      const answer = await this.call(frame);
      if (answer.type !== 'subscribed') throw new Error(`subscribe ${channel} answered ${JSON.stringify(answer)}`);
    }
  }

  async subscribe(opts: SubscribeOptions): Promise<void> {
    this.opts = opts;
    await this.connect();
    await this.subscribeAll(() => opts.cursor);
  }

  async drop(): Promise<void> {
    const socket = this.socket;
    if (socket === undefined || socket.readyState === WebSocket.CLOSED) return;
    const closed = new Promise((r) => socket.once('close', r));
    socket.terminate();
    await closed;
  }

  async resume(): Promise<void> {
    await this.connect();
    await this.subscribeAll((channel) => this.cursors.get(channel) ?? this.opts.cursor);
  }

  async close(): Promise<void> {
    await this.drop();
  }
}

/**
 * The client SDK (src/client) held to the same contract: `drop()` closes the client as a
 * lost page would, `resume()` starts a new one from each subscription's cursor.
 */
export class SdkSubscriber implements Subscriber {
  readonly messages: Envelope[] = [];
  readonly gaps: GapNotice[] = [];
  private client: Tidings | undefined;
  private subs: Subscription[] = [];
  private opts: SubscribeOptions = { channels: [] };

  constructor(
    private readonly baseUrl: string,
    readonly name: TransportName,
  ) {}

  get cursor(): string | undefined {
    return this.subs.length === 1 ? this.subs[0]!.cursor : undefined;
  }

  private async start(cursorFor: (channel: string) => string | undefined): Promise<void> {
    const client = new Tidings(this.baseUrl, { ...QUICK, transports: [this.name] });
    this.client = client;
    client.on('gap', (g) => this.gaps.push(g));
    this.subs = this.opts.channels.map((channel) => {
      const cursor = cursorFor(channel);
      return client.subscribe(channel, (m) => this.messages.push(m as Envelope), cursor !== undefined ? { cursor } : { last: this.opts.last });
    });
    await waitFor(() => client.state === 'connected', 5000, `SDK connected over ${this.name}`);
  }

  async subscribe(opts: SubscribeOptions): Promise<void> {
    this.opts = opts;
    await this.start(() => opts.cursor);
  }

  async drop(): Promise<void> {
    this.client?.close();
  }

  async resume(): Promise<void> {
    const cursors = new Map(this.subs.map((s) => [s.channel, s.cursor]));
    await this.start((channel) => cursors.get(channel) ?? this.opts.cursor);
  }

  async close(): Promise<void> {
    this.client?.close();
  }
}

export interface TransportCase {
  name: TransportName;
  make(baseUrl: string): Subscriber;
}

/** The table every shared scenario runs over: the SDK, forced onto each transport. */
export const transportCases: readonly TransportCase[] = [
  { name: 'short-poll', make: (url) => new SdkSubscriber(url, 'short-poll') },
  { name: 'long-poll', make: (url) => new SdkSubscriber(url, 'long-poll') },
  { name: 'sse', make: (url) => new SdkSubscriber(url, 'sse') },
  { name: 'ws', make: (url) => new SdkSubscriber(url, 'ws') },
];

/**
 * The same four, spoken by hand on the wire: the black-box check that the server's frames
 * are what docs/protocol.md says, whatever the SDK does.
 */
export const rawTransportCases: readonly TransportCase[] = [
  { name: 'short-poll', make: (url) => new PollSubscriber(url, 'short-poll') },
  { name: 'long-poll', make: (url) => new PollSubscriber(url, 'long-poll') },
  { name: 'sse', make: (url) => new SseSubscriber(url) },
  { name: 'ws', make: (url) => new WsSubscriber(url) },
];
