import type { IncomingMessage, ServerResponse } from 'node:http';
import { bearerToken } from '../auth/api-key.js';
import { parseEnvelopeForm } from '../core/compact-envelope.js';
import { decodeCursor, type Positions } from '../core/cursor.js';
import { TidingsError } from '../core/errors.js';
import { parseSubscribeQuery, type ChannelStart } from '../http/subscribe-params.js';
import { startPosition } from '../hub/start.js';
import { admitSubscriber } from './admission.js';
import type { ServerContext } from './context.js';
import type { ChannelPosition } from './poll-several.js';
import { PollSpots } from './poll-spots.js';
import type { Transport } from './push.js';

function parseWait(raw: string | null, maxWaitMs: number): number {
  if (raw === null || raw === '' || raw === '0') return 0;
  const maxS = Math.floor(maxWaitMs / 1000);
  if (!/^\d{1,3}$/.test(raw) || Number(raw) < 1 || Number(raw) > maxS) {
    throw new TidingsError('invalid_parameter', `wait=${raw.slice(0, 20)} is invalid: use 0 (short poll) or 1 to ${maxS} seconds (long poll).`);
  }
  return Number(raw) * 1000;
}

/**
 * decodeCursor once per distinct cursor text per event-loop turn: the pollers answered
 * together come back together, at one position, with the same cursor.
 */
function turnCachedDecoder(): (text: string) => Positions {
  const cache = new Map<string, Positions>();
  let clearing = false;
  return (text) => {
    let positions = cache.get(text);
    if (positions === undefined) {
      positions = decodeCursor(text);
      cache.set(text, positions);
      if (!clearing) {
        clearing = true;
        setImmediate(() => {
          cache.clear();
          clearing = false;
        });
      }
    }
    return positions;
  };
}

/**
 * `GET /v1/poll`: short polling (`wait=0`, answer at once) and long polling (`wait=S`,
 * hold the request until a message or the deadline). Both read the same history and hand
 * back a cursor, so a client can switch between them, or to SSE or WebSocket, at any poll.
 */
export class Poll implements Transport {
  readonly name = 'long_poll';
  private readonly spots: PollSpots;
  private readonly decodeCursor = turnCachedDecoder();

  constructor(private readonly ctx: ServerContext) {
    this.spots = new PollSpots(ctx);
  }

  async handle(req: IncomingMessage, res: ServerResponse, query: URLSearchParams): Promise<void> {
    const { config, metrics } = this.ctx;
    const waitMs = parseWait(query.get('wait'), config.longPollMaxWaitMs);
    const starts = parseSubscribeQuery(query, config.maxSubscriptions, undefined, this.decodeCursor);
    const form = parseEnvelopeForm(query.get('envelope'));
    const grants = await admitSubscriber(this.ctx, bearerToken(req, query), starts.map((s) => s.channel));
    const transport = waitMs === 0 ? 'short_poll' : 'long_poll';
    metrics.connections[transport]++;
    try {
      // One channel from a cursor, what a polling client sends from its second poll on:
      // straight to its spot, with every other poll at that channel and position.
      const only = starts.length === 1 ? starts[0]! : undefined;
      if (only?.start.kind === 'after') {
        await this.spots.poll(only.channel, only.start.position, form, res, waitMs, grants.expiresAtMs);
        return;
      }
      // A first poll (`last=N`, or from now) turns its start into a position, and from
      // there is served like a poll from a cursor; so is a poll of several channels.
      const positions = await Promise.all(starts.map((s) => this.position(s)));
      if (positions.length === 1) await this.spots.poll(positions[0]!.channel, positions[0]!.position, form, res, waitMs, grants.expiresAtMs);
      else await this.spots.pollSeveral(positions, form, res, waitMs, grants.expiresAtMs);
    } finally {
      metrics.connections[transport]--;
    }
  }

  /** Where a channel's poll reads from: its cursor position, or its start (`last=N`, now) given the channel's state. */
  private async position({ channel, start }: ChannelStart): Promise<ChannelPosition> {
    if (start.kind === 'after') return { channel, position: start.position };
    return { channel, position: startPosition(start, await this.ctx.hub.info(channel)) };
  }

  /** Shutdown: every parked long poll answers now, with what it has and its cursor. */
  drain(): void {
    this.spots.drain();
  }

  /** Long polls parked now: the one count, kept by the metrics gauge. */
  get parked(): number {
    return this.ctx.metrics.longPollsParked;
  }

  /** Transport shape: what is open is the parked long polls. */
  get size(): number {
    return this.parked;
  }

  /** Shutdown: parked long polls answer with their cursor (the reason shows in `Connection: close`). */
  closeAll(): Promise<void> {
    this.drain();
    return Promise.resolve();
  }
}
