import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's Chromium (`apt-get install chromium`); .ci/run installs it when missing. */
export const CHROMIUM = '/usr/bin/chromium';

/** Flags that keep Chromium off the network and quiet in a container. */
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/**
 * Why browser tests can't run here, or undefined when they can. Under CI=true a missing
 * Chromium is never a reason: the test runs and fails, so CI can't pass without it.
 */
export function browserSkipReason(): string | undefined {
  if (process.env.CI === 'true') return undefined;
  return existsSync(CHROMIUM) ? undefined : `no Chromium at ${CHROMIUM} (apt-get install chromium)`;
}

/** Headless Chromium; the caller closes it. */
export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}

/**
 * A new tab at `origin` + `path`, a real answer of the server under test, so the page's
 * scripts, fetches and WebSockets are same-origin with it. (A page made up by the test
 * with page.route has no address of its own, and Chromium's Local Network Access checks
 * then block its WebSocket to 127.0.0.1.) Page errors are echoed to stderr.
 */
export async function pageAt(browser: Browser, origin: string, path = '/healthz'): Promise<Page> {
  const page = await browser.newPage();
  page.on('pageerror', (err) => process.stderr.write(`page error: ${err.message}\n`));
  await page.goto(`${origin}${path}`);
  return page;
}
