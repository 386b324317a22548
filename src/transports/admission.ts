import type { Grants } from '../auth/access.js';
import { TidingsError } from '../core/errors.js';
import type { ServerContext } from './context.js';

/** The one refusal of a new subscriber during shutdown: 503, and go elsewhere. */
export function shuttingDown(): TidingsError {
  return new TidingsError('unavailable', 'The server is shutting down; reconnect to another node or retry.', { 'retry-after': '1' });
}

/**
 * The preamble of every subscribe request (poll, SSE, WebSocket upgrade): who the client
 * is, that its credential reaches each channel asked for, and that the server still takes
 * subscribers. Resolves with the client's grants.
 */
export async function admitSubscriber(ctx: ServerContext, token: string | undefined, channels: Iterable<string>): Promise<Grants> {
  const grants = await ctx.access.identify(token);
  for (const channel of channels) grants.assertSubscribe(channel);
  if (ctx.isDraining()) throw shuttingDown();
  return grants;
}
