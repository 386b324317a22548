import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MAX_JSON_DEPTH } from '../../src/core/json-depth.js';
import type { TidingsServer } from '../../src/server.js';
import { startTestServer, uniqueChannel } from '../helpers/server.js';

// Regression (found by `npm run storm`): 10,000-deep JSON fits in 64 KiB, parsed fine, and
// then made JSON.stringify overflow the stack: a 500 instead of a 400.
describe('deeply nested JSON is refused as invalid_json, never a 500', () => {
  let server: TidingsServer;
  before(async () => (server = await startTestServer()));
  after(() => server.close());

  for (const [name, body] of [
    ['a publish body', '['.repeat(10_000) + ']'.repeat(10_000)],
    ['a batch', `{"messages":[{"channel":"x","data":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}]}`],
  ] as const) {
    it(name, async () => {
      const path = name === 'a batch' ? '/v1/publish' : `/v1/channels/${uniqueChannel()}/messages`;
      const res = await fetch(server.url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      assert.equal(res.status, 400);
      assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
      const problem = (await res.json()) as { code: string };
      assert.equal(problem.code, 'invalid_json');
    });
  }

  it(`${MAX_JSON_DEPTH} levels are still published`, async () => {
    const res = await fetch(`${server.url}/v1/channels/${uniqueChannel()}/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '['.repeat(MAX_JSON_DEPTH) + ']'.repeat(MAX_JSON_DEPTH) });
    assert.equal(res.status, 201);
  });
});
