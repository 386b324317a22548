/**
 * Peer: Nchan 1.3 (the nginx pub/sub module, written in C), the only other server that
 * offers all four subscribe techniques. It is not a Node script: the harness starts nginx
 * itself, with a config of the bench's own (`bench/peers/nchan.conf`), so that the pid it
 * pins and reads CPU and RSS from is the one serving. Debian's `nginx` and
 * `libnginx-mod-nchan` are installed with apt-get when missing, or the peer is skipped.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const NGINX = '/usr/sbin/nginx';
export const NCHAN_MODULE = '/usr/lib/nginx/modules/ngx_nchan_module.so';
const PACKAGES = ['nginx', 'libnginx-mod-nchan'];
/** Tidings' default --history-count: both servers keep the same history. */
const HISTORY = 1000;
/** The long-poll wait every poller of the bench asks for. */
const LONG_POLL_WAIT_S = 30;

/** The template sits in the source tree: dist/bench/peers/ is three folders below the repository. */
const TEMPLATE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bench', 'peers', 'nchan.conf');

const installed = () => existsSync(NGINX) && existsSync(NCHAN_MODULE);

/**
 * Installs nginx and Nchan from Debian when they are missing. Returns why the peer must be
 * skipped, or undefined when it can run. `RUNLEVEL=1` keeps the package scripts from
 * starting the system nginx on port 80.
 */
export function ensureNchan(log: (line: string) => void): string | undefined {
  if (installed()) return undefined;
  const root = process.getuid?.() === 0;
  log(`bench: Nchan is missing; installing ${PACKAGES.join(' ')} with apt-get`);
  try {
    const script = `apt-get update && DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y --no-install-recommends ${PACKAGES.join(' ')}`;
    execFileSync(root ? 'bash' : 'sudo', root ? ['-c', script] : ['-n', 'bash', '-c', script], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    return `apt-get install ${PACKAGES.join(' ')} failed (${(err as Error).message.split('\n')[0]})`;
  }
  return installed() ? undefined : `${NGINX} or ${NCHAN_MODULE} still missing after apt-get install`;
}

/** Writes the config for one server on `port` into a folder of its own; returns nginx's arguments. */
export function nchanArgs(port: number): string[] {
  const prefix = join(tmpdir(), 'tidings-bench-nchan', String(port));
  mkdirSync(prefix, { recursive: true });
  const fields: Record<string, string> = { MODULE: NCHAN_MODULE, PREFIX: prefix, PORT: String(port), HISTORY: String(HISTORY), LONG_POLL_WAIT: `${LONG_POLL_WAIT_S}s` };
  const conf = readFileSync(TEMPLATE, 'utf8').replace(/\{\{(\w+)\}\}/g, (_, key: string) => {
    const value = fields[key];
    if (value === undefined) throw new Error(`nchan.conf: unknown field {{${key}}}`);
    return value;
  });
  const file = join(prefix, 'nginx.conf');
  writeFileSync(file, conf);
  return ['-p', prefix, '-c', file, '-e', 'stderr'];
}
