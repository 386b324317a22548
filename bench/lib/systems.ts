import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureNchan, NGINX, nchanArgs } from '../peers/nchan.js';
import type { SystemName, Transport } from './types.js';

/** dist/ of this build: bench/lib/systems.js sits two folders below it. */
const DIST = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface SystemDef {
  name: SystemName;
  /** How the report names it. */
  label: string;
  script: string;
  args(port: number): string[];
  transports: Transport[];
  /** Not a Node script: `script` is the executable itself, started without node or its flags. */
  native?: boolean;
  /** Why it can't run here (after trying to install it), or undefined when it can. */
  unavailable?(log: (line: string) => void): string | undefined;
}

export const SYSTEMS: Record<SystemName, SystemDef> = {
  tidings: {
    name: 'tidings',
    label: 'Tidings',
    script: join(DIST, 'src', 'cli', 'main.js'),
    args: (port) => ['serve', '--port', String(port), '--host', '127.0.0.1', '--log-level', 'warn'],
    transports: ['short-poll', 'long-poll', 'sse', 'ws'],
  },
  'ws-bare': {
    name: 'ws-bare',
    label: 'bare ws',
    script: join(DIST, 'bench', 'peers', 'ws-broadcast.js'),
    args: (port) => ['--port', String(port)],
    transports: ['ws'],
  },
  'sse-bare': {
    name: 'sse-bare',
    label: 'bare node:http SSE',
    script: join(DIST, 'bench', 'peers', 'sse-broadcast.js'),
    args: (port) => ['--port', String(port)],
    transports: ['sse'],
  },
  socketio: {
    name: 'socketio',
    label: 'Socket.IO 4',
    script: join(DIST, 'bench', 'peers', 'socketio.js'),
    args: (port) => ['--port', String(port)],
    transports: ['socketio'],
  },
  nchan: {
    name: 'nchan',
    label: 'Nchan',
    script: NGINX,
    args: nchanArgs,
    transports: ['short-poll', 'long-poll', 'sse', 'ws'],
    native: true,
    unavailable: ensureNchan,
  },
};

export const LOADGEN_SCRIPT = join(DIST, 'bench', 'loadgen', 'main.js');

/** "Tidings ws", "Nchan ws", "bare ws", "Socket.IO 4": one name per row of a table. */
export function rowName(system: SystemName, transport: Transport): string {
  const def = SYSTEMS[system];
  return def.transports.length > 1 ? `${def.label} ${transport}` : def.label;
}
