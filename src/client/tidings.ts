import type { BackoffOptions } from '../core/backoff.js';
import { Connector } from './connector.js';
import { Emitter } from './emitter.js';
import { publishOverHttp } from './publish.js';
import { tokenExpiry } from './token.js';
import { longPoll } from './transports/long-poll.js';
import { shortPoll } from './transports/short-poll.js';
import { SseTransport } from './transports/sse.js';
import { clientError, type Drop, type SubState, type Transport, type TransportHost, type TransportOptions } from './transports/transport.js';
import { WsTransport } from './transports/ws.js';
import {
  ALL_TRANSPORTS,
  type Ack,
  type ClientError,
  type ConnectionState,
  type FetchLike,
  type Gap,
  type Message,
  type StateChange,
  type TransportName,
  type WebSocketConstructor,
} from './types.js';

/** Options of `new Tidings(url, options)`; every one has a default. */
export interface TidingsOptions {
  /** Transports to try, in order. Default `['ws', 'sse', 'long-poll', 'short-poll']`; give one to force it. */
  transports?: TransportName[];
  /** An API key or JWT, sent as `Authorization: Bearer` (or `token=` where a header can't be set). */
  token?: string;
  /** Called for a token before connecting (when `token` is not given) and again whenever the server refuses or expires one. */
  getToken?: () => string | Promise<string>;
  /** Milliseconds between short polls. Default 1000. */
  shortPollInterval?: number;
  /** Seconds a long poll may be held by the server (`wait=`). Default 25 (under the 30 s many proxies allow). */
  longPollWait?: number;
  /** A transport not working within this many ms is passed over for the next. Default 5000. */
  openTimeout?: number;
  /** Reconnect backoff with full jitter, ms. Default `{ min: 500, max: 20000 }`. */
  reconnectDelay?: BackoffOptions;
  /** Backoff between background tries of a better transport while on a fallback, ms. Default `{ min: 5000, max: 120000 }`. */
  upgradeDelay?: BackoffOptions;
  /** An event stream silent this long (the server sends keep-alives every 15 s) is taken as dead, ms. Default 45000. */
  idleTimeout?: number;
  /** A request (poll, publish, ping) unanswered this long is taken as lost, ms. Default 10000. */
  requestTimeout?: number;
  /** The WebSocket class. Default: the platform's (`ws` in Node, via `tidings/client`). */
  WebSocket?: WebSocketConstructor;
  /** The fetch function. Default: the global one. */
  fetch?: FetchLike;
}

/** Where a subscription starts: after a cursor the server handed out, or with the last N messages. Default: from now. */
export interface SubscribeOptions {
  last?: number;
  cursor?: string;
}

export interface PublishOptions {
  /** The event name (SSE `event:`). */
  event?: string;
  /** The idempotency key; default a random one. A retry with the same key is never a second message. */
  idempotencyKey?: string;
}

/**
 * A live subscription: `cursor` is where it would resume; `unsubscribe()` ends it.
 *
 * Over WebSocket and SSE every message carries its cursor, so `cursor` read inside the
 * handler already covers that message. A poll answer carries one cursor for all of its
 * messages, which comes with the last of them: during the handlers of the earlier ones
 * `cursor` still resumes before the answer (or is `undefined`, in the first answer of a
 * `last: N` subscription). To persist the cursor on a polling transport, read it once
 * the handler has returned (e.g. `queueMicrotask`): it then covers the whole answer.
 */
export interface Subscription {
  readonly channel: string;
  readonly cursor: string | undefined;
  unsubscribe(): void;
}

export interface TidingsEvents extends Record<string, unknown> {
  state: StateChange;
  gap: Gap;
  error: ClientError;
}

type Handler = (message: Message) => void;

/** A JWT this close to its `exp` is replaced before use, ms. */
const TOKEN_MARGIN = 5000;

const MAKERS: Record<TransportName, (host: TransportHost) => Transport> = {
  ws: (h) => new WsTransport(h),
  sse: (h) => new SseTransport(h),
  'long-poll': longPoll,
  'short-poll': shortPoll,
};

