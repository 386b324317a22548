import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TidingsServer } from '../../src/server.js';
import { MeddlingProxy } from '../helpers/http-proxy.js';
import { Recorder, TRANSPORTS } from '../helpers/sdk.js';
import { delay, publishSeries, range, startTestServer, uniqueChannel, waitFor } from '../helpers/server.js';

/** Transport choice through proxies that refuse WebSocket or buffer event streams. */
describe('SDK transport fallback and upgrade', () => {
  let server: TidingsServer;
  before(async () => (server = await startTestServer({ heartbeatMs: 1000 })));
  after(() => server.close());

  it('an upgrade refused by a proxy (403) lands on SSE', async () => {
    const proxy = await MeddlingProxy.start(server.url);
    proxy.refuseUpgrade = true;
    const ch = uniqueChannel('no-ws');
    const r = new Recorder(proxy.url, { upgradeDelay: { min: 60_000, max: 60_000 } });
    try {
      r.subscribe(ch);
      await r.connected('sse');
      await publishSeries(server.url, ch, 5);
      await r.received(ch, 5);
      assert.deepEqual(r.offsets(ch), range(1, 5));
      assert.ok(proxy.refused >= 1, 'the proxy refused the upgrade');
    } finally {
      r.close();
      await proxy.close();
    }
  });

  it('a proxy that buffers event streams lands on long polling; once it lets WebSocket through, the client upgrades back with nothing lost or repeated', async () => {
    const proxy = await MeddlingProxy.start(server.url);
    proxy.refuseUpgrade = true;
    proxy.bufferEventStreams = true;
    const ch = uniqueChannel('buffered');
    const r = new Recorder(proxy.url, { openTimeout: 2500, upgradeDelay: { min: 300, max: 600 } });
    let published = 0;
    let publishing = true;
    let publisher: Promise<void> = Promise.resolve();
    try {
      const sub = r.subscribe(ch);
      // Once the start is fixed, a steady stream of messages across the fallback and the upgrade.
      await waitFor(() => sub.cursor !== undefined, 5000, 'the start position');
      publisher = (async () => {
        while (publishing) {
          await publishSeries(server.url, ch, 1, ++published);
          await delay(15);
        }
      })();
      await r.connected('long-poll');
      assert.ok(proxy.buffered >= 1, 'the proxy held an event stream');
      await delay(300);
      proxy.refuseUpgrade = false;
      await r.connected('ws', 10_000);
      await delay(300);
      publishing = false;
      await publisher;
      await r.received(ch, published);
      await delay(100);
      assert.deepEqual(r.offsets(ch), range(1, published), 'every message once, in order, across fallback and upgrade');
      const path = r.states.filter((s) => s.state === 'connected').map((s) => s.transport);
      assert.equal(path[0], 'long-poll', 'landed on long polling first');
      assert.equal(path.at(-1), 'ws', 'and upgraded back');
    } finally {
      publishing = false;
      await publisher;
      r.close();
      await proxy.close();
    }
  });

  it('a server mounted under a path behind a proxy is reached on every transport, publish included', async () => {
    const proxy = await MeddlingProxy.start(server.url);
    proxy.mountedAt = '/realtime';
    const ch = uniqueChannel('mounted');
    const recorders = TRANSPORTS.map((t) => new Recorder(`${proxy.url}/realtime`, { transports: [t] }));
    try {
      for (const r of recorders) r.subscribe(ch);
      await Promise.all(recorders.map((r, i) => r.connected(TRANSPORTS[i])));
      for (const [i, r] of recorders.entries()) assert.equal((await r.client.publish(ch, i)).offset, i + 1);
      for (const r of recorders) await r.received(ch, TRANSPORTS.length);
      for (const r of recorders) assert.deepEqual(r.offsets(ch), range(1, TRANSPORTS.length));
    } finally {
      for (const r of recorders) r.close();
      await proxy.close();
    }
  });
});
