#!/usr/bin/env node
// Prints the browser SDK's size, minified and minified+gzip (zlib level 9, as the anchors
// are measured), and exits 1 past the 8 KB budget of issue #6. Run after `npm run build`.
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import process from 'node:process';
import { URL, fileURLToPath } from 'node:url';

export const BUDGET = 8 * 1024;
const file = fileURLToPath(new URL('../dist/public/client.js', import.meta.url));
const body = readFileSync(file);
const gzip = gzipSync(body, { level: 9 }).length;
process.stdout.write(`dist/public/client.js: ${(body.length / 1024).toFixed(1)} KB minified, ${(gzip / 1024).toFixed(2)} KB min+gzip (budget ${BUDGET / 1024} KB)\n`);
if (gzip > BUDGET) {
  process.stderr.write('over budget\n');
  process.exit(1);
}
