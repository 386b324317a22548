import { PollLoop } from './poll-loop.js';
import type { TransportHost } from './transport.js';

/** Long polling: `GET /v1/poll?wait=S`, held by the server until a message or S seconds. */
export const longPoll = (host: TransportHost) => new PollLoop(host, 'long-poll');
