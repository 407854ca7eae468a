// Issue 16, the console's remaining setup pages in headless Chromium: a social provider added in the
// console (its callback URL copied) shows its button on the hosted sign-in page; typing branding values
// changes the live preview (the real sign-in page in a frame) before anything is saved; SMTP settings
// saved in the console (an invalid From address refused inline first) send a test email that arrives in
// an SMTP sink. Every page is free of console errors and does not scroll sideways at 375 px
// (docs/images/console-*.png with UPDATE_DOCS_IMAGES=1).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { launchChromium, ARTIFACTS, DOCS_IMAGES } from '../lib/browser.mjs';
import { useGatehouse } from '../lib/server.mjs';
import { signInOperator, captureConsolePage } from '../lib/console.mjs';
import { sdkAuthorizeUrl } from '../lib/api.mjs';
import { startSmtpSink } from '../lib/smtp.mjs';

const gh = useGatehouse();
const ADMIN = 'admin@example.com';
const REDIRECT_URI = 'http://127.0.0.1:5173/callback';
let browser;
let sink;
const consoleErrors = [];

before(async () => {
  await gh.ready;
  await mkdir(ARTIFACTS, { recursive: true });
  await mkdir(DOCS_IMAGES, { recursive: true });
  browser = await launchChromium();
  sink = await startSmtpSink();
});

after(async () => {
  await browser?.close().catch(() => {});
  await sink?.close();
});



/** A browser context signed in to the console as a new operator (its errors go to `consoleErrors`). */
const signedIn = (email) =>
  signInOperator(browser, gh, { email, role: 'admin', errors: consoleErrors, expectedStatus: 422, clipboard: true });
const capture = captureConsolePage;

test('social providers, branding preview and email settings in the console', { timeout: 180_000 }, async (t) => {
  const { context, page } = await signedIn(ADMIN);
  await page.locator('nav.envs').getByRole('link', { name: 'development' }).click();

  await t.test('a provider added in the console gets a button on the hosted sign-in page', async () => {
    await page.locator('nav.sidenav').getByRole('link', { name: 'Social providers' }).click();
    await page.getByRole('heading', { name: 'Social providers' }).waitFor();
    await page.selectOption('#provider', 'GitHubOAuth');
    await page.fill('#client_id', 'gh-client-e2e');
    await page.fill('#client_secret', 'gh-secret-e2e');
    await page.getByRole('button', { name: 'Add provider' }).click();
    const callback = `${gh.baseUrl}/authkit/callback/GitHubOAuth`;
    await page.getByRole('status').filter({ hasText: 'GitHub added' }).waitFor();
    assert.equal(await page.locator('#callback-GitHubOAuth').textContent(), callback);
    assert.equal(await page.content().then((html) => html.includes('gh-secret-e2e')), false, 'the secret is never shown');
    await page.locator('button[data-copy="callback-GitHubOAuth"]').click();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), callback);
    await capture(page, 'providers');
    await page.getByRole('link', { name: 'GitHub', exact: true }).click();
    await page.getByRole('heading', { name: 'Register at the provider' }).waitFor();
    assert.equal(await page.inputValue('#client_secret'), '', 'write-only');
    await capture(page, 'provider');

    const app = await context.newPage();
    await app.goto(await sdkAuthorizeUrl(gh, REDIRECT_URI, { provider: 'authkit' }));
    await app.waitForURL((u) => u.pathname === '/authkit/sign-in');
    await app.getByRole('link', { name: 'Continue with GitHub' }).waitFor();
    await app.close();

    await page.goto(`${gh.baseUrl}/dashboard/activity?env=development&type=audit`);
    await page.locator('table').getByText('gatehouse.provider.created').first().waitFor();
  });

  await t.test('typing branding values changes the preview of the real sign-in page', async () => {
    await page.locator('nav.envs').getByRole('link', { name: 'development' }).click();
    await page.locator('nav.sidenav').getByRole('link', { name: 'Settings' }).click();
    const preview = page.frameLocator('#brand-preview');
    await preview.getByRole('link', { name: 'Continue with GitHub' }).waitFor();
    await page.fill('#branding-app_name', 'Zebra Books');
    await preview.getByText('to continue to Zebra Books').waitFor();
    await page.fill('#branding-primary_color', '#e11d48');
    await page.waitForFunction(() => {
      const doc = document.getElementById('brand-preview').contentDocument;
      const button = doc?.querySelector('button.primary');
      return button && getComputedStyle(button).backgroundColor === 'rgb(225, 29, 72)';
    });
    // Nothing is saved until "Save settings".
    const res = await fetch(`${gh.baseUrl}/authkit/brand/${gh.clientId}.css`);
    assert.doesNotMatch(await res.text(), /#e11d48/);
    await page.locator('#brand-preview').scrollIntoViewIfNeeded();
    await capture(page, 'branding-preview');
  });

  await t.test('SMTP settings saved in the console send a test email into the sink', async () => {
    await page.locator('nav.sidenav').getByRole('link', { name: 'Email' }).click();
    await page.getByRole('heading', { name: 'SMTP settings' }).waitFor();
    await page.fill('#smtp-host', '127.0.0.1');
    await page.fill('#smtp-port', String(sink.port));
    await page.selectOption('#smtp-tls', 'none');
    await page.fill('#smtp-from', 'not an address');
    await page.getByRole('button', { name: 'Save email settings' }).click();
    await page.locator('#smtp-error').waitFor();
    assert.match(await page.locator('#smtp-error').textContent(), /From address must look like/);
    assert.equal(await page.getAttribute('#smtp-from', 'aria-invalid'), 'true');
    assert.equal(await page.inputValue('#smtp-host'), '127.0.0.1', 'what was typed stays');
    await page.fill('#smtp-from', 'Zebra Books <no-reply@zebra.test>');
    await page.getByRole('button', { name: 'Save email settings' }).click();
    await page.getByRole('status').filter({ hasText: 'they apply now' }).waitFor();
    await page.fill('#test-to', 'ops@zebra.test');
    await page.getByRole('button', { name: 'Send test email' }).click();
    await page.getByRole('status').filter({ hasText: 'Test email to ops@zebra.test queued' }).waitFor();
    const message = await sink.waitFor({ to: 'ops@zebra.test', subject: /Test email from/ });
    assert.match(message.from, /no-reply@zebra\.test/);
    await page.reload();
    await page.locator('table').getByText('ops@zebra.test').waitFor();
    await capture(page, 'email-settings');
  });

  assert.deepEqual(consoleErrors, []);
});
