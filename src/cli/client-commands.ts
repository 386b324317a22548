import type { Command } from 'commander';
import WebSocket from 'ws';

/** A CLI failure: one line on stderr and exit code 1, never a stack trace. */
class CliError extends Error {}

const DEFAULT_URL = process.env.TIDINGS_URL ?? 'http://127.0.0.1:8080';

function authHeaders(token: string | undefined): Record<string, string> {
  return token === undefined ? {} : { authorization: `Bearer ${token}` };
}

/** Turns a problem+json answer into its one-line detail. */
async function failure(res: Response): Promise<CliError> {
  const text = await res.text();
  try {
    const problem = JSON.parse(text) as { code?: string; detail?: string };
    return new CliError(`${res.status} ${problem.code ?? ''}: ${problem.detail ?? text}`);
  } catch {
    return new CliError(`${res.status}: ${text.slice(0, 200)}`);
  }
}

async function run(action: () => Promise<void>): Promise<void> {
  try {
    await action();
  } catch (err) {
    const message = err instanceof CliError ? err.message : `${(err as Error).message} (is the server at the given --url running?)`;
    process.stderr.write(`tidings: ${message}\n`);
    process.exit(1);
  }
}

/** `tidings publish` and `tidings subscribe`: a client for scripts and for trying a server. */
export function registerClientCommands(program: Command): void {
  program
    .command('publish')
    .description('Publish one message. DATA is JSON; with --text it is sent as a string.')
    .argument('<channel>', 'channel name')
    .argument('<data>', 'message data (JSON unless --text)')
    .option('--url <url>', 'server URL (env TIDINGS_URL)', DEFAULT_URL)
    .option('--event <name>', 'event name')
    .option('--text', 'send DATA as text/plain')
    .option('--idempotency-key <key>', 'Idempotency-Key header')
    .option('--token <token>', 'API key or JWT (env TIDINGS_TOKEN)', process.env.TIDINGS_TOKEN)
    .action((channel: string, data: string, o: { url: string; event?: string; text?: boolean; idempotencyKey?: string; token?: string }) =>
      run(async () => {
        if (o.text !== true) {
          try {
            JSON.parse(data);
          } catch {
            throw new CliError(`DATA is not valid JSON: ${data.slice(0, 60)} (use --text to send it as a string)`);
          }
        }
        const url = new URL(`/v1/channels/${encodeURIComponent(channel)}/messages`, o.url);
        if (o.event !== undefined) url.searchParams.set('event', o.event);
        const headers: Record<string, string> = { 'content-type': o.text === true ? 'text/plain' : 'application/json', ...authHeaders(o.token) };
        if (o.idempotencyKey !== undefined) headers['idempotency-key'] = o.idempotencyKey;
        const res = await fetch(url, { method: 'POST', headers, body: data });
        if (!res.ok) throw await failure(res);
        process.stdout.write(`${await res.text()}\n`);
      }),
    );

  program
    .command('subscribe')
    .description('Print messages of one or more channels as JSON lines, over WebSocket, until interrupted.')
    .argument('<channels...>', 'channel names')
    .option('--url <url>', 'server URL (env TIDINGS_URL)', DEFAULT_URL)
    .option('--cursor <cursor>', 'resume after this cursor')
    .option('--last <n>', 'start with the last N messages of each channel')
    .option('--count <n>', 'exit after N messages')
    .option('--token <token>', 'API key or JWT (env TIDINGS_TOKEN)', process.env.TIDINGS_TOKEN)
    .action((channels: string[], o: { url: string; cursor?: string; last?: string; count?: string; token?: string }) =>
      run(
        () =>
          new Promise<void>((resolve, reject) => {
            const wsUrl = new URL('/v1/ws', o.url);
            wsUrl.protocol = wsUrl.protocol === 'https:' ? 'wss:' : 'ws:';
            const limit = o.count === undefined ? Infinity : Number(o.count);
            if (!(limit > 0)) return reject(new CliError(`--count ${o.count} is not a positive number`));
            let received = 0;
            const ws = new WebSocket(wsUrl, { headers: authHeaders(o.token) });
            ws.on('open', () => {
              for (const channel of channels) {
                ws.send(JSON.stringify({ type: 'subscribe', channel, id: channel, ...(o.cursor !== undefined ? { cursor: o.cursor } : {}), ...(o.last !== undefined ? { last: Number(o.last) } : {}) }));
              }
            });
            ws.on('message', (raw) => {
              const frame = JSON.parse(raw.toString()) as { type: string; code?: string; message?: string };
              if (frame.type === 'error') {
                ws.close();
                reject(new CliError(`${frame.code}: ${frame.message}`));
              } else if (frame.type === 'message' || frame.type === 'gap') {
                process.stdout.write(`${raw.toString()}\n`);
                if (frame.type === 'message' && ++received >= limit) {
                  ws.close();
                  resolve();
                }
              }
            });
            ws.on('unexpected-response', (_req, res) => reject(new CliError(`the server refused the WebSocket: ${res.statusCode}`)));
            ws.on('close', (code, reason) => {
              if (received < limit) reject(new CliError(`connection closed (${code}${reason.length > 0 ? ` ${reason.toString()}` : ''})`));
            });
            ws.on('error', reject);
          }),
      ),
    );
}
