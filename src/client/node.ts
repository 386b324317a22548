/**
 * `tidings/client` under Node: the same client, with `ws` as its WebSocket (Node 20 has
 * none of its own). Browsers get index.ts, which has no Node-only import.
 */
import WebSocket from 'ws';
import { Tidings as BaseTidings, type TidingsOptions } from './tidings.js';
import type { WebSocketConstructor } from './types.js';

export class Tidings extends BaseTidings {
  constructor(url: string, options: TidingsOptions = {}) {
    super(url, { WebSocket: WebSocket as unknown as WebSocketConstructor, ...options });
  }
}
export type { TidingsOptions, SubscribeOptions, PublishOptions, Subscription, TidingsEvents } from './tidings.js';
export type { Ack, ClientError, ConnectionState, Gap, Message, StateChange, TransportName, WebSocketConstructor, WebSocketLike, FetchLike } from './types.js';
export type { BackoffOptions } from '../core/backoff.js';
