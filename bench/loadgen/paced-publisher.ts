/**
 * The publisher of rate-paced runs, in a process of its own. In the generator's process it
 * shared one event loop with thousands of subscriber sockets: while they were being read,
 * its timers fired late, and "200 messages/s" reached the server at ~65/s. Here the kernel
 * schedules it on its own, so the messages leave on time (it needs little CPU).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Target } from '../lib/types.js';
import { Publisher } from './publisher.js';
import { nowMs } from './tracker.js';

export interface PacedCmd {
  target: Target;
  messages: number;
  rate: number;
}

export type PacedEvent =
  | { ev: 'ready' }
  | { ev: 'progress'; published: number }
  | { ev: 'done'; published: number; failures: number; firstError: string | undefined; publishMs: number; answeredMs: number };

const send = (ev: PacedEvent) => process.send?.(ev);
async function publishPaced(cmd: PacedCmd): Promise<void> {
  const publisher = new Publisher(cmd.target);
  await publisher.warm();
  send({ ev: 'ready' });
  await new Promise<void>((resolve) => process.once('message', () => resolve()));
  const start = nowMs();
  let published = 0;
  const progress = setInterval(() => send({ ev: 'progress', published }), 250);
  for (let seq = 1; seq <= cmd.messages; seq++) {
    const wait = start + ((seq - 1) * 1000) / cmd.rate - nowMs();
    if (wait > 1) await sleep(wait);
    await publisher.publish(seq, 10_000);
    published = seq;
  }
  const publishMs = nowMs() - start;
  await publisher.settled();
  // Until the last publish was answered: a server that can't keep up answers late, and this says how late.
  const answeredMs = nowMs() - start;
  clearInterval(progress);
  send({ ev: 'done', published, failures: publisher.failures, firstError: publisher.firstError, publishMs, answeredMs });
  publisher.close();
}

process.once('message', (cmd) => {
  publishPaced(cmd as PacedCmd).then(
    () => setTimeout(() => process.exit(0), 50),
    (err: unknown) => {
      process.stderr.write(`paced publisher: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
});
