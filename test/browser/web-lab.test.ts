import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { TidingsServer } from '../../src/server.js';
import { publishSeries, startTestServer, uniqueChannel } from '../helpers/server.js';
import { browserSkipReason, launchBrowser } from '../helpers/browser.js';
import { assertAccessible, collectErrors, numbers, screenshot } from '../helpers/web-page.js';

const TRANSPORTS = ['short-poll', 'long-poll', 'sse', 'ws'];

/** Waits until every panel's received count is `n`; on a timeout, says what each one had. */
async function waitForCounts(page: Page, n: number, timeout = 15_000): Promise<void> {
  try {
    await page.waitForFunction((want) => Array.from(document.querySelectorAll('[data-metric="received"]')).every((e) => e.textContent === String(want)), n, { timeout });
  } catch {
    assert.fail(`every panel should have received ${n}; they show ${JSON.stringify(await numbers(page, '[data-metric="received"]'))}`);
  }
}

async function waitForStates(page: Page, test: (label: string, state: string) => boolean, what: string, timeout = 15_000): Promise<void> {
  const read = () =>
    page.locator('[data-transport]').evaluateAll((ps) => ps.map((p) => [p.getAttribute('data-state') ?? '', p.querySelector('[data-state-label]')?.textContent ?? '']));
  const deadline = Date.now() + timeout;
  for (;;) {
    const states = await read();
    if (states.every(([state, label]) => test(label!, state!))) return;
    if (Date.now() > deadline) assert.fail(`panels should be ${what}; they are ${JSON.stringify(states)}`);
    await page.waitForTimeout(50);
  }
}

describe('the transport lab at /', { skip: browserSkipReason() }, () => {
  let server: TidingsServer;
  let browser: Browser;
  before(async () => {
    [server, browser] = await Promise.all([startTestServer(), launchBrowser()]);
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  it('connects four panels, counts a burst exactly on each, resumes every dropped connection with no loss, and passes axe', async () => {
    const channel = uniqueChannel('lab');
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const errors = collectErrors(page);
    await page.goto(`${server.url}/?channel=${channel}`);
    assert.equal(await page.locator('[data-channel]').getAttribute('data-channel'), channel);
    assert.deepEqual(await page.locator('[data-channel] [data-transport]').evaluateAll((ps) => ps.map((p) => p.getAttribute('data-transport'))), TRANSPORTS);
    await waitForStates(page, (_, state) => state === 'connected', 'connected');

    // A burst published by someone else (as curl would): every panel counts each message once.
    await publishSeries(server.url, channel, 30);
    await waitForCounts(page, 30);

    // A new short-poll interval makes a new client, which goes on from the old one's cursor.
    await page.locator('#short-poll-interval').selectOption('250');
    await publishSeries(server.url, channel, 5, 31);
    await waitForCounts(page, 35);

    // Drop every panel's connection (the last by keyboard), and publish while they are down: nothing is lost.
    for (const t of TRANSPORTS.slice(0, -1)) await page.click(`[data-transport="${t}"] button.drop`);
    await page.locator('[data-transport="ws"] button.drop').focus();
    await page.keyboard.press('Enter');
    await publishSeries(server.url, channel, 15, 36);
    await waitForCounts(page, 50);
    await waitForStates(page, (label, state) => state === 'connected' && label.includes('resumed after 1 drop'), 'connected again after one drop');

    // The publish box, with the keyboard.
    await page.locator('#publish-text').fill('hello from the box');
    await page.locator('#publish-text').press('Enter');
    await waitForCounts(page, 51);
    for (const last of await page.locator('[data-transport] .last').allTextContents()) assert.match(last, /#51: hello from the box/);

    // The rate slider: about a second at 20/s, then 0; every panel ends with what the page published.
    await page.locator('#rate').fill('20');
    await page.waitForTimeout(1200);
    await page.locator('#rate').fill('0');
    await page.waitForFunction(() => /^\d+ published/.test(document.getElementById('published-count')?.textContent ?? ''));
    await page.waitForTimeout(300); // publishes still in flight when the slider went to 0
    const published = Number((await page.locator('#published-count').textContent())!.split(' ')[0]);
    assert.ok(published >= 10, `the slider published ${published} messages`);
    await waitForCounts(page, 50 + published);

    // Nothing repeated, nothing missing, and latency measured on every panel.
    assert.deepEqual(await page.locator('[data-metric="anomalies"]').allTextContents(), ['0 / 0', '0 / 0', '0 / 0', '0 / 0']);
    for (const latency of await page.locator('[data-metric="latency"]').allTextContents()) assert.match(latency, /^\d+ \/ \d+ ms$/);
    const [shortRequests, longRequests, sseRequests, wsRequests] = await numbers(page, '[data-metric="requests"]');
    const [shortEmpty] = await numbers(page, '[data-transport="short-poll"] [data-metric="empty"]');
    assert.ok(shortRequests! >= 3 && shortEmpty! >= 1, `short poll asks every second, mostly for nothing (${shortRequests} requests, ${shortEmpty} empty)`);
    assert.ok(longRequests! >= 3, `long poll: a request per answer (${longRequests})`);
    // Pushed transports: a request per connection, not per message (about 80 messages came).
    assert.ok(sseRequests! >= 2 && sseRequests! <= 4, `SSE: a stream, and another after the drop (${sseRequests})`);
    assert.ok(wsRequests! >= 2 && wsRequests! <= 3, `WebSocket: an upgrade, and another after the drop (${wsRequests})`);

    await screenshot(page, 'lab-1280');
    await page.setViewportSize({ width: 375, height: 812 });
    await page.waitForTimeout(300);
    await screenshot(page, 'lab-375');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `no sideways scrolling at 375 px (${overflow} px too wide)`);
    await assertAccessible(page, 'the lab');
    assert.deepEqual(errors, []);
    await context.close();
  });

  it('shows a banner and each panel reconnecting while the server is away, and recovers when it is back', async () => {
    const own = await startTestServer();
    const port = Number(new URL(own.url).port);
    const channel = uniqueChannel('away');
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const errors = collectErrors(page);
    await page.goto(`${own.url}/?channel=${channel}`);
    await waitForStates(page, (_, state) => state === 'connected', 'connected');
    assert.equal(await page.locator('#banner').isVisible(), false);
    await own.close();
    await page.waitForSelector('#banner:visible', { timeout: 10_000 });
    assert.match((await page.locator('#banner').textContent())!, /Can't reach the Tidings server/);
    await waitForStates(page, (label, state) => state === 'reconnecting' && label.startsWith('reconnecting'), 'reconnecting');
    await screenshot(page, 'lab-server-away');
    // The same port again: the page comes back on its own, and the banner goes.
    const back = await startTestServer({ port });
    try {
      await waitForStates(page, (_, state) => state === 'connected', 'connected again', 30_000);
      await page.waitForSelector('#banner', { state: 'hidden', timeout: 10_000 });
      await publishSeries(back.url, channel, 3);
      await waitForCounts(page, 3);
      // While it went away, the browser itself logs the requests the draining server refused (503)
      // and the connections refused or cut once it was gone; nothing else.
      const expected = /net::ERR_(CONNECTION_REFUSED|CONNECTION_RESET|CONNECTION_CLOSED|EMPTY_RESPONSE|SOCKET_NOT_CONNECTED)|status of 503 \(Service Unavailable\)/;
      assert.deepEqual(errors.filter((e) => !expected.test(e)), []);
    } finally {
      await context.close();
      await back.close();
    }
  });
});
