import type { Command } from 'commander';
import { ConfigError, SETTINGS, loadConfig, type Config } from '../config.js';
import { startServer } from '../server.js';

/** `tidings serve`: one flag per setting, each falling back to its env var, then its default. */
export function registerServe(program: Command): void {
  const serve = program.command('serve').description('Run the Tidings server (memory engine, embedded).');
  for (const s of SETTINGS) {
    const placeholder = s.kind === 'list' ? '<list>' : s.kind === 'duration' ? '<duration>' : s.kind === 'size' ? '<size>' : '<value>';
    const fallback = s.default === undefined ? '' : ` (default ${s.default})`;
    serve.option(`${s.flag} ${placeholder}`, `${s.description} Env ${s.env}.${fallback}`);
  }
  serve.action(async (flags: Partial<Record<keyof Config, string>>) => {
    let config: Config;
    try {
      config = loadConfig(flags);
    } catch (err) {
      if (err instanceof ConfigError) {
        process.stderr.write(`tidings: ${err.message}\n`);
        process.exit(2);
      }
      throw err;
    }
    let server;
    try {
      server = await startServer(config);
    } catch (err) {
      process.stderr.write(`tidings: cannot listen on ${config.host}:${config.port}: ${(err as Error).message}\n`);
      process.exit(1);
    }
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      server.ctx.logger.info({ signal }, 'signal received');
      server.close().then(
        () => process.exit(0),
        (err: unknown) => {
          server.ctx.logger.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
}
