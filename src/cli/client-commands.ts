import type { Command } from 'commander';
import { Tidings } from '../client/node.js';
import { ALL_TRANSPORTS, type ClientError, type TransportName } from '../client/types.js';

/** A CLI failure: one line on stderr and exit code 1, never a stack trace. */
class CliError extends Error {}

const DEFAULT_URL = process.env.TIDINGS_URL ?? 'http://127.0.0.1:8080';

async function run(action: () => Promise<void>): Promise<void> {
  try {
    await action();
  } catch (err) {
    const e = err as ClientError;
    const message = err instanceof CliError ? e.message : e.code === 'network' ? `${e.message} (is the server at the given --url running?)` : e.message;
    process.stderr.write(`tidings: ${message}\n`);
    process.exit(1);
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** DATA as the value to publish: JSON unless `text`. */
function parseData(raw: string, text: boolean): unknown {
  if (text) return raw;
  try {
    return JSON.parse(raw);
  } catch {
    throw new CliError(`DATA is not valid JSON: ${raw.slice(0, 60)} (use --text to send it as a string)`);
  }
}

function positiveInt(flag: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) throw new CliError(`${flag} ${raw} is not a whole number`);
  return n;
}

/**
 * `tidings publish` and `tidings subscribe`: the client SDK (src/client) on the command
 * line, for scripts and for trying a server on any transport.
 */
export function registerClientCommands(program: Command): void {
  program
    .command('publish')
    .description('Publish a message. DATA is JSON (a string with --text); "-" reads it from stdin.')
    .argument('<channel>', 'channel name')
    .argument('<data>', 'message data (JSON unless --text), or - for stdin')
    .option('--url <url>', 'server URL (env TIDINGS_URL)', DEFAULT_URL)
    .option('--event <name>', 'event name')
    .option('--text', 'send DATA as a string')
    .option('--lines', 'with DATA -: publish each line of stdin as its own message')
    .option('--idempotency-key <key>', 'idempotency key (default: a random one, so a retry is never a second message)')
    .option('--token <token>', 'API key or JWT (env TIDINGS_TOKEN)', process.env.TIDINGS_TOKEN)
    .action((channel: string, data: string, o: { url: string; event?: string; text?: boolean; lines?: boolean; idempotencyKey?: string; token?: string }) =>
      run(async () => {
        if (o.lines === true && data !== '-') throw new CliError('--lines needs DATA "-" (stdin)');
        if (o.lines === true && o.idempotencyKey !== undefined) throw new CliError('--lines publishes several messages: give no --idempotency-key');
        const raw = data === '-' ? await readStdin() : data;
        const items = o.lines === true ? raw.split(/\r?\n/).filter((l) => l.length > 0) : [data === '-' ? raw.replace(/\r?\n$/, '') : raw];
        const values = items.map((item) => parseData(item, o.text === true));
        const client = new Tidings(o.url, { token: o.token });
        try {
          for (const value of values) {
            const ack = await client.publish(channel, value, { event: o.event, idempotencyKey: o.idempotencyKey });
            process.stdout.write(`${JSON.stringify(ack)}\n`);
          }
        } finally {
          client.close();
        }
      }),
    );

  program
    .command('subscribe')
    .description('Print the messages of one or more channels as JSON lines until interrupted, resuming across drops.')
    .argument('<channels...>', 'channel names')
    .option('--url <url>', 'server URL (env TIDINGS_URL)', DEFAULT_URL)
    .option('--transport <name>', `force one transport: ${ALL_TRANSPORTS.join(', ')} (default: the best that works)`)
    .option('--cursor <cursor>', 'resume after this cursor')
    .option('--last <n>', 'start with the last N messages of each channel')
    .option('--count <n>', 'exit after N messages')
    .option('--verbose', 'connection changes and gaps on stderr')
    .option('--token <token>', 'API key or JWT (env TIDINGS_TOKEN)', process.env.TIDINGS_TOKEN)
    .action((channels: string[], o: { url: string; transport?: string; cursor?: string; last?: string; count?: string; verbose?: boolean; token?: string }) =>
      run(async () => {
        if (o.transport !== undefined && !ALL_TRANSPORTS.includes(o.transport as TransportName)) {
          throw new CliError(`--transport ${o.transport} is not one of ${ALL_TRANSPORTS.join(', ')}`);
        }
        const last = positiveInt('--last', o.last);
        const limit = positiveInt('--count', o.count) ?? Infinity;
        if (limit === 0) throw new CliError('--count must be at least 1');
        const client = new Tidings(o.url, { token: o.token, transports: o.transport === undefined ? undefined : [o.transport as TransportName] });
        let connectTimer: ReturnType<typeof setTimeout> | undefined;
        await new Promise<void>((resolve, reject) => {
          let received = 0;
          const say = (line: string) => o.verbose === true && process.stderr.write(`tidings: ${line}\n`);
          client.on('state', (s) => say(`${s.state}${s.transport ? ` over ${s.transport}` : ''}${s.reason ? ` (${s.reason})` : ''}`));
          client.on('gap', (g) => process.stderr.write(`tidings: gap on ${g.channel}: offsets ${g.from} to ${g.first - 1} are no longer in the history\n`));
          // Errors that end the client (a refused channel, a closed connection that won't resume) end the command.
          client.on('error', (e) => {
            if (e.code === 'handler') return;
            if (client.state === 'closed' || e.channel !== undefined) reject(new CliError(`${e.code ?? 'error'}: ${e.message}`));
            else say(`${e.message}`);
          });
          const onMessage = (m: unknown) => {
            if (received >= limit) return; // the rest of a poll answer past --count
            process.stdout.write(`${JSON.stringify(m)}\n`);
            if (++received >= limit) resolve();
          };
          for (const channel of channels) client.subscribe(channel, onMessage, o.cursor !== undefined ? { cursor: o.cursor } : { last });
          // Drops are resumed for as long as it runs; a server never reached at all is an error.
          connectTimer = setTimeout(() => reject(new CliError(`could not connect to ${o.url} within 10 s (is the server running?)`)), 10_000);
          client.on('state', (s) => s.state === 'connected' && clearTimeout(connectTimer));
          process.once('SIGINT', () => resolve());
          process.once('SIGTERM', () => resolve());
        }).finally(() => {
          clearTimeout(connectTimer);
          client.close();
        });
      }),
    );
}
