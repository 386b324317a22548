import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TidingsServer } from '../../src/server.js';
import { assertProblem, request, startTestServer } from '../helpers/server.js';

const PAGES = ['/', '/index.html', '/chat.html', '/ticker.html', '/deploy-log.html', '/score.html'];

describe('the web pages (--web) as HTTP resources', () => {
  let on: TidingsServer;
  let off: TidingsServer;
  before(async () => {
    [on, off] = await Promise.all([startTestServer(), startTestServer({ web: false })]);
  });
  after(() => Promise.all([on.close(), off.close()]));

  it('serves the lab at / and each app, with their scripts and the stylesheet, revalidated each use', async () => {
    for (const path of PAGES) {
      const res = await request(on.url, path);
      assert.equal(res.status, 200, path);
      assert.match(res.headers.get('content-type') ?? '', /^text\/html/, path);
      assert.equal(res.headers.get('cache-control'), 'no-cache', path);
      const script = /<script type="module" src="(\/[a-z-]+\.js)">/.exec(res.body as unknown as string)?.[1];
      assert.ok(script !== undefined, `${path} loads a script`);
      const js = await request(on.url, script);
      assert.equal(js.status, 200, script);
      assert.match(js.headers.get('content-type') ?? '', /^text\/javascript/);
      // Pages import the SDK's own bundle rather than inlining a copy of it.
      assert.match(js.body as unknown as string, /from"\/client\.js"/, `${script} imports /client.js`);
    }
    const css = await request(on.url, '/style.css');
    assert.equal(css.status, 200);
    assert.match(css.headers.get('content-type') ?? '', /^text\/css/);
    const etag = css.headers.get('etag')!;
    assert.equal((await request(on.url, '/style.css', { headers: { 'if-none-match': etag } })).status, 304);
  });

  it('answers only built page names: anything else is 404 problem+json, and pages are GET only', async () => {
    for (const path of ['/nope.html', '/../package.json', '/%2e%2e/package.json', '/dist/public/index.html', '/index.HTML', '/lab.ts']) {
      assertProblem(await request(on.url, path), 404, 'not_found', path);
    }
    assertProblem(await request(on.url, '/', { method: 'POST', body: 'x' }), 405, 'method_not_allowed', 'POST /');
  });

  it('--no-web: / and the apps are 404 problem+json; the API and the SDK at /client.js stay', async () => {
    for (const path of [...PAGES, '/lab.js', '/style.css']) assertProblem(await request(off.url, path), 404, 'not_found', path);
    assert.equal((await request(off.url, '/client.js')).status, 200);
    assert.equal((await request(off.url, '/healthz')).status, 200);
  });
});
