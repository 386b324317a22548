import type { PollDialect } from './poll-fleet.js';

interface TidingsPollAnswer {
  messages: unknown[];
  cursor: string;
  gap?: unknown[];
}

/**
 * Tidings' `GET /v1/poll`: a new poller first asks with `wait=0` and no cursor, for a
 * cursor at the channel's end, so it is subscribed from then on; it then asks after that
 * cursor, parked with `wait=` when long. An answer holds every message after the cursor
 * and the cursor to ask after next; `gap` lists what is gone.
 */
export function tidingsPoll(channel: string): PollDialect<string> {
  return {
    asksWhereToStart: true,
    shortPacing: 'every-interval',
    request: (cursor, waitS) => ({
      path: `/v1/poll?channel=${channel}${cursor === undefined ? '' : `&cursor=${cursor}`}${waitS > 0 ? `&wait=${waitS}` : ''}`,
    }),
    read: ({ statusCode, text }) => {
      if (statusCode !== 200) throw new Error(`poll answered ${statusCode}: ${text.slice(0, 200)}`);
      const answer = JSON.parse(text) as TidingsPollAnswer;
      return { messages: answer.messages, position: answer.cursor, gaps: answer.gap?.length ?? 0 };
    },
  };
}
