import { PollLoop } from './poll-loop.js';
import type { TransportHost } from './transport.js';

/** Short polling: `GET /v1/poll` answered at once, every `shortPollInterval` ms. */
export const shortPoll = (host: TransportHost) => new PollLoop(host, 'short-poll');
