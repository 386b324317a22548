#!/usr/bin/env node
/**
 * One process of the reconnect storm's subscribers: `count` SDK clients (`Tidings` from
 * src/client), half WebSocket and half SSE, each on one channel, spread over 127.0.0.x
 * source addresses (one address and port pair would run out of ephemeral ports). Spoken to
 * by reconnect-storm.ts over IPC; keeps its own exactly-once ledger of what each client's
 * handler was given.
 */
import { Agent, fetch as undiciFetch } from 'undici';
import WebSocket from 'ws';
import { Tidings } from '../../src/client/tidings.js';
import type { FetchLike, WebSocketConstructor } from '../../src/client/types.js';
import { DeliveryLedger } from './lib/delivery-ledger.js';

export interface ClientsInit {
  url: string;
  firstId: number;
  count: number;
  channels: string[];
  addresses: string[];
}

export type ClientsCommand =
  | { cmd: 'init'; init: ClientsInit }
  | { cmd: 'arm'; positions: Record<string, { epoch: string; offset: number }> }
  | { cmd: 'mark' }
  | { cmd: 'status'; finalOffsets?: Record<string, number> }
  /** Closes every client; with finalOffsets, what each still misses of them counts as lost. */
  | { cmd: 'close'; finalOffsets?: Record<string, number> };

export interface ClientsStatus {
  ev: 'status';
  total: number;
  connected: number;
  /** Clients that were dropped and connected again since the last mark. */
  backSinceMark: number;
  /** When the last of them came back (ms since the epoch), once all have. */
  lastBackAt: number | undefined;
  delivered: number;
  lost: number;
  duplicates: number;
  gaps: number;
  epochChanges: number;
  errors: number;
  errorExamples: string[];
  caughtUp: boolean | undefined;
  rssBytes: number;
}

const ledger = new DeliveryLedger();
const clients: Tidings[] = [];
const connected: boolean[] = [];
const backAt: number[] = [];
let markAt = Number.POSITIVE_INFINITY;
let init: ClientsInit | undefined;
let errors = 0;
const errorExamples: string[] = [];

/** A `ws` WebSocket bound to one source address, in the shape the SDK constructs. */
function webSocketFrom(localAddress: string): WebSocketConstructor {
  return class extends WebSocket {
    constructor(url: string) {
      super(url, { localAddress, perMessageDeflate: false });
    }
  } as unknown as WebSocketConstructor;
}

/** fetch through an undici pool whose sockets leave from one source address. */
function fetchFrom(localAddress: string): FetchLike {
  const dispatcher = new Agent({ connect: { localAddress }, keepAliveTimeout: 60_000 });
  return ((input: string | URL, options: RequestInit = {}) => undiciFetch(input as string, { ...(options as object), dispatcher })) as unknown as FetchLike;
}

/** Clients started per ramp step, and the step: the first connections come in gradually, not as a flood. */
const RAMP_BATCH = 100;
const RAMP_STEP_MS = 500;

async function start(i: ClientsInit): Promise<void> {
  init = i;
  const sockets = new Map(i.addresses.map((a) => [a, webSocketFrom(a)]));
  const fetches = new Map(i.addresses.map((a) => [a, fetchFrom(a)]));
  for (let k = 0; k < i.count; k++) {
    if (k > 0 && k % RAMP_BATCH === 0) await new Promise((r) => setTimeout(r, RAMP_STEP_MS));
    const id = i.firstId + k;
    const address = i.addresses[k % i.addresses.length]!;
    const channel = i.channels[id % i.channels.length]!;
    const overWs = id % 2 === 0;
    const client = new Tidings(i.url, {
      transports: [overWs ? 'ws' : 'sse'],
      WebSocket: sockets.get(address),
      fetch: fetches.get(address),
      // The SDK's defaults: full jitter between 0 and 500 ms · 2^attempt, at most 20 s.
      reconnectDelay: { min: 500, max: 20_000 },
      // Under a storm of 20,000 on two shared cores, opening can take longer than the default 5 s.
      openTimeout: 30_000,
    });
    connected[k] = false;
    client.on('state', (s) => {
      const now = s.state === 'connected';
      if (now && !connected[k] && Date.now() > markAt) backAt[k] = Date.now();
      connected[k] = now;
    });
    client.on('error', (e) => {
      errors++;
      if (errorExamples.length < 10) errorExamples.push(`${overWs ? 'ws' : 'sse'}: ${e.code ?? ''} ${e.message}`);
    });
    client.on('gap', () => void ledger.gaps++);
    client.subscribe(channel, (m) => ledger.message(id, m.channel, m.epoch, m.offset));
    clients.push(client);
  }
}

function status(finalOffsets: Record<string, number> | undefined): ClientsStatus {
  let up = 0;
  let back = 0;
  let last = 0;
  for (let k = 0; k < clients.length; k++) {
    if (connected[k]) up++;
    if (backAt[k] !== undefined) {
      back++;
      last = Math.max(last, backAt[k]!);
    }
  }
  return {
    ev: 'status',
    total: clients.length,
    connected: up,
    backSinceMark: back,
    lastBackAt: back === clients.length ? last : undefined,
    delivered: ledger.delivered,
    lost: ledger.lost,
    duplicates: ledger.duplicates,
    gaps: ledger.gaps,
    epochChanges: ledger.epochChanges,
    errors,
    errorExamples,
    caughtUp: finalOffsets === undefined ? undefined : ledger.caughtUp(new Map(Object.entries(finalOffsets))),
    rssBytes: process.memoryUsage.rss(),
  };
}

process.on('message', (raw) => {
  const m = raw as ClientsCommand;
  switch (m.cmd) {
    case 'init':
      // Answered at once: the ramp goes on while the driver watches the count.
      void start(m.init);
      process.send!({ ev: 'started' });
      return;
    case 'arm':
      for (let k = 0; k < clients.length; k++) {
        const id = init!.firstId + k;
        const channel = init!.channels[id % init!.channels.length]!;
        const p = m.positions[channel]!;
        ledger.startAt(id, channel, p.epoch, p.offset);
      }
      process.send!({ ev: 'armed' });
      return;
    case 'mark':
      markAt = Date.now();
      backAt.length = 0;
      process.send!({ ev: 'marked' });
      return;
    case 'status':
      process.send!(status(m.finalOffsets));
      return;
    case 'close':
      for (const c of clients) c.close();
      if (m.finalOffsets !== undefined) ledger.settle(new Map(Object.entries(m.finalOffsets)));
      process.send!({ ...status(undefined), ev: 'closed' });
      setTimeout(() => process.exit(0), 200);
      return;
  }
});
process.on('disconnect', () => process.exit(0));
