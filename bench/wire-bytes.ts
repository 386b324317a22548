#!/usr/bin/env node
/**
 * `npm run bench:wire`: what a delivery costs on the wire, field by field, and what the
 * opt-in compact envelope and WebSocket permessage-deflate would save (docs/protocol.md §
 * Compact envelope). Bytes are measured end to end: a real server, a subscriber of each
 * transport and envelope form, the socket bytes it read per message. Deflate is measured
 * as permessage-deflate would run it: one compressor per connection (context takeover),
 * a sync flush per message, the CPU time per message on this process.
 */
import { Agent, get } from 'node:http';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { constants, createDeflateRaw, type DeflateRaw } from 'node:zlib';
import WebSocket from 'ws';
import { configWith } from '../src/config.js';
import { Message } from '../src/core/message.js';
import { startServer } from '../src/server.js';
import { table } from './lib/format.js';

const MESSAGES = 200;
const CHANNEL = 'bench';
/** The bench's payload: a sequence number and a publish time, as the load generator sends. */
const payload = (seq: number) => ({ seq, t: Date.now() + 0.123 });

async function publish(url: string, seq: number): Promise<void> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload(seq)) });
  await res.text();
}

interface Reader {
  socket: () => Socket;
  frames: string[];
  close(): void;
}

function sseReader(url: string): Promise<Reader> {
  return new Promise((resolve, reject) => {
    const frames: string[] = [];
    const req = get(url, { headers: { accept: 'text/event-stream' } }, (res) => {
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          frames.push(buffer.slice(0, end + 2));
          buffer = buffer.slice(end + 2);
        }
      });
      resolve({ socket: () => res.socket, frames, close: () => req.destroy() });
    });
    req.on('error', reject);
  });
}

async function wsReader(url: string): Promise<Reader> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  const frames: string[] = [];
  await new Promise<void>((resolve, reject) => {
    ws.on('message', (d) => {
      const text = String(d);
      if (text.includes('"type":"subscribed"')) resolve();
      else frames.push(text);
    });
    ws.once('error', reject);
  });
  return { socket: () => (ws as unknown as { _socket: Socket })._socket, frames, close: () => ws.terminate() };
}

/**
 * A poller on one keep-alive connection (node:http, as the SSE reader): each answer's text,
 * and the bytes read off its socket so far, status line, headers and body as they came.
 */
function pollReader(base: string): { ask(path: string): Promise<string>; bytesRead(): number; close(): void } {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const sockets = new Set<Socket>();
  return {
    ask: (path) =>
      new Promise((resolve, reject) => {
        const req = get(`${base}${path}`, { agent }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`poll answered ${res.statusCode}: ${text}`))));
        });
        req.on('socket', (socket) => sockets.add(socket));
        req.on('error', reject);
      }),
    // Every socket the agent opened: a keep-alive connection the server closed is replaced, and both count.
    bytesRead: () => [...sockets].reduce((n, s) => n + s.bytesRead, 0),
    close: () => agent.destroy(),
  };
}

/** Bytes a poller reads per message when each answer carries one (1 message/s, the seeds' comparison). */
async function pollBytes(base: string, form: string): Promise<number> {
  const channel = `${CHANNEL}-poll-${form}`;
  const poller = pollReader(base);
  let cursor = (JSON.parse(await poller.ask(`/v1/poll?channel=${channel}&envelope=${form}`)) as { cursor: string }).cursor;
  const before = poller.bytesRead();
  const answers = 20;
  for (let i = 1; i <= answers; i++) {
    await publish(`${base}/v1/channels/${channel}/messages`, i);
    const answer = JSON.parse(await poller.ask(`/v1/poll?channel=${channel}&cursor=${cursor}&envelope=${form}`)) as { messages: unknown[]; cursor: string };
    if (answer.messages.length !== 1) throw new Error(`a poll answer held ${answer.messages.length} messages, not 1`);
    cursor = answer.cursor;
  }
  const bytes = poller.bytesRead() - before;
  poller.close();
  return bytes / answers;
}

/** permessage-deflate as ws runs it for a server (context takeover): bytes out and CPU µs per message. */
async function deflateCost(frames: string[]): Promise<{ bytes: number; cpuUs: number }> {
  await deflateRound(frames); // warm-up: zlib and the stream code paths
  return deflateRound(frames);
}

