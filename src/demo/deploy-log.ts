import type { PublishRequest } from '../hub/hub.js';
import { pick, seededRandom, type Random } from '../core/seeded-random.js';
import { seedOf, type DemoStream } from './stream.js';

export interface LogLine {
  /** Names the deploy; a new one starts after each finishes. */
  deploy: string;
  /** 1-based line number within the deploy, and how many lines it has. */
  line: number;
  of: number;
  level: 'info' | 'warn' | 'done';
  text: string;
}

const SERVICES = ['checkout', 'search', 'billing', 'auth'];

function script(service: string, sha: string, random: Random): Array<[LogLine['level'], string]> {
  const pkgs = 280 + Math.floor(random() * 60);
  const tests = 400 + Math.floor(random() * 90);
  const lines: Array<[LogLine['level'], string]> = [
    ['info', `Deploy of ${service}@${sha} to production requested`],
    ['info', `Fetching origin main@${sha}`],
    ['info', 'Installing dependencies (npm ci)'],
    ['info', `added ${pkgs} packages in ${(4 + random() * 6).toFixed(1)}s`],
    ['info', `Running tests: ${tests} tests in 38 files`],
    ['info', `tests: ${tests} passed, 0 failed`],
    ['info', `Building image ${service}:${sha}`],
  ];
  for (let step = 1; step <= 6; step++) lines.push(['info', `Step ${step}/6: ${['FROM node:20-slim', 'COPY package*.json ./', 'RUN npm ci --omit=dev', 'COPY dist ./dist', 'USER node', 'CMD ["node","dist/main.js"]'][step - 1]}`]);
  lines.push(['info', `Pushing image ${service}:${sha} (${(40 + random() * 30).toFixed(1)} MB)`]);
  lines.push(['info', 'Running database migrations: 2 pending']);
  if (random() < 0.5) lines.push(['warn', 'migration 0042_add_index took 3.1 s (over the 2 s budget)']);
  lines.push(['info', 'Rolling out to 3 instances, one at a time']);
  for (let i = 1; i <= 3; i++) {
    lines.push(['info', `instance ${i}/3: draining connections`]);
    lines.push(['info', `instance ${i}/3: started, waiting for /healthz`]);
    if (random() < 0.2) lines.push(['warn', `instance ${i}/3: /healthz answered 503 once, retrying`]);
    lines.push(['info', `instance ${i}/3: healthy`]);
  }
  lines.push(['done', `Deploy of ${service}@${sha} finished: 3/3 instances healthy`]);
  return lines;
}

/** Ticks between lines, and the fixed slot of ticks each deploy has (its longest script, then a pause). */
const TICKS_PER_LINE = 3;
const SLOT_TICKS = 112;

/**
 * A deployment log on `demo:deploy` (event `log`): deploy `d` runs in ticks
 * `d·SLOT_TICKS …`, a line every TICKS_PER_LINE ticks from a script seeded by `d`, then a
 * pause until the next deploy starts from line 1.
 */
export class DeployLogStream implements DemoStream {
  readonly channel = 'demo:deploy';
  private cached: { deploy: number; lines: Array<[LogLine['level'], string]> } | undefined;

  at(t: number): PublishRequest | undefined {
    const deploy = Math.floor(t / SLOT_TICKS);
    const k = t - deploy * SLOT_TICKS;
    if (k % TICKS_PER_LINE !== 0) return undefined;
    const lines = this.script(deploy);
    const n = k / TICKS_PER_LINE;
    if (n >= lines.length) return undefined;
    const [level, text] = lines[n]!;
    const data: LogLine = { deploy: `deploy-${deploy % 100_000}`, line: n + 1, of: lines.length, level, text };
    return { channel: this.channel, event: 'log', data };
  }

  private script(deploy: number): Array<[LogLine['level'], string]> {
    if (this.cached?.deploy !== deploy) {
      const random = seededRandom(seedOf(0xde9, deploy));
      const sha = Math.floor(random() * 0xfffffff).toString(16).padStart(7, '0');
      this.cached = { deploy, lines: script(pick(random, SERVICES), sha, random) };
    }
    return this.cached.lines;
  }
}
