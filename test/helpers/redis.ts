import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../bench/lib/free-port.js';

/**
 * A private redis-server per test file: a free port on 127.0.0.1, a temp dir, no RDB
 * snapshots, AOF only when asked for. The machine's own Redis (6379) is never touched.
 */
const REDIS_SERVER = process.env.REDIS_SERVER ?? 'redis-server';

function installed(): boolean {
  return spawnSync(REDIS_SERVER, ['--version'], { stdio: 'ignore' }).status === 0;
}

/**
 * `describe(…, { skip: skipWithoutRedis }, …)`: a reason to skip when redis-server is
 * missing on a developer's machine. With CI=true nothing is skipped, and the missing
 * server fails the test in `startRedis` instead.
 */
export const skipWithoutRedis: string | false =
  installed() || process.env.CI === 'true' ? false : 'redis-server is not installed (apt-get install redis-server); Redis tests skipped';

/** A Redis Cluster node also listens on its port + 10000 (the cluster bus): both must be free. */
async function freeClusterPort(): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (port + 10_000 > 65_535) continue;
    if (await freePort(port + 10_000).then(() => true, () => false)) return port;
  }
}

export class RedisServer {
  private process: ChildProcess | undefined;
  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly aof: boolean,
    private readonly extraArgs: readonly string[] = [],
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}/0`;
  }

  /** The running redis-server's pid (for the bench: CPU from /proc, pinning). */
  get pid(): number | undefined {
    return this.process?.pid;
  }

  static async start(options: { aof?: boolean; args?: string[] } = {}): Promise<RedisServer> {
    if (!installed()) throw new Error(`${REDIS_SERVER} is not installed: apt-get install -y redis-server (CI=true makes this a failure, not a skip)`);
    const cluster = options.args?.includes('--cluster-enabled') === true;
    // The port was free a moment ago; another process may take it before redis-server binds.
    for (let attempt = 1; ; attempt++) {
      const server = new RedisServer(await (cluster ? freeClusterPort() : freePort()), mkdtempSync(join(tmpdir(), 'tidings-redis-')), options.aof === true, options.args);
      try {
        await server.run();
        return server;
      } catch (err) {
        rmSync(server.dir, { recursive: true, force: true });
        if (attempt >= 3 || !String(err).includes('Address already in use')) throw err;
      }
    }
  }

  /** Starts redis-server (again, after `kill`) on the same port and dir; resolves once it accepts connections. */
  async run(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', '--daemonize', 'no', '--protected-mode', 'no'];
    args.push('--appendonly', this.aof ? 'yes' : 'no');
    if (this.aof) args.push('--appendfsync', 'always');
    args.push(...this.extraArgs);
    const child = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.process = child;
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not start within 10 s:\n${output}`)), 10_000);
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited with ${code}:\n${output}`));
      });
    });
    child.stdout!.resume();
    child.stderr!.resume();
  }

  signal(signal: NodeJS.Signals): void {
    this.process?.kill(signal);
  }

  /** SIGKILL, and resolves once the process is gone. */
  async kill(): Promise<void> {
    const child = this.process;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await gone;
  }

  async stop(): Promise<void> {
    this.signal('SIGCONT');
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A Redis Cluster of `size` primaries (no replicas) on free ports, slots spread by
 * `redis-cli --cluster create`; resolves once every node says cluster_state:ok.
 */
export class RedisCluster {
  private constructor(readonly nodes: RedisServer[]) {}

  /** Any node: a cluster client finds the rest. */
  get url(): string {
    return this.nodes[0]!.url;
  }

  static async start(size = 3): Promise<RedisCluster> {
    const nodes = await Promise.all(
      Array.from({ length: size }, () => RedisServer.start({ args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000'] })),
    );
    const cluster = new RedisCluster(nodes);
    try {
      const create = spawnSync('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8', timeout: 20_000 });
      if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout}${create.stderr}`);
      const deadline = Date.now() + 15_000;
      for (;;) {
        const ok = nodes.every((n) => spawnSync('redis-cli', ['-p', String(n.port), 'cluster', 'info'], { encoding: 'utf8' }).stdout.includes('cluster_state:ok'));
        if (ok) break;
        if (Date.now() > deadline) throw new Error('the Redis Cluster did not reach cluster_state:ok within 15 s');
        await new Promise((r) => setTimeout(r, 100));
      }
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
  }
}