function deflateRound(frames: string[]): Promise<{ bytes: number; cpuUs: number }> {
  const deflate: DeflateRaw = createDeflateRaw({ windowBits: 15, memLevel: 8 });
  let out = 0;
  const cpu0 = process.cpuUsage();
  return (async () => {
    for (const f of frames) {
      const chunks: Buffer[] = [];
      const onData = (c: Buffer) => chunks.push(c);
      deflate.on('data', onData);
      deflate.write(f);
      await new Promise<void>((resolve) => deflate.flush(constants.Z_SYNC_FLUSH, () => resolve()));
      deflate.off('data', onData);
      // RFC 7692 § 7.2.1: the trailing 00 00 ff ff of the sync flush is not sent; 2 bytes of frame header.
      out += Buffer.concat(chunks).length - 4 + 2;
    }
    const cpu = process.cpuUsage(cpu0);
    deflate.close();
    return { bytes: out / frames.length, cpuUs: (cpu.user + cpu.system) / frames.length };
  })();
}

async function main(): Promise<void> {
  const server = await startServer(configWith({ host: '127.0.0.1', port: 0, logLevel: 'silent' }));
  const base = server.url;
  const readers: Record<string, Reader> = {};
  for (const form of ['full', 'compact']) {
    readers[`sse ${form}`] = await sseReader(`${base}/v1/events?channel=${CHANNEL}&envelope=${form}`);
    readers[`ws ${form}`] = await wsReader(`${base.replace('http', 'ws')}/v1/ws?channel=${CHANNEL}&envelope=${form}`);
  }
  await sleep(200);
  const before = Object.fromEntries(Object.entries(readers).map(([k, r]) => [k, r.socket().bytesRead]));
  for (let i = 1; i <= MESSAGES; i++) {
    await publish(`${base}/v1/channels/${CHANNEL}/messages`, i);
  }
  await sleep(300);
  const rows: string[][] = [];
  for (const [name, r] of Object.entries(readers)) {
    rows.push([name, (((r.socket().bytesRead - before[name]!) as number) / MESSAGES).toFixed(0), `\`${r.frames.at(-1)!.trim().replace(/\n/g, '⏎')}\``]);
  }
  for (const form of ['full', 'compact']) rows.push([`long/short poll ${form} (one message an answer)`, (await pollBytes(base, form)).toFixed(0), 'status line, headers and `{"messages":[…],"cursor":…}`']);

  // What each member of the full envelope costs, on a real message.
  const m = new Message({ channel: CHANNEL, offset: 1234, epoch: 'AbCdEf12', time: Date.now(), data: payload(1234) });
  const member = (re: RegExp) => re.exec(m.json)?.[0].length ?? 0;
  const fields: string[][] = [
    ['`"channel":"bench",`', String(member(/"channel":"[^"]*",/))],
    ['`"epoch":"…",`', String(member(/"epoch":"[^"]*",/))],
    ['`"time":…,`', String(member(/"time":\d+,/))],
    ['`"offset":…,`', String(member(/"offset":\d+,/))],
    ['`"data":…` (the payload)', String(member(/"data":.*(?=\}$)/))],
    ['SSE `event: message⏎` line', String('event: message\n'.length)],
  ];

  const wsFull = readers['ws full']!.frames;
  const wsCompact = readers['ws compact']!.frames;
  const deflated = [await deflateCost(wsFull), await deflateCost(wsCompact)];
  for (const r of Object.values(readers)) r.close();
  await server.close();

  process.stdout.write(`Wire bytes per delivery, ${MESSAGES} messages of ${JSON.stringify(payload(1)).length} bytes of data on channel "${CHANNEL}":\n\n`);
  process.stdout.write(`${table(['subscriber', 'bytes/message', 'last frame'], rows, true)}\n\n`);
  process.stdout.write(`${table(['member of the full envelope', 'bytes'], fields, true)}\n\n`);
  process.stdout.write(
    `${table(
      ['WebSocket permessage-deflate (per connection, context takeover)', 'bytes/message', 'server CPU µs/message'],
      [
        ['full envelope, deflated', deflated[0]!.bytes.toFixed(0), deflated[0]!.cpuUs.toFixed(1)],
        ['compact envelope, deflated', deflated[1]!.bytes.toFixed(0), deflated[1]!.cpuUs.toFixed(1)],
      ],
      true,
    )}\n`,
  );
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`wire-bytes: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
