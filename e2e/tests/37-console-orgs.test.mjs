// Issue 16, organizations in the console (/dashboard) in headless Chromium: an admin creates an
// organization, adds a domain, copies the TXT record the page shows into the e2e DNS server
// (lib/dns.mjs, passed as --dns-server) and verifies it, invites a member, changes a member's role
// and revokes an invitation after confirming; a viewer sees the organization without any of those
// forms. Every page is free of console errors and does not scroll sideways at 375 px
// (docs/images/console-org-*.png with UPDATE_DOCS_IMAGES=1).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { launchChromium, ARTIFACTS, DOCS_IMAGES } from '../lib/browser.mjs';
import { useGatehouse } from '../lib/server.mjs';
import { signInOperator, captureConsolePage } from '../lib/console.mjs';
import { startDnsServer } from '../lib/dns.mjs';
import { apiRequest, STRONG_PASSWORD } from '../lib/api.mjs';

const dns = await startDnsServer();
const gh = useGatehouse({ serveArgs: dns.serveArgs });
const stamp = Date.now().toString(36);
const DOMAIN = `engines-${stamp}.example`;
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
  dns.close();
});



const section = (page, id) => page.locator(`section[aria-labelledby=${id}]`);

/** A browser context signed in to the console as a new operator (its errors go to `consoleErrors`). */
const signedIn = (email, role) =>
  signInOperator(browser, gh, { email, role, errors: consoleErrors, expectedStatus: 422 });
const capture = captureConsolePage;

test('an organization run from the console: domain verified by DNS, members, invitations', { timeout: 240_000 }, async (t) => {
  const ada = await apiRequest(gh, 'POST', '/user_management/users', {
    email: `ada@${DOMAIN}`, password: STRONG_PASSWORD, first_name: 'Ada', last_name: 'Lovelace', email_verified: true,
  });
  assert.equal(ada.status, 201, ada.text);
  const { page } = await signedIn(`admin-${stamp}@example.com`, 'admin');
  let orgUrl;

  await t.test('create an organization', async () => {
    await page.goto(`${gh.baseUrl}/dashboard/env/development/organizations`);
    await page.getByText('Create an organization').click();
    await page.fill('#new-org-name', 'Analytical Engines');
    await page.getByRole('button', { name: 'Create organization' }).click();
    await page.getByRole('heading', { name: 'Analytical Engines' }).waitFor();
    assert.match(await page.locator('[role=status], .flash').first().textContent(), /created/);
    orgUrl = page.url();
  });

  await t.test('add a domain, create its TXT record, verify it', async () => {
    await page.fill('#domain', DOMAIN.toUpperCase());
    await page.getByRole('button', { name: 'Add domain' }).click();
    await page.waitForURL(orgUrl);
    const domains = section(page, 'domains');
    assert.match(await domains.textContent(), new RegExp(DOMAIN.replace(/\./g, '\\.')));
    assert.match(await domains.locator('.badge').first().textContent(), /pending/);
    const name = (await domains.locator('code[id^=txt-name-]').first().textContent()).trim();
    const value = (await domains.locator('code[id^=txt-value-]').first().textContent()).trim();
    assert.equal(name, `${name.split('.')[0]}.${DOMAIN}`);
    assert.ok(value.length >= 20, value);
    assert.equal(await domains.getByRole('button', { name: 'Copy' }).count(), 2);
    await capture(page, 'org-domain-pending');
    // Verifying before the record exists fails and says why.
    await domains.getByRole('button', { name: 'Verify' }).click();
    await page.waitForURL(orgUrl);
    assert.match(await section(page, 'domains').locator('.badge').first().textContent(), /failed/);
    dns.setTxt(name, [value]);
    await section(page, 'domains').getByRole('button', { name: 'Verify' }).click();
    await page.waitForURL(orgUrl);
    assert.match(await section(page, 'domains').locator('.badge').first().textContent(), /verified/);
    assert.equal(await section(page, 'domains').getByRole('button', { name: 'Verify' }).count(), 0);
  });

  await t.test('invite a member, and revoke an invitation after confirming', async () => {
    await page.fill('#invite-email', `grace@${DOMAIN}`);
    await page.selectOption('#invite-role', 'admin');
    await page.getByRole('button', { name: 'Send invitation' }).click();
    await page.waitForURL(orgUrl);
    const invitations = section(page, 'invitations');
    assert.match(await invitations.textContent(), /grace@/);
    assert.match(await invitations.textContent(), /pending/);
    // A bad address is refused on the page.
    await page.fill('#invite-email', 'nobody@');
    await page.evaluate(() => document.querySelector('#invite-email').setAttribute('type', 'text'));
    await page.getByRole('button', { name: 'Send invitation' }).click();
    await page.locator('#invite-error').waitFor();
    await page.goto(orgUrl);
    await section(page, 'invitations').getByRole('button', { name: 'Revoke…' }).click();
    await page.getByRole('heading', { name: 'Please confirm' }).waitFor();
    assert.match(await page.locator('.consequence').textContent(), /stops working/);
    await page.getByRole('button', { name: 'Revoke invitation' }).click();
    await page.waitForURL(orgUrl);
    assert.match(await section(page, 'invitations').textContent(), /revoked/);
  });

  await t.test("a member's role, from the page", async () => {
    const orgId = orgUrl.split('/').pop();
    const m = await apiRequest(gh, 'POST', '/user_management/organization_memberships', { organization_id: orgId, user_id: ada.body.id });
    assert.equal(m.status, 201, m.text);
    await page.goto(orgUrl);
    const members = section(page, 'members');
    await members.locator('select').selectOption('admin');
    await members.getByRole('button', { name: 'Set' }).click();
    await page.waitForURL(orgUrl);
    const after = await apiRequest(gh, 'GET', `/user_management/organization_memberships/${m.body.id}`);
    assert.equal(after.body.role.slug, 'admin');
    await page.evaluate(() => window.scrollTo(0, 0));
    await capture(page, 'org');
    // Deleting names what ends.
    await page.getByRole('button', { name: 'Delete organization…' }).click();
    assert.match(await page.locator('.consequence').textContent(), /every membership in it ends/);
    await capture(page, 'org-confirm-delete');
    await page.getByRole('link', { name: 'Cancel' }).click();
    await page.waitForURL(orgUrl);
  });

  await t.test('a viewer sees the organization without its forms', async () => {
    const viewer = await signedIn(`viewer-${stamp}@example.com`, 'viewer');
    await viewer.page.goto(orgUrl);
    await viewer.page.getByRole('heading', { name: 'Analytical Engines' }).waitFor();
    for (const name of ['Add domain', 'Send invitation', 'Delete organization…', 'Set', 'Remove…']) {
      assert.equal(await viewer.page.getByRole('button', { name }).count(), 0, `no ${name} button`);
    }
    assert.match(await section(viewer.page, 'domains').textContent(), /verified/);
    await viewer.context.close();
  });

  assert.deepEqual(consoleErrors, []);
});
