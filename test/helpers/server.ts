import { randomBytes } from 'node:crypto';
import { configWith, type Config } from '../../src/config.js';
import { startServer, type TidingsServer } from '../../src/server.js';

/** The envelope of docs/protocol.md as a client sees it. */
export interface Envelope {
  channel: string;
  offset: number;
  epoch: string;
  time: number;
  event?: string;
  data: unknown;
}

export interface GapNotice {
  channel: string;
  epoch: string;
  from: number;
  first: number;
}

/** A real server on 127.0.0.1, a free port, silent logs; the caller closes it. */
export async function startTestServer(overrides: Partial<Config> = {}): Promise<TidingsServer> {
  return startServer(configWith({ host: '127.0.0.1', port: 0, logLevel: 'silent', ...overrides }));
}

/** A channel name no other test uses, so tests sharing a server don't see each other. */
export function uniqueChannel(prefix = 'ch'): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/**
 * Resolves once `predicate` is true, polling every few ms; rejects after `timeoutMs` with
 * `what` in the message, so a stuck test says what it was waiting for.
 */
export async function waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(5);
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Rejects if `promise` does not settle within `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, what = 'operation'): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface Published {
  channel: string;
  offset: number;
  epoch: string;
  time: number;
}

export interface PublishOptions {
  event?: string;
  idempotencyKey?: string;
  apiKey?: string;
}

/** `POST /v1/channels/{ch}/messages` with a JSON body; throws unless 200/201. */
export async function publish(baseUrl: string, channel: string, data: unknown, opts: PublishOptions = {}): Promise<Published> {
  const url = new URL(`/v1/channels/${encodeURIComponent(channel)}/messages`, baseUrl);
  if (opts.event !== undefined) url.searchParams.set('event', opts.event);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (opts.idempotencyKey !== undefined) headers['idempotency-key'] = opts.idempotencyKey;
  if (opts.apiKey !== undefined) headers.authorization = `Bearer ${opts.apiKey}`;
  const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify(data) });
  const body = await res.text();
  if (res.status !== 201 && res.status !== 200) throw new Error(`publish to ${channel} answered ${res.status}: ${body}`);
  return JSON.parse(body) as Published;
}

/** Publishes `count` messages `{ n: 1..count }` (plus `from - 1`) one after another, in order. */
export async function publishSeries(baseUrl: string, channel: string, count: number, from = 1): Promise<Published[]> {
  const out: Published[] = [];
  for (let n = from; n < from + count; n++) out.push(await publish(baseUrl, channel, { n }));
  return out;
}

export interface JsonAnswer<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

/** Any request; the body is parsed as JSON when it is JSON, else left as text. */
export async function request<T = Record<string, unknown>>(baseUrl: string, path: string, init: RequestInit = {}): Promise<JsonAnswer<T>> {
  const res = await fetch(new URL(path, baseUrl), init);
  const text = await res.text();
  const type = res.headers.get('content-type') ?? '';
  const body = (type.includes('json') && text.length > 0 ? JSON.parse(text) : text) as T;
  return { status: res.status, headers: res.headers, body };
}

/** A poll's answer (docs/protocol.md § Polling). */
export interface PollAnswer {
  messages: Envelope[];
  cursor: string;
  gap?: GapNotice[];
}

/** A poll whose settling can be watched: `done` flips when the answer is in, `elapsed` says after how long. */
export function startPoll(baseUrl: string, query: string, signal?: AbortSignal) {
  const state = { done: false, started: Date.now(), elapsed: 0 };
  const answer = request<PollAnswer>(baseUrl, `/v1/poll?${query}`, { signal }).then((res) => {
    state.done = true;
    state.elapsed = Date.now() - state.started;
    return res;
  });
  return { state, answer };
}

export interface ChannelInfo {
  channel: string;
  epoch: string;
  last: number;
  first: number;
  subscribers: number;
}

export async function channelInfo(baseUrl: string, channel: string): Promise<ChannelInfo> {
  const res = await request<ChannelInfo>(baseUrl, `/v1/channels/${encodeURIComponent(channel)}`);
  if (res.status !== 200) throw new Error(`channel info ${channel} answered ${res.status}`);
  return res.body;
}

/** Resolves when the channel has exactly `n` live subscriptions on the server. */
export async function waitForSubscribers(baseUrl: string, channel: string, n: number, timeoutMs = 5000): Promise<void> {
  await waitFor(async () => (await channelInfo(baseUrl, channel)).subscribers === n, timeoutMs, `${n} subscribers on ${channel}`);
}

/** The offsets of `messages`, for comparing with `range(1, n)`. */
export function offsets(messages: readonly { offset: number }[]): number[] {
  return messages.map((m) => m.offset);
}

export function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i <= to; i++) out.push(i);
  return out;
}

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  code: string;
  detail: string;
}

/** Asserts an RFC 9457 answer as docs/protocol.md § Error codes describes it, with `status` and `code`. */
export function assertProblem(answer: JsonAnswer<unknown>, status: number, code: string, what = ''): ProblemBody {
  const label = `${what} → ${answer.status} ${JSON.stringify(answer.body).slice(0, 200)}`;
  if (answer.status !== status) throw new Error(`expected ${status} ${code}: ${label}`);
  const type = answer.headers.get('content-type') ?? '';
  if (!type.startsWith('application/problem+json')) throw new Error(`expected application/problem+json, got ${type}: ${label}`);
  const body = answer.body as ProblemBody;
  const ok =
    body.type === 'about:blank' &&
    typeof body.title === 'string' &&
    body.title.length > 0 &&
    body.status === status &&
    body.code === code &&
    typeof body.detail === 'string' &&
    body.detail.length > 0;
  if (!ok) throw new Error(`malformed problem (want ${code}): ${label}`);
  return body;
}
