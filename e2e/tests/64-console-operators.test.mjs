// The console's operators page in headless Chromium: an admin makes a one-time link for a new viewer (copied
// from the page); the link, opened in another browser, creates the account, and the new operator signs in
// read-only; the admin makes them an admin, then removes them after a confirmation, which ends their console
// session. No console errors; no sideways scroll at 375 px (docs/images/console-operators*.png with
// UPDATE_DOCS_IMAGES=1).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { launchChromium, ARTIFACTS, DOCS_IMAGES } from '../lib/browser.mjs';
import { useGatehouse } from '../lib/server.mjs';
import { signInOperator, captureConsolePage, acceptOperatorLink } from '../lib/console.mjs';

const gh = useGatehouse();
let browser;
const consoleErrors = [];

before(async () => {
  await gh.ready;
  await mkdir(ARTIFACTS, { recursive: true });
  await mkdir(DOCS_IMAGES, { recursive: true });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close().catch(() => {});
});

test('an operator invited from the console signs in read-only, is promoted, then removed', { timeout: 120_000 }, async () => {
  const { page } = await signInOperator(browser, gh, { email: 'lead@example.com', role: 'admin', errors: consoleErrors, clipboard: true });
  await page.locator('nav.sidenav').getByRole('link', { name: 'Operators' }).click();
  await page.getByRole('heading', { name: 'Operators' }).waitFor();
  await page.fill('#email', 'new.viewer@example.com');
  await page.selectOption('#role', 'viewer');
  await page.getByRole('button', { name: 'Create a one-time link' }).click();
  await page.getByRole('heading', { name: 'Send this link to new.viewer@example.com' }).waitFor();
  await page.locator('button[data-copy="operator-link"]').click();
  const link = await page.evaluate(() => navigator.clipboard.readText());
  assert.match(link, /\/dashboard\/setup\?token=/);
  await captureConsolePage(page, 'operators');

  // The link, in the new operator's own browser.
  const theirs = await browser.newContext();
  const them = await theirs.newPage();
  them.setDefaultTimeout(15_000);
  await acceptOperatorLink(them, link, 'new.viewer@example.com');
  await them.getByText('Read-only: your role is viewer.').waitFor();

  // Promoted, then removed (confirmed); their session ends with the account.
  await page.goto(`${gh.baseUrl}/dashboard/operators`);
  const row = page.locator('tbody tr').filter({ hasText: 'new.viewer@example.com' });
  await row.locator('select').selectOption('admin');
  await row.getByRole('button', { name: 'Change' }).click();
  await page.getByRole('status').filter({ hasText: 'new.viewer@example.com is now admin' }).waitFor();
  await them.reload();
  assert.equal(await them.getByText('Read-only: your role is viewer.').count(), 0, 'an admin now');
  await page.locator('tbody tr').filter({ hasText: 'new.viewer@example.com' }).getByRole('button', { name: 'Remove…' }).click();
  await page.getByRole('button', { name: 'Remove operator' }).click();
  await page.getByRole('status').filter({ hasText: 'new.viewer@example.com removed.' }).waitFor();
  assert.equal(await page.locator('tbody tr').filter({ hasText: 'new.viewer@example.com' }).count(), 0);
  await them.goto(`${gh.baseUrl}/dashboard`);
  await them.waitForURL((u) => u.pathname !== '/dashboard');
  await theirs.close();

  assert.deepEqual(consoleErrors, []);
});
