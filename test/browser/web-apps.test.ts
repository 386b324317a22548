import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import type { TidingsServer } from '../../src/server.js';
import { publish, request, startTestServer, uniqueChannel, waitFor } from '../helpers/server.js';
import { browserSkipReason, launchBrowser } from '../helpers/browser.js';
import { assertAccessible, collectErrors, screenshot } from '../helpers/web-page.js';

describe('the sample apps', { skip: browserSkipReason() }, () => {
  let server: TidingsServer;
  let browser: Browser;
  before(async () => {
    [server, browser] = await Promise.all([startTestServer({ demo: true }), launchBrowser()]);
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  it('chat: joins with the last 50 messages, and two pages exchange messages over WebSocket', async () => {
    const room = uniqueChannel('room');
    for (let n = 1; n <= 55; n++) await publish(server.url, `chat:${room}`, { name: 'bot', text: `old ${n}` });
    const [a, b] = await Promise.all([browser.newContext({ viewport: { width: 1280, height: 800 } }), browser.newContext({ viewport: { width: 375, height: 812 } })]);
    const pageA = await a.newPage();
    const pageB = await b.newPage();
    const errorsA = collectErrors(pageA);
    const errorsB = collectErrors(pageB);
    await Promise.all([pageA.goto(`${server.url}/chat.html?room=${room}`), pageB.goto(`${server.url}/chat.html?room=${room}`)]);
    for (const page of [pageA, pageB]) {
      await page.waitForFunction(() => document.querySelectorAll('#chat-log li').length === 50);
      assert.match((await page.locator('#chat-log li').first().textContent())!, /old 6/);
      await page.waitForSelector('#chat-state[data-state="connected"]');
    }
    await pageA.locator('#chat-name').fill('Ada');
    await pageA.locator('#chat-text').fill('hello from A');
    await pageA.locator('#chat-text').press('Enter');
    await pageB.waitForSelector('#chat-log li:has-text("hello from A")');
    await pageB.locator('#chat-name').fill('Bea');
    await pageB.locator('#chat-text').fill('hi Ada, from B');
    await pageB.getByRole('button', { name: 'Send' }).click();
    await pageA.waitForSelector('#chat-log li:has-text("hi Ada, from B")');
    // Anyone can post to the room, e.g. curl.
    await publish(server.url, `chat:${room}`, { name: 'curl', text: 'from outside' });
    await Promise.all([pageA, pageB].map((p) => p.waitForSelector('#chat-log li:has-text("from outside")')));
    assert.equal(await pageA.locator('#chat-log li').count(), 53);
    await screenshot(pageA, 'chat-1280');
    await screenshot(pageB, 'chat-375');
    await assertAccessible(pageA, 'chat');
    assert.deepEqual([...errorsA, ...errorsB], []);
    await Promise.all([a.close(), b.close()]);
  });

  it('deployment log: a reload mid-deploy goes on where it was, no line lost or repeated', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const errors = collectErrors(page);
    // Lines already in the history arrive in the page's first batch (a poll answer, one cursor for all).
    await waitFor(async () => ((await request<{ last: number }>(server.url, '/v1/channels/demo:deploy')).body.last ?? 0) >= 3, 15_000, 'three deploy lines');
    await page.goto(`${server.url}/deploy-log.html`);
    // What a reload would find, as soon as lines show: a cursor, and exactly the lines on screen.
    const kept = await (
      await page.waitForFunction(
        () => {
          const shown = Array.from(document.querySelectorAll('#log li[data-offset]')).map((l) => Number(l.getAttribute('data-offset')));
          if (shown.length < 3) return false;
          const stored = JSON.parse(sessionStorage.getItem('tidings.deploy-log.demo:deploy') ?? 'null') as { cursor?: unknown; lines: { offset: number }[] } | null;
          return { cursor: typeof stored?.cursor, stored: stored?.lines.map((l) => l.offset), shown };
        },
        undefined,
        { timeout: 10_000 },
      )
    ).jsonValue() as { cursor: string; stored: number[] | undefined; shown: number[] };
    assert.equal(kept.cursor, 'string', 'a cursor is kept from the first batch on');
    assert.deepEqual(kept.stored, kept.shown);
    await page.reload();
    const restored = await page.locator('#log li[data-offset]').count();
    assert.ok(restored >= 3, `lines restored after the reload (${restored})`);
    assert.match((await page.locator('#log-resumed').textContent())!, /Resumed after a reload/);
    await page.waitForFunction((n) => document.querySelectorAll('#log li[data-offset]').length >= n + 2, restored, { timeout: 10_000 });
    const offsets = (await page.locator('#log li[data-offset]').evaluateAll((ls) => ls.map((l) => Number(l.getAttribute('data-offset')))));
    assert.deepEqual(offsets, offsets.map((_, i) => offsets[0]! + i), 'consecutive offsets across the reload');
    await screenshot(page, 'deploy-log-1280');
    await assertAccessible(page, 'deployment log');
    assert.deepEqual(errors, []);
    await context.close();
  });

  it('ticker and live score: prices move coloured up and down over SSE; the score by long and short poll with request counts', async () => {
    const context = await browser.newContext({ viewport: { width: 375, height: 812 } });
    const ticker = await context.newPage();
    const score = await context.newPage();
    const errors = [ticker, score].map(collectErrors);
    await Promise.all([ticker.goto(`${server.url}/ticker.html`), score.goto(`${server.url}/score.html`)]);
    await ticker.waitForFunction(() => document.querySelectorAll('#ticker-rows tr').length >= 3 && document.querySelector('#ticker-rows td.up, #ticker-rows td.down') !== null, undefined, { timeout: 10_000 });
    for (const side of ['long', 'short']) {
      await score.waitForFunction((s) => /^\d+\/\d+$/.test(document.getElementById(`${s}-runs`)?.textContent ?? ''), side, { timeout: 10_000 });
      await score.waitForFunction((s) => Number(document.getElementById(`${s}-requests`)?.textContent) > 0, side);
    }
    await screenshot(ticker, 'ticker-375');
    await screenshot(score, 'score-375');
    await assertAccessible(ticker, 'ticker');
    await assertAccessible(score, 'score');
    assert.deepEqual(errors.flat(), []);
    await context.close();
  });
});
