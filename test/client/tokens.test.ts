import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import type { TidingsServer } from '../../src/server.js';
import { Recorder, TRANSPORTS } from '../helpers/sdk.js';
import { delay, range, startTestServer, uniqueChannel, waitFor } from '../helpers/server.js';

const SECRET = 'sdk-test-secret-long-enough-for-hs256!';
const API_KEY = 'sdk-publisher-key';

function token(channel: string, seconds: number, secret = SECRET): Promise<string> {
  return new SignJWT({ subscribe: [channel], publish: [channel] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('sdk-test')
    .setExpirationTime(Math.floor(Date.now() / 1000) + seconds)
    .sign(new TextEncoder().encode(secret));
}

/** getToken and the server's refusals: the client fetches a new token and goes on. */
describe('SDK tokens', () => {
  let server: TidingsServer;
  before(async () => (server = await startTestServer({ jwtSecret: SECRET, apiKey: API_KEY })));
  after(() => server.close());

  it('a refused token (401) makes the client call getToken and go on, on every transport', async () => {
    const recorders = await Promise.all(
      TRANSPORTS.map(async (transport) => {
        const ch = uniqueChannel(`refused-${transport}`);
        let calls = 0;
        // The first token is signed with the wrong key: the server refuses it with 401.
        const r = new Recorder(server.url, { transports: [transport], getToken: () => token(ch, 600, calls++ === 0 ? 'x'.repeat(40) : SECRET) });
        r.subscribe(ch);
        return { r, ch, transport, calls: () => calls };
      }),
    );
    try {
      for (const { r, transport } of recorders) await r.connected(transport);
      for (const { r, ch } of recorders) {
        const ack = await r.client.publish(ch, { via: 'sdk' });
        assert.equal(ack.offset, 1, 'the client publishes with its token');
      }
      for (const { r, ch, transport, calls } of recorders) {
        await r.received(ch, 1);
        assert.ok(calls() >= 2, `${transport}: getToken called again after the refusal`);
        assert.deepEqual(r.offsets(ch), [1]);
      }
    } finally {
      for (const { r } of recorders) r.close();
    }
  });

  it('short-lived tokens are replaced in time: a steady stream goes on past several expiries with nothing lost', async () => {
    const recorders = TRANSPORTS.map((transport) => {
      const ch = uniqueChannel(`expiring-${transport}`);
      let calls = 0;
      const r = new Recorder(server.url, {
        transports: [transport],
        getToken: () => {
          calls++;
          return token(ch, 2);
        },
      });
      return { r, ch, transport, calls: () => calls, sub: r.subscribe(ch) };
    });
    let n = 0;
    try {
      for (const { r, transport } of recorders) await r.connected(transport);
      await waitFor(() => recorders.every((x) => x.sub.cursor !== undefined), 5000, 'start positions');
      const until = Date.now() + 3500;
      while (Date.now() < until) {
        n++;
        await Promise.all(recorders.map(({ ch }) => fetch(`${server.url}/v1/channels/${ch}/messages`, { method: 'POST', headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' }, body: String(n) })));
        await delay(50);
      }
      for (const { r, ch, transport, calls } of recorders) {
        await r.received(ch, n);
        await delay(20);
        assert.deepEqual(r.offsets(ch), range(1, n), `${transport}: every message once across token expiries`);
        assert.ok(calls() >= 2, `${transport}: getToken was called for a new token (${calls()})`);
        assert.deepEqual(r.errors, [], `${transport}: no error`);
      }
    } finally {
      for (const { r } of recorders) r.close();
    }
  });
});
