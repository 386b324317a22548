#!/usr/bin/env node
import { Command } from 'commander';
import { registerClientCommands } from './client-commands.js';
import { registerServe } from './serve.js';

const program = new Command();
program.name('tidings').description('Tidings: real-time messaging over HTTP, polling, SSE and WebSocket.').showHelpAfterError();
registerServe(program);
registerClientCommands(program);
program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`tidings: ${(err as Error).message}\n`);
  process.exit(1);
});
