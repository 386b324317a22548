import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { TidingsError } from '../core/errors.js';

/** dist/public, where scripts/bundle.mjs writes: this file runs from dist/src/http/. */
export const PUBLIC_DIR = fileURLToPath(new URL('../../public/', import.meta.url));

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/** Types worth compressing; images and fonts are compressed already. */
const COMPRESSIBLE = /^(text\/|application\/json|image\/svg)/;

interface Loaded {
  mtimeMs: number;
  size: number;
  body: Buffer;
  gzipped: Buffer | undefined;
  etag: string;
  type: string;
}

/**
 * Built assets from dist/public (the browser SDK at /client.js, pages): each file read and
 * hashed once (again when it changes on disk), answered with a strong ETag, 304 to a
 * matching If-None-Match, gzip when the client takes it, and `Cache-Control` that lets a
 * browser keep it a while and revalidate cheaply after (the names carry no hash).
 */
export class StaticFiles {
  private readonly cache = new Map<string, Loaded>();

  constructor(
    private readonly root: string = PUBLIC_DIR,
    private readonly cacheControl = 'public, max-age=300, must-revalidate',
  ) {}

  /** Answers GET/HEAD for `name`, a path under the root ('client.js'); 404 when missing. */
  async serve(req: IncomingMessage, res: ServerResponse, name: string): Promise<void> {
    const file = await this.load(name);
    const etag = `"${file.etag}"`;
    const headers: Record<string, string | number> = { etag, 'cache-control': this.cacheControl, vary: 'accept-encoding' };
    const inm = req.headers['if-none-match'];
    if (inm !== undefined && inm.split(',').some((t) => t.trim().replace(/^W\//, '') === etag || t.trim() === '*')) {
      res.writeHead(304, headers);
      res.end();
      return;
    }
    const gzip = file.gzipped !== undefined && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    const body = gzip ? file.gzipped! : file.body;
    res.writeHead(200, { ...headers, 'content-type': file.type, 'content-length': body.length, ...(gzip ? { 'content-encoding': 'gzip' } : {}) });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  private async load(name: string): Promise<Loaded> {
    const path = normalize(join(this.root, name));
    const type = TYPES[extname(path)];
    if (!path.startsWith(this.root.endsWith(sep) ? this.root : this.root + sep) || type === undefined) {
      throw new TidingsError('not_found', `No file ${name}.`);
    }
    let info;
    try {
      info = await stat(path);
    } catch {
      throw new TidingsError('not_found', `No file ${name}; is the package built (npm run build)?`);
    }
    const cached = this.cache.get(path);
    if (cached !== undefined && cached.mtimeMs === info.mtimeMs && cached.size === info.size) return cached;
    const body = await readFile(path);
    const loaded: Loaded = {
      mtimeMs: info.mtimeMs,
      size: info.size,
      body,
      gzipped: COMPRESSIBLE.test(type) && body.length > 512 ? gzipSync(body) : undefined,
      etag: createHash('sha256').update(body).digest('base64url').slice(0, 27),
      type,
    };
    this.cache.set(path, loaded);
    return loaded;
  }
}
