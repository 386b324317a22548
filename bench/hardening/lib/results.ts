import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { environment } from '../../report.js';
import { REPO } from './server-process.js';

export const DEFAULT_OUT = join(REPO, 'bench', 'results');

const HEAD = `# Tidings under abuse and time

Produced by \`npm run storm\`, \`npm run soak\` and \`npm run reconnect-storm\` (issue #9 § 4); each
script rewrites its own section below and its raw figures in \`hardening/<script>.json\`. The
server under test runs in its own process (storm and soak: pinned to core 0, the script on
core 1; reconnect storm: server and client processes on both cores); all target
127.0.0.0/8 only. Back to the [bench report](report.md).
`;

/**
 * Writes `<out>/hardening/<name>.json` and replaces the `name` section of
 * `<out>/hardening.md` (between its markers), leaving the other scripts' sections alone.
 */
export function writeSection(outDir: string, name: string, markdown: string, figures: unknown): { json: string; md: string } {
  mkdirSync(join(outDir, 'hardening'), { recursive: true });
  const json = join(outDir, 'hardening', `${name}.json`);
  writeFileSync(json, `${JSON.stringify({ environment: environment(REPO), at: new Date().toISOString(), ...(figures as object) }, null, 1)}\n`);
  const md = join(outDir, 'hardening.md');
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  let text = existsSync(md) ? readFileSync(md, 'utf8') : HEAD;
  const block = `${start}\n${markdown.trim()}\n${end}`;
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  text = a >= 0 && b > a ? `${text.slice(0, a)}${block}${text.slice(b + end.length)}` : `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(md, text);
  return { json, md };
}

/** "box, Node, commit" line plus how loaded the box was, for every section. */
export function conditions(): string {
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  return `${environment(REPO)}; load average at the end ${load} (a shared 2-core box: other work ran beside it)`;
}

export function mb(bytes: number | undefined): string {
  return bytes === undefined ? '–' : (bytes / 2 ** 20).toFixed(1);
}

/** Least-squares slope of y over x. */
export function slope(points: readonly { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return NaN;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return den === 0 ? NaN : num / den;
}

export function percentile(values: readonly number[], q: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}
