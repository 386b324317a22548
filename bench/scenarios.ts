import type { SystemName, Transport } from './lib/types.js';

/** One run: one server, one transport, one load. */
export interface RunSpec {
  scenario: string;
  system: SystemName;
  transport: Transport;
  subscribers: number;
  kind: 'publish' | 'idle';
  /** With `rate`: publish this many messages. */
  messages?: number;
  rate?: number;
  /** Without `rate`: publish flat out for this long. */
  durationMs?: number;
  pollIntervalMs: number;
  /** A repeated fan-out pair (scenario `pairs`): 2 for the second pair, the `fanout` runs being the first. */
  pair?: number;
}

export interface Scenario {
  name: string;
  title: string;
  /** What the scenario asks, for the report. */
  question: string;
  runs(quick: boolean): RunSpec[];
}

const TIDINGS_ALL: Transport[] = ['short-poll', 'long-poll', 'sse', 'ws'];
/** The peers of a fan-out: what each Tidings figure is put beside. */
const PEERS: [SystemName, Transport][] = [
  ['ws-bare', 'ws'],
  ['sse-bare', 'sse'],
  ['socketio', 'socketio'],
  ['nchan', 'short-poll'],
  ['nchan', 'long-poll'],
  ['nchan', 'sse'],
  ['nchan', 'ws'],
];
const SHORT_POLL_INTERVAL = 500; // 2 polls per second, as the seeds' comparison has it
/** The transports held to a CPU ratio against Nchan (issue #10). */
export const PAIRED_TRANSPORTS: Transport[] = ['ws', 'sse', 'long-poll'];
/** Pairs of fan-out runs each of them gets after the fan-out scenario's own. */
const MORE_PAIRS = 3;

const FANOUT = (quick: boolean): Omit<RunSpec, 'system' | 'transport'> => ({
  scenario: 'fanout',
  kind: 'publish',
  subscribers: quick ? 200 : 1000,
  messages: quick ? 100 : 500,
  rate: 200,
  pollIntervalMs: SHORT_POLL_INTERVAL,
});

function everyone(base: Omit<RunSpec, 'system' | 'transport'>, tidings: Transport[] = TIDINGS_ALL): RunSpec[] {
  // Nchan is run on the transports Tidings is run on in that scenario, to be put beside them.
  const peers = PEERS.filter(([system, transport]) => system !== 'nchan' || tidings.includes(transport));
  return [...tidings.map((transport) => ({ ...base, system: 'tidings' as const, transport })), ...peers.map(([system, transport]) => ({ ...base, system, transport }))];
}

export const SCENARIOS: Scenario[] = [
  {
    name: 'compare',
    title: '1. The seeds’ comparison',
    question: '200 clients, 1 message/s: what does each technique cost per message (short poll at 2/s, long poll, SSE, WebSocket)?',
    runs: (quick) => everyone({ scenario: 'compare', kind: 'publish', subscribers: quick ? 50 : 200, messages: quick ? 2 : 10, rate: 1, pollIntervalMs: SHORT_POLL_INTERVAL }),
  },
  {
    name: 'fanout',
    title: '2. Fan-out',
    question: '1,000 subscribers, 500 messages at 200/s on each transport.',
    runs: (quick) => everyone(FANOUT(quick)),
  },
  {
    name: 'throughput',
    title: '3. Throughput',
    question: '100 subscribers, publishing flat out for 5 s (the publisher stays at most 1,000 messages ahead of the slowest subscriber).',
    runs: (quick) => everyone({ scenario: 'throughput', kind: 'publish', subscribers: quick ? 50 : 100, durationMs: quick ? 2000 : 5000, pollIntervalMs: SHORT_POLL_INTERVAL }),
  },
  {
    name: 'idle',
    title: '4. Idle connections',
    question: '5,000 idle connections per push transport: server RSS per connection.',
    runs: (quick) => everyone({ scenario: 'idle', kind: 'idle', subscribers: quick ? 1000 : 5000, pollIntervalMs: SHORT_POLL_INTERVAL }, ['sse', 'ws']),
  },
  {
    name: 'growth',
    title: '5. The growth curve',
    question: 'Subscribers 100 → 1,000 → 10,000 on WebSocket and SSE, 50 messages at 10/s: how cost grows with work.',
    runs: (quick) =>
      (quick ? [100, 1000] : [100, 1000, 10_000]).flatMap((subscribers) =>
        everyone({ scenario: 'growth', kind: 'publish', subscribers, messages: quick ? 10 : 50, rate: 10, pollIntervalMs: SHORT_POLL_INTERVAL }, ['sse', 'ws']),
      ),
  },
  {
    name: 'pairs',
    title: '6. Fan-out against Nchan, again',
    question:
      'The fan-out of Tidings and Nchan on WebSocket, SSE and long poll, run again in pairs, each Tidings run next to its Nchan run (which of the two goes first alternates). On this noisy machine one pair is one sample: the Nchan targets read the median of the pairs’ ratios, the fan-out scenario’s runs being the first pair.',
    runs: (quick) =>
      Array.from({ length: quick ? 1 : MORE_PAIRS }, (_, i) => i + 2).flatMap((pair) =>
        PAIRED_TRANSPORTS.flatMap((transport) => {
          const both = (['tidings', 'nchan'] as const).map((system) => ({ ...FANOUT(quick), scenario: 'pairs', pair, system, transport }));
          return pair % 2 === 0 ? both.reverse() : both;
        }),
      ),
  },
];
