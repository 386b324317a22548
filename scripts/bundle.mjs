#!/usr/bin/env node
// `npm run build` step 2 (after tsc): bundles the browser entry points into dist/public/
// as minified ES modules, served by the server (src/http/static-files.ts). Add an entry
// by appending to ENTRIES: { in: source file, out: name under dist/public without .js }.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { copyFileSync, readdirSync } from 'node:fs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export const ENTRIES = [
  // The client SDK for `<script type="module">`: import { Tidings } from '/client.js'.
  { in: 'src/client/index.ts', out: 'client' },
  // The web pages (--web): each page's script imports '/client.js' at run time (external below).
  { in: 'web/lab/lab.ts', out: 'lab' },
  { in: 'web/apps/chat.ts', out: 'chat' },
  { in: 'web/apps/ticker.ts', out: 'ticker' },
  { in: 'web/apps/deploy-log.ts', out: 'deploy-log' },
  { in: 'web/apps/score.ts', out: 'score' },
  { in: 'web/style.css', out: 'style' },
];

await build({
  absWorkingDir: root,
  entryPoints: ENTRIES,
  outdir: 'dist/public',
  bundle: true,
  format: 'esm',
  minify: true,
  target: ['es2020'],
  // The browser build must not pull in Node: fail the build if anything tries.
  platform: 'browser',
  legalComments: 'none',
  logLevel: 'warning',
  // The pages share the SDK's own bundle (one download, cached) instead of each inlining it.
  external: ['/client.js'],
});

// The pages' HTML goes as written.
for (const file of readdirSync(join(root, 'web'))) {
  if (file.endsWith('.html')) copyFileSync(join(root, 'web', file), join(root, 'dist/public', file));
}
