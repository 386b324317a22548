/**
 * The Tidings client SDK (`tidings/client`): browsers and Node 20, one implementation.
 *
 * @example
 * import { Tidings } from 'tidings/client';
 * const client = new Tidings('http://localhost:8080');
 * client.subscribe('prices', (m) => console.log(m.offset, m.data), { last: 10 });
 */
export { Tidings, type TidingsOptions, type SubscribeOptions, type PublishOptions, type Subscription, type TidingsEvents } from './tidings.js';
export type { Ack, ClientError, ConnectionState, Gap, Message, StateChange, TransportName, WebSocketConstructor, WebSocketLike, FetchLike } from './types.js';
export type { BackoffOptions } from '../core/backoff.js';
