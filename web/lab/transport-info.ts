import type { TransportName } from '/client.js';

/** What each panel says about its transport: the endpoint, and when to choose it. */
export const TRANSPORT_INFO: Record<TransportName, { title: string; endpoint: string; polls: boolean; advice: string }> = {
  'short-poll': {
    title: 'Short polling',
    endpoint: 'GET /v1/poll?cursor=… every interval',
    polls: true,
    advice:
      'Choose it for rare checks where a few seconds of delay cost nothing, such as a provisioning or build status. It works through anything that speaks HTTP, but pays a request per interval, and most answers are empty.',
  },
  'long-poll': {
    title: 'Long polling',
    endpoint: 'GET /v1/poll?cursor=…&wait=25, held until a message',
    polls: true,
    advice:
      'Choose it where streams are blocked or buffered (some corporate proxies, old load balancers): the server holds each request until there is news, so latency is one round trip, at the cost of a request per answer.',
  },
  sse: {
    title: 'Server-Sent Events',
    endpoint: 'GET /v1/events, one long response',
    polls: false,
    advice:
      'Choose it for one-way feeds: tickers, dashboards, notifications, log tails. One plain HTTP response carries every message as it happens and resumes by Last-Event-ID; publishing goes over ordinary POSTs.',
  },
  ws: {
    title: 'WebSocket',
    endpoint: 'GET /v1/ws, upgraded, both ways',
    polls: false,
    advice:
      'Choose it for chat, games and collaboration, where clients talk as much as they listen: one connection both ways, the fewest bytes per message. It needs every proxy on the way to pass the Upgrade.',
  },
};
