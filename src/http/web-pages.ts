/**
 * `--web`: which request paths are the lab and the sample apps, and the file under
 * dist/public (built by scripts/bundle.mjs from web/) that answers each. Only built names
 * match — `/`, `/chat.html`, `/lab.js`, `/style.css`, their source maps — so nothing
 * else under dist/public is reachable through here, and `--no-web` leaves only the API.
 */
const ASSET = /^\/([a-z][a-z0-9-]{0,40}\.(?:html|js|css|js\.map|css\.map))$/;

export function webAsset(path: string): string | undefined {
  if (path === '/' || path === '/index.html') return 'index.html';
  // client.js is the SDK's, served whether or not the pages are.
  if (path === '/client.js') return undefined;
  return ASSET.exec(path)?.[1];
}
