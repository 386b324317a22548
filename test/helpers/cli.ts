import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { within } from './server.js';

export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface SpawnedServer {
  child: ChildProcess;
  url: string;
  /** Every JSON log line so far. */
  logs: Record<string, unknown>[];
  exited: Promise<number | null>;
  /** Everything written to stderr so far (crashes and one-line refusals land there, not in the log). */
  readonly stderr: string;
}

/** Runs `tidings serve` and resolves with its URL once it logs 'tidings listening'. */
export async function spawnServer(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<SpawnedServer> {
  const child = spawn(process.execPath, [CLI, 'serve', '--host', '127.0.0.1', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const url = await within(
    new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).on('line', (line) => {
        let entry: Record<string, unknown>;
        try {
          entry = JSON.parse(line) as Record<string, unknown>;
        } catch {
          return;
        }
        logs.push(entry);
        if (entry.msg === 'tidings listening') resolve(`http://127.0.0.1:${entry.port as number}`);
      });
      void exited.then((code) => reject(new Error(`server exited with ${code} before listening: ${stderr}`)));
    }),
    // Generous: a loaded 2-core machine can take seconds to start a Node process.
    20_000,
    'the CLI to listen',
  ).catch((err: unknown) => {
    child.kill('SIGKILL');
    throw err;
  });
  return {
    child,
    url,
    logs,
    exited,
    get stderr() {
      return stderr;
    },
  };
}
