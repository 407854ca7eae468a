// The console's browser steps shared by the console suites (e2e/tests/3?-console-*.test.mjs): a new
// operator signed in through a one-time link, and screenshots at phone and desktop widths.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DOCS_IMAGES } from './browser.mjs';
import { runCli } from './server.mjs';

export const OPERATOR_PASSWORD = 'Operator-e2e!Lantern-Orchid-52';

/**
 * A browser context signed in to the console of `gh` as a new operator with `role`: the link from
 * `gatehouse operators add`, the account created there, then the operator realm's hosted sign-in. From then
 * on the page's console errors and uncaught exceptions are pushed to `errors`, except Chromium's report of a
 * response with `expectedStatus` (a refusal the test causes on purpose). `clipboard` grants clipboard access
 * (for copy buttons).
 */
export async function signInOperator(browser, gh, { email, role, errors, expectedStatus, clipboard = false }) {
  const { stdout } = await runCli(['operators', 'add', email, '--role', role, '--data', gh.dataDir, '--public-url', gh.baseUrl, '--json']);
  const { link } = JSON.parse(stdout);
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  if (clipboard) await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: gh.baseUrl });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  await acceptOperatorLink(page, link, email);
  page.on('console', (m) => {
    const refused = expectedStatus !== undefined && m.text().includes(`status of ${expectedStatus}`);
    if (m.type() === 'error' && !refused) errors.push(`${page.url()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`${page.url()}: ${e.message}`));
  return { context, page };
}

/**
 * In `page`: opens a one-time operator `link`, creates the account with OPERATOR_PASSWORD, then signs in
 * as `email` through the operator realm's hosted sign-in, ending on the console's home page.
 */
export async function acceptOperatorLink(page, link, email) {
  await page.goto(link);
  await page.fill('#password', OPERATOR_PASSWORD);
  await page.fill('#password_confirmation', OPERATOR_PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByRole('link', { name: 'Sign in' }).click();
  await page.waitForURL((u) => u.pathname === '/authkit/sign-in');
  await page.fill('#email', email);
  await page.fill('#password', OPERATOR_PASSWORD);
  await page.click('form[action="/authkit/sign-in"] button[type="submit"]');
  await page.waitForURL((u) => u.pathname === '/dashboard');
}

/**
 * Screenshots of the current page at 375 and 1280 px (docs/images/console-NAME-375.png and
 * console-NAME.png); the page must not scroll sideways at 375 px, nor at 1280 px with `wide`.
 */
export async function captureConsolePage(page, name, { wide = false } = {}) {
  await page.setViewportSize({ width: 375, height: 760 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `${name}: the page is ${overflow} px wider than a 375 px screen`);
  await page.screenshot({ path: join(DOCS_IMAGES, `console-${name}-375.png`), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 800 });
  if (wide) {
    const over = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(over <= 0, `${name}: the page is ${over} px wider than a 1280 px screen`);
  }
  await page.screenshot({ path: join(DOCS_IMAGES, `console-${name}.png`), fullPage: true });
}
