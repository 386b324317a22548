import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { TidingsServer } from '../../src/server.js';
import { browserSkipReason, launchBrowser, pageAt } from '../helpers/browser.js';
import { MeddlingProxy } from '../helpers/http-proxy.js';
import { CuttableProxy } from '../helpers/proxy.js';
import { publishSeries, range, startTestServer, uniqueChannel } from '../helpers/server.js';

/** What the page keeps: window.got (offsets per channel), window.states, window.client. */
interface PageState {
  got: Record<string, number[]>;
  states: { state: string; transport?: string }[];
}

/** Loads /client.js as a module in the page and subscribes; options as in TidingsOptions. */
async function startClient(page: Page, url: string, channel: string, subscribe: { last?: number } = {}, options: Record<string, unknown> = {}): Promise<void> {
  await page.evaluate(
    async ({ url, channel, subscribe, options }) => {
      const { Tidings } = await import(`${url}/client.js`);
      const w = window as unknown as { client: unknown; got: Record<string, number[]>; states: unknown[] };
      w.got = {};
      w.states = [];
      const client = new Tidings(url, { reconnectDelay: { min: 20, max: 200 }, openTimeout: 4000, ...options });
      client.on('state', (s: unknown) => w.states.push(s));
      client.subscribe(channel, (m: { channel: string; offset: number }) => (w.got[m.channel] ??= []).push(m.offset), subscribe);
      w.client = client;
    },
    { url, channel, subscribe, options },
  );
}

async function pageState(page: Page): Promise<PageState> {
  return page.evaluate(() => {
    const w = window as unknown as PageState;
    return { got: w.got, states: w.states };
  });
}

async function waitInPage(page: Page, fn: string, timeout = 8000): Promise<void> {
  await page.waitForFunction(fn, undefined, { timeout, polling: 20 });
}

const skip = browserSkipReason();

describe('the SDK in headless Chromium', { skip }, () => {
  let server: TidingsServer;
  let browser: Browser;
  before(async () => {
    server = await startTestServer();
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  it('a page imports /client.js, subscribes, receives and publishes over WebSocket', async () => {
    const page = await pageAt(browser, server.url);
    const ch = uniqueChannel('page');
    try {
      await startClient(page, server.url, ch);
      await waitInPage(page, `window.client.transport === 'ws'`);
      await publishSeries(server.url, ch, 3);
      const ack = await page.evaluate(async (ch) => (window as unknown as { client: { publish(c: string, d: unknown): Promise<{ offset: number }> } }).client.publish(ch, { from: 'page' }), ch);
      assert.equal(ack.offset, 4);
      await waitInPage(page, `(window.got[${JSON.stringify(ch)}] ?? []).length === 4`);
      assert.deepEqual((await pageState(page)).got[ch], [1, 2, 3, 4]);
    } finally {
      await page.close();
    }
  });

  it('survives a forced disconnect with nothing lost or repeated', async () => {
    const proxy = await CuttableProxy.start(server.url);
    const page = await pageAt(browser, proxy.url);
    const ch = uniqueChannel('cut');
    try {
      await startClient(page, proxy.url, ch);
      await waitInPage(page, `window.client.state === 'connected'`);
      await publishSeries(server.url, ch, 3);
      await waitInPage(page, `(window.got[${JSON.stringify(ch)}] ?? []).length === 3`);
      proxy.cut();
      await publishSeries(server.url, ch, 4, 4);
      proxy.restore();
      await publishSeries(server.url, ch, 3, 8);
      await waitInPage(page, `(window.got[${JSON.stringify(ch)}] ?? []).length >= 10`);
      const state = await pageState(page);
      assert.deepEqual(state.got[ch], range(1, 10));
      assert.ok(state.states.some((s) => s.state === 'reconnecting'), 'the page saw the drop');
    } finally {
      await page.close();
      await proxy.close();
    }
  });

  it('falls back to SSE when a proxy refuses WebSocket', async () => {
    const proxy = await MeddlingProxy.start(server.url);
    proxy.refuseUpgrade = true;
    const page = await pageAt(browser, proxy.url);
    const ch = uniqueChannel('blocked');
    try {
      await startClient(page, proxy.url, ch, {}, { upgradeDelay: { min: 60_000, max: 60_000 } });
      await waitInPage(page, `window.client.transport === 'sse'`);
      await publishSeries(server.url, ch, 5);
      await waitInPage(page, `(window.got[${JSON.stringify(ch)}] ?? []).length === 5`);
      assert.deepEqual((await pageState(page)).got[ch], range(1, 5));
      assert.ok(proxy.refused >= 1);
    } finally {
      await page.close();
      await proxy.close();
    }
  });

  for (const [event, target] of [
    ['online', 'window'],
    ['visibilitychange', 'document'],
  ] as const) {
    it(`reconnects at once on the browser's ${event} event instead of waiting out its backoff`, async () => {
      const proxy = await CuttableProxy.start(server.url);
      const page = await pageAt(browser, proxy.url);
      const ch = uniqueChannel(event);
      try {
        // A backoff far longer than the test: only the event can bring it back in time.
        await startClient(page, proxy.url, ch, {}, { transports: ['ws'], reconnectDelay: { min: 600_000, max: 600_000 } });
        await waitInPage(page, `window.client.state === 'connected'`);
        proxy.cut();
        await waitInPage(page, `window.client.state === 'reconnecting'`);
        await new Promise((r) => setTimeout(r, 100));
        proxy.restore();
        await publishSeries(server.url, ch, 2);
        await page.evaluate(([e, t]) => (t === 'window' ? window : document).dispatchEvent(new Event(e)), [event, target] as const);
        await waitInPage(page, `(window.got[${JSON.stringify(ch)}] ?? []).length === 2`, 5000);
        assert.deepEqual((await pageState(page)).got[ch], [1, 2]);
      } finally {
        await page.close();
        await proxy.close();
      }
    });
  }

  it('a last: subscription in one tab and a live one in another see the same sequence', async () => {
    const ch = uniqueChannel('tabs');
    const live = await pageAt(browser, server.url);
    const late = await pageAt(browser, server.url);
    try {
      await startClient(live, server.url, ch);
      await waitInPage(live, `window.client.state === 'connected'`);
      await publishSeries(server.url, ch, 8);
      await waitInPage(live, `(window.got[${JSON.stringify(ch)}] ?? []).length === 8`);
      await startClient(late, server.url, ch, { last: 8 }, { transports: ['long-poll'] });
      await waitInPage(late, `(window.got[${JSON.stringify(ch)}] ?? []).length === 8`);
      await publishSeries(server.url, ch, 2, 9);
      await waitInPage(live, `(window.got[${JSON.stringify(ch)}] ?? []).length === 10`);
      await waitInPage(late, `(window.got[${JSON.stringify(ch)}] ?? []).length === 10`);
      const a = (await pageState(live)).got[ch];
      const b = (await pageState(late)).got[ch];
      assert.deepEqual(a, range(1, 10));
      assert.deepEqual(b, a, 'the same sequence in both tabs');
    } finally {
      await live.close();
      await late.close();
    }
  });
});