/**
 * A Tidings client: subscriptions over one connection, on the best transport that works,
 * resumed after every drop with no message lost or repeated.
 *
 * @example
 * const client = new Tidings('https://rt.example.com', { getToken: () => fetchToken() });
 * const sub = client.subscribe('prices', (m) => show(m.data), { last: 10 });
 * client.on('gap', (g) => reload(g.channel));
 * await client.publish('prices', { px: 12.5 }, { event: 'tick' });
 */
export class Tidings extends Emitter<TidingsEvents> {
  readonly url: string;
  private readonly options: TransportOptions;
  private readonly subs = new Map<string, SubState>();
  /** What the transports see of the client: its state and the callbacks below. */
  private readonly host: TransportHost;
  private readonly handlers = new Map<string, Handler>();
  private readonly connector: Connector;
  private currentToken: string | undefined;
  private readonly getToken: (() => string | Promise<string>) | undefined;
  private refreshing: Promise<boolean> | undefined;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private cursorSeq = 0;
  private syncQueued = false;
  private connecting = false;
  private isClosed = false;
  private readonly unlisten: (() => void)[] = [];

  /**
   * @param url the server's base URL, e.g. `http://localhost:8080`.
   * @param options transports, token or getToken, timings; see {@link TidingsOptions}.
   */
  constructor(url: string, options: TidingsOptions = {}) {
    super();
    this.url = url;
    this.currentToken = options.token;
    this.getToken = options.getToken;
    const fetchFn = options.fetch ?? globalThis.fetch?.bind(globalThis);
    this.options = {
      fetch: fetchFn,
      WebSocket: options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket,
      longPollWait: Math.ceil(options.longPollWait ?? 25),
      shortPollInterval: options.shortPollInterval ?? 1000,
      idleTimeout: options.idleTimeout ?? 45_000,
      requestTimeout: options.requestTimeout ?? 10_000,
    };
    for (const [name, value] of Object.entries(this.options)) {
      if (typeof value === 'number' && !(Number.isFinite(value) && value > 0)) throw new Error(`${name} must be a positive number of ${name === 'longPollWait' ? 'seconds' : 'ms'}`);
    }
    const order = options.transports ?? [...ALL_TRANSPORTS];
    if (order.length === 0 || order.some((t) => !ALL_TRANSPORTS.includes(t))) throw new Error(`transports must name some of ${ALL_TRANSPORTS.join(', ')}`);
    this.connector = new Connector(
      {
        order,
        openTimeout: options.openTimeout ?? 5000,
        reconnectDelay: options.reconnectDelay ?? { min: 500, max: 20_000 },
        upgradeDelay: options.upgradeDelay ?? { min: 5000, max: 120_000 },
      },
      {
        make: (name) => MAKERS[name](this.host),
        state: (s) => this.emit('state', s),
        fatal: (drop) => this.fatal(drop),
        // A token already replaced since the dropped connection used it (after the error
        // frame that preceded the close, say) is fresh: no second getToken for one expiry.
        refreshToken: (used) => (used !== undefined && used !== this.currentToken ? Promise.resolve(true) : this.refreshToken()),
        prepare: () => this.freshToken(),
      },
    );
    this.host = {
      url,
      options: this.options,
      subs: this.subs,
      token: () => this.currentToken,
      refreshToken: () => this.refreshToken(),
      message: (from, m, cursor) => this.onMessage(from, m, cursor),
      gap: (from, g) => this.onGap(from, g),
      position: (from, channels, cursor) => this.onPosition(from, channels, cursor),
      refused: (from, channel, error) => this.onRefused(from, channel, error),
      established: (from) => this.connector.established(from),
      closed: (from, drop) => this.connector.closed(from, drop),
    };
    this.listenToPlatform();
    this.scheduleRefresh();
  }

  /** The transport carrying the client now, if connected. */
  get transport(): TransportName | undefined {
    return this.connector.primary?.name;
  }

