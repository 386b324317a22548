import { HttpError, sendJson } from './transports/http.js';
import { clientError, type TransportHost } from './transports/transport.js';
import type { Ack } from './types.js';

/** Tries of one publish before giving up (the idempotency key makes each retry safe). */
const PUBLISH_TRIES = 3;

/**
 * `POST /v1/channels/{ch}/messages` with `Idempotency-Key`: a timeout or a network
 * error is retried with the same key, so the server records the message at most once.
 * A 4xx answer is final and rejects with its code.
 */
export async function publishOverHttp(host: TransportHost, channel: string, data: unknown, event: string | undefined, key: string): Promise<Ack> {
  const path = `/v1/channels/${encodeURIComponent(channel)}/messages${event === undefined ? '' : `?event=${encodeURIComponent(event)}`}`;
  for (let attempt = 1; ; attempt++) {
    try {
      const { offset, epoch } = await sendJson<Ack>(host, path, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify(data),
        timeoutMs: host.options.requestTimeout,
      });
      return { channel, offset, epoch };
    } catch (err) {
      const final = err instanceof HttpError && err.status < 500 && err.status !== 408;
      if (final || attempt >= PUBLISH_TRIES) {
        throw err instanceof HttpError ? clientError(err.message, err.code, channel) : clientError(`publish to ${channel} failed: ${(err as Error).message}`, 'network', channel);
      }
      await new Promise((r) => setTimeout(r, 200 * attempt));
    }
  }
}
