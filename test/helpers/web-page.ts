import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';

// dist/test/helpers → the repository root.
const ROOT = new URL('../../../', import.meta.url);
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/**
 * Everything a page reports as going wrong: console errors and uncaught exceptions. A test
 * asserts the list is empty at its end, so "no console errors" covers the whole visit.
 */
export function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (err) => errors.push(`uncaught: ${err.message}`));
  return errors;
}

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: unknown[] }[];
}

/** Runs axe-core inside the page (WCAG 2 A/AA rules) and fails on a serious or critical violation. */
export async function assertAccessible(page: Page, what: string): Promise<void> {
  await page.addScriptTag({ content: AXE_SOURCE });
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(ctx: Document, o: object): Promise<{ violations: AxeViolation[] }> } }).axe;
    const result = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target })) }));
  });
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad.map((v) => `${v.impact} ${v.id}: ${v.help} at ${JSON.stringify(v.nodes.slice(0, 3).map((n) => n.target))}`), [], `${what}: axe violations`);
}

/** A full-page screenshot under test-results/ (gitignored), to look at. */
export async function screenshot(page: Page, name: string): Promise<string> {
  const dir = new URL('test-results/', ROOT);
  mkdirSync(dir, { recursive: true });
  const path = new URL(`${name}.png`, dir).pathname;
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** The text of every element matching `selector`, as numbers. */
export async function numbers(page: Page, selector: string): Promise<number[]> {
  return (await page.locator(selector).allTextContents()).map((t) => Number(t));
}