  get state(): ConnectionState {
    return this.connector.state;
  }

  /**
   * Subscribes to `channel`; `handler` gets each message once, in offset order, across
   * reconnects and transport changes. Connects on the first subscription.
   *
   * @param options `{ last: N }` starts with the last N retained messages, `{ cursor }`
   *   resumes after a cursor the server handed out; default: messages from now on.
   * @example const sub = client.subscribe('chat:42', (m) => render(m), { last: 50 });
   */
  subscribe<T = unknown>(channel: string, handler: (message: Message<T>) => void, options: SubscribeOptions = {}): Subscription {
    if (this.isClosed) throw new Error('the client is closed');
    if (this.subs.has(channel)) throw new Error(`already subscribed to ${channel}; unsubscribe first`);
    const state: SubState = { channel, cursor: options.cursor, cursorSeq: ++this.cursorSeq, last: options.last, epoch: undefined, offset: 0 };
    this.subs.set(channel, state);
    this.handlers.set(channel, handler as Handler);
    this.queueSync();
    return {
      channel,
      get cursor() {
        return state.cursor;
      },
      unsubscribe: () => {
        if (this.subs.get(channel) !== state) return;
        this.subs.delete(channel);
        this.handlers.delete(channel);
        this.queueSync();
      },
    };
  }

  private async connect(): Promise<void> {
    if (this.currentToken === undefined && this.getToken !== undefined) await this.refreshToken();
    if (!this.isClosed) this.connector.start();
  }

  /** Every subscribe and unsubscribe of one turn reaches the transports as one change. */
  private queueSync(): void {
    if (this.syncQueued) return;
    this.syncQueued = true;
    queueMicrotask(() => {
      this.syncQueued = false;
      if (this.isClosed) return;
      if (!this.connecting) {
        // The first subscription connects, with the whole first batch of subscriptions.
        this.connecting = true;
        void this.connect();
      } else for (const t of this.connector.live()) t.sync();
    });
  }

