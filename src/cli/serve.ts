import { Option, type Command } from 'commander';
import { ConfigError, SETTINGS, loadConfig, type Config } from '../config.js';
import { startServer, type TidingsServer } from '../server.js';
import { isPrimaryOf, runPrimary } from './workers.js';

/** `tidings serve`: one flag per setting, each falling back to its env var, then its default. */
export function registerServe(program: Command): void {
  const serve = program.command('serve').description('Run the Tidings server (memory engine by default; --engine redis for many nodes).');
  // commander names an option after its flag (--heartbeat → heartbeat), which is not always
  // the Config key (heartbeatMs): remember which attribute holds which setting.
  const attributes = new Map<keyof Config, string>();
  for (const s of SETTINGS) {
    if (s.kind === 'boolean') {
      // A pair, as commander pairs them: `--web` sets true, `--no-web` false, neither leaves it
      // to the env var and default; the last one given wins.
      const on = new Option(s.flag, `${s.description} Env ${s.env}. (default ${s.default})`);
      serve.addOption(on);
      serve.addOption(new Option(`--no-${s.flag.slice(2)}`, `Turn ${s.flag} off.`));
      attributes.set(s.key, on.attributeName());
      continue;
    }
    const placeholder = s.kind === 'list' ? '<list>' : s.kind === 'duration' ? '<duration>' : s.kind === 'size' ? '<size>' : '<value>';
    const fallback = s.default === undefined ? '' : ` (default ${s.default})`;
    const option = new Option(`${s.flag} ${placeholder}`, `${s.description} Env ${s.env}.${fallback}`);
    serve.addOption(option);
    attributes.set(s.key, option.attributeName());
  }
  serve.action(async (opts: Record<string, string | boolean | undefined>) => {
    const flags: Partial<Record<keyof Config, string>> = {};
    for (const [key, attribute] of attributes) if (opts[attribute] !== undefined) flags[key] = String(opts[attribute]);
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
    if (isPrimaryOf(config)) {
      runPrimary(config);
      return;
    }
    // Signals are taken from the start: one that comes while the server is still starting
    // (a deploy that changes its mind, a --workers primary draining a worker it just forked)
    // stops it cleanly once it has started, instead of killing it half-made.
    let server: TidingsServer | undefined;
    let stopping: string | undefined;
    const close = (running: TidingsServer, signal: string) => {
      running.ctx.logger.info({ signal }, 'signal received');
      running.close().then(
        () => process.exit(0),
        (err: unknown) => {
          running.ctx.logger.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    const stop = (signal: string) => {
      if (stopping !== undefined) {
        // The same signal again (a second Ctrl-C): whoever sends it won't wait for the drain.
        // Another one is not: a --workers worker gets the terminal's SIGINT and then the
        // primary's SIGTERM for the same stop.
        if (signal !== stopping) return;
        process.stderr.write(`tidings: ${signal} again while stopping: exiting now\n`);
        process.exit(1);
      }
      stopping = signal;
      if (server !== undefined) close(server, signal);
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    try {
      server = await startServer(config);
    } catch (err) {
      process.stderr.write(`tidings: ${(err as Error).message}\n`);
      process.exit(1);
    }
    if (stopping !== undefined) close(server, stopping);
  });
}
