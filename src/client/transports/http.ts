import { clientError, type Drop, type TransportHost } from './transport.js';

/** Thrown by `send` for an answer that is not 2xx; `status` and `code` tell why. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

/**
 * `path` ('/v1/…') under the client's base URL, keeping any path the base has: a server
 * behind a proxy at https://example.com/realtime/ is reached at /realtime/v1/….
 */
export function endpoint(host: TransportHost, path: string): URL {
  return new URL(path.slice(1), host.url.endsWith('/') ? host.url : `${host.url}/`);
}

type Outcome<T> = { ok: true; value: T } | { ok: false; status: number; problem: { code?: string; detail?: string } };

/**
 * One HTTP request with the client's token as `Authorization: Bearer` (fetch may set
 * headers, unlike EventSource and WebSocket); `read` takes the answer apart. A 401 calls
 * getToken once and retries. `timeoutMs` (0: none) aborts a request, body included,
 * that hangs; `signal` aborts it from outside, for as long as `read` runs.
 */
export async function send<T>(host: TransportHost, path: string, init: RequestInit & { timeoutMs?: number }, read: (res: Response) => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const headers: Record<string, string> = { ...(init.headers as Record<string, string>) };
    const token = host.token();
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    const result = await withTimeout(init.timeoutMs ?? 0, init.signal ?? undefined, async (signal): Promise<Outcome<T>> => {
      const res = await host.options.fetch(endpoint(host, path).href, { ...init, headers, signal });
      if (res.ok) return { ok: true, value: await read(res) };
      const text = await res.text().catch(() => '');
      let problem: { code?: string; detail?: string };
      try {
        problem = JSON.parse(text) as typeof problem;
      } catch {
        problem = { detail: text.slice(0, 200) || res.statusText };
      }
      return { ok: false, status: res.status, problem };
    });
    if (result.ok) return result.value;
    const { status, problem } = result;
    if (status === 401 && attempt === 0 && (await host.refreshToken())) continue;
    throw new HttpError(status, problem.code, `${status} ${problem.code ?? ''}: ${problem.detail ?? ''}`);
  }
}

/** `send` for a JSON answer. */
export function sendJson<T>(host: TransportHost, path: string, init: RequestInit & { timeoutMs?: number }): Promise<T> {
  return send(host, path, init, (res) => res.json() as Promise<T>);
}

/** Runs `work` with a signal that aborts after `ms` (0: never) or when `outer` aborts. */
export async function withTimeout<T>(ms: number, outer: AbortSignal | undefined, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  if (ms === 0 && outer !== undefined) return work(outer);
  const ctl = new AbortController();
  const abort = () => ctl.abort();
  if (outer?.aborted === true) ctl.abort();
  outer?.addEventListener('abort', abort);
  const timer = ms > 0 ? setTimeout(abort, ms) : undefined;
  try {
    return await work(ctl.signal);
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener('abort', abort);
  }
}

/** The Drop for a failed HTTP request: a 401 asks for a new token, other 4xx don't resume. */
export function dropOf(err: unknown, neverOpened: boolean): Drop {
  if (err instanceof HttpError) {
    const tokenExpired = err.status === 401;
    const error = clientError(err.message, err.code);
    return { reason: err.code ?? `http_${err.status}`, resume: tokenExpired || err.status >= 500 || err.status === 429 || err.status === 408, tokenExpired, neverOpened, error };
  }
  return { reason: 'network', resume: true, neverOpened, error: clientError((err as Error)?.message ?? String(err)) };
}