  /**
   * Publishes `data` to `channel`: over the WebSocket when one is open, else HTTP POST.
   * Always with an idempotency key, so the retries after a timeout or a drop never make
   * a second message.
   *
   * @returns where it landed: `{ channel, offset, epoch }`.
   * @example const { offset } = await client.publish('prices', { px: 12.5 }, { event: 'tick' });
   */
  async publish(channel: string, data: unknown, options: PublishOptions = {}): Promise<Ack> {
    if (this.isClosed) throw new Error('the client is closed');
    if (this.currentToken === undefined && this.getToken !== undefined) await this.refreshToken();
    else await this.freshToken();
    const key = options.idempotencyKey ?? randomKey();
    const overSocket = this.connector.primary?.publish?.(channel, data, options.event, key);
    if (overSocket !== undefined) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(clientError('no ack in time', 'timeout', channel)), this.options.requestTimeout);
      });
      try {
        return await Promise.race([overSocket, timeout]);
      } catch (err) {
        // The server's own refusal is final; a lost ack or a dropped socket is retried
        // over HTTP with the same key, which the server has seen if the first try landed.
        const code = (err as ClientError).code;
        if (code !== 'timeout' && code !== 'disconnected') throw err;
      } finally {
        clearTimeout(timer);
      }
    }
    return publishOverHttp(this.host, channel, data, options.event, key);
  }

  /** Closes the connection and ends every subscription. */
  close(reason?: string): void {
    if (this.isClosed) return;
    this.isClosed = true;
    clearTimeout(this.refreshTimer);
    for (const u of this.unlisten) u();
    this.connector.stop(reason);
    this.subs.clear();
    this.handlers.clear();
  }

  // --- what the transports call back (through `host`) ---

  /** Replaces a JWT that expires within a few seconds before it is used to connect. */
  private async freshToken(): Promise<void> {
    const exp = tokenExpiry(this.currentToken);
    if (this.getToken !== undefined && exp !== undefined && exp - Date.now() < TOKEN_MARGIN) await this.refreshToken();
  }

  private refreshToken(): Promise<boolean> {
    if (this.getToken === undefined) return Promise.resolve(false);
    this.refreshing ??= (async () => {
      try {
        const token = await this.getToken!();
        if (this.isClosed) return false;
        const changed = token !== this.currentToken;
        this.currentToken = token;
        if (changed) {
          this.connector.primary?.auth?.(token);
          this.scheduleRefresh();
        }
        return true;
      } catch (err) {
        this.emit('error', clientError(`getToken failed: ${(err as Error)?.message ?? err}`, 'token'));
        return false;
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  /**
   * A JWT is replaced shortly before its `exp`, so a WebSocket swaps it in place (`auth`)
   * instead of being closed with token_expired; other transports use it on their next request.
   */
  private scheduleRefresh(): void {
    clearTimeout(this.refreshTimer);
    const exp = tokenExpiry(this.currentToken);
    if (exp === undefined || this.getToken === undefined) return;
    this.refreshTimer = setTimeout(() => void this.refreshToken(), Math.max(1000, exp - Date.now() - TOKEN_MARGIN));
  }

  private onMessage(_from: Transport, m: Message, cursor?: string): void {
    const s = this.subs.get(m.channel);
    // Dedupe: a transport resuming, or a second one catching up, repeats what was delivered.
    if (s === undefined || (s.epoch === m.epoch && m.offset <= s.offset)) return;
    s.epoch = m.epoch;
    s.offset = m.offset;
    if (cursor !== undefined) this.setCursor(s, cursor);
    const handler = this.handlers.get(m.channel)!;
    try {
      handler(m);
    } catch (err) {
      this.emit('error', clientError(`subscription handler for ${m.channel} threw: ${(err as Error)?.message ?? err}`, 'handler', m.channel));
    }
  }

  private onGap(_from: Transport, g: Gap): void {
    const s = this.subs.get(g.channel);
    // A gap already passed (reported by another transport, or older than what was delivered).
    if (s === undefined || (s.epoch === g.epoch && g.first <= s.offset + 1)) return;
    s.epoch = g.epoch;
    s.offset = g.first - 1;
    this.emit('gap', g);
  }

  private onPosition(from: Transport, channels: readonly string[], cursor: string): void {
    const leads = this.connector.leads(from);
    for (const c of channels) {
      const s = this.subs.get(c);
      if (s !== undefined && (leads || s.cursor === undefined)) this.setCursor(s, cursor);
    }
  }

  private setCursor(s: SubState, cursor: string): void {
    s.cursor = cursor;
    s.cursorSeq = ++this.cursorSeq;
  }

  private onRefused(_from: Transport, channel: string, error: ClientError): void {
    this.subs.delete(channel);
    this.handlers.delete(channel);
    this.emit('error', error);
  }

  /** Ends the client for a reason that won't go away by retrying; `error` listeners see it closed. */
  private fatal(drop: Drop): void {
    this.close(drop.reason);
    this.emit('error', drop.error ?? clientError(`connection closed: ${drop.reason}`, drop.reason));
  }

  /** A sleeping tab or a dead network: check or reconnect at once when they come back. */
  private listenToPlatform(): void {
    type Target = { addEventListener(e: string, l: () => void): void; removeEventListener(e: string, l: () => void): void };
    const g = globalThis as Partial<Target> & { document?: Target & { visibilityState?: string } };
    const doc = g.document;
    if (typeof g.addEventListener !== 'function' || doc === undefined) return;
    const wake = () => {
      if (doc.visibilityState !== 'hidden') this.connector.wake();
    };
    const targets: [Target, string][] = [
      [g as Target, 'online'],
      [doc, 'visibilitychange'],
    ];
    for (const [t, e] of targets) t.addEventListener(e, wake);
    this.unlisten.push(() => {
      for (const [t, e] of targets) t.removeEventListener(e, wake);
    });
  }
}

/** 128 random bits as hex: getRandomValues works in every browser context and in Node 20. */
function randomKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

