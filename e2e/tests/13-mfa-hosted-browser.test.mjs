// Two-factor in the hosted UI, in headless Chromium: enrol an authenticator app from the QR page (the
// key is read from the page and codes computed with otpauth), sign out, sign in with password + code;
// a replayed code is refused; a recovery code works once. Screenshots go to e2e/artifacts/ and docs/images/.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { useGatehouse } from '../lib/server.mjs';
import { addRedirectUri, authorizeUrl, confidentialClient, uniqueEmail, STRONG_PASSWORD } from '../lib/api.mjs';
import { launchChromium, startCallbackApp, exchangeCallback, ARTIFACTS, DOCS_IMAGES } from '../lib/browser.mjs';
import { authenticator } from '../lib/totp.mjs';

const gh = useGatehouse();
let app;
let browser;

before(async () => {
  await gh.ready;
  app = await startCallbackApp();
  await addRedirectUri(gh, app.redirectUri);
  await mkdir(ARTIFACTS, { recursive: true });
  await mkdir(DOCS_IMAGES, { recursive: true });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close().catch(() => {});
  await app?.close();
});

async function fresh() {
  // A new context is a signed-out browser: no cookies from the last sign-in.
  const context = await browser.newContext({ viewport: { width: 900, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  return { context, page };
}

async function passwordStep(page, email) {
  await page.goto(authorizeUrl(gh, { redirect_uri: app.redirectUri }));
  await page.waitForURL((u) => u.pathname === '/authkit/sign-in');
  await page.fill('#email', email);
  await page.fill('#password', STRONG_PASSWORD);
  await page.click('form[action="/authkit/sign-in"] button[type="submit"]');
}

test('hosted TOTP: enrol from the QR page, sign in with password + code, replay refused, recovery code once', { timeout: 180_000 }, async (t) => {
  const workos = confidentialClient(gh);
  const email = uniqueEmail('totp-browser');
  const user = await workos.userManagement.createUser({ email, password: STRONG_PASSWORD, emailVerified: true, firstName: 'Tia' });
  let app2fa;
  let recovery;

  await t.test('enrol on the account-security page', async () => {
    const { context, page } = await fresh();
    await page.goto(authorizeUrl(gh, { redirect_uri: app.redirectUri }));
    await page.waitForURL((u) => u.pathname === '/authkit/sign-in');
    await page.click('text=Manage passkeys and two-factor');
    await page.waitForURL((u) => u.pathname === '/authkit/sign-in');
    await page.fill('#email', email);
    await page.fill('#password', STRONG_PASSWORD);
    await page.click('form[action="/authkit/sign-in"] button[type="submit"]');
    await page.waitForURL((u) => u.pathname === '/authkit/security');
    assert.match(await page.textContent('h1'), /Account security/);
    await page.click('text=Set up an authenticator app');
    await page.waitForURL((u) => u.pathname === '/authkit/security/authenticator');
    const qr = page.locator('img.qr');
    assert.equal(await qr.evaluate((img) => img.complete && img.naturalWidth > 100), true, 'QR code image renders');
    await page.click('summary');
    await page.screenshot({ path: join(ARTIFACTS, 'two-factor-setup.png'), fullPage: true });
    await page.screenshot({ path: join(DOCS_IMAGES, 'two-factor-setup.png'), fullPage: true });
    const secret = (await page.textContent('#totp-secret')).replace(/\s+/g, '');
    app2fa = authenticator(secret);
    await page.fill('#code', '000000' === (await app2fa.next()) ? '000001' : '000000');
    await page.click('button[type="submit"]');
    await page.waitForSelector('[role="alert"]');
    await page.fill('#code', app2fa.last);
    await page.click('button[type="submit"]');
    await page.waitForSelector('ul.codes');
    recovery = await page.$$eval('ul.codes code', (els) => els.map((e) => e.textContent.trim()));
    assert.equal(recovery.length, 10);
    await page.screenshot({ path: join(ARTIFACTS, 'recovery-codes.png'), fullPage: true });
    await page.click('text=I\'ve saved them');
    await page.waitForURL((u) => u.pathname === '/authkit/security');
    assert.match(await page.textContent('.badge'), /On/);
    await page.screenshot({ path: join(ARTIFACTS, 'security-totp.png'), fullPage: true });
    await page.click('form[action="/authkit/security/continue"] button');
    await page.waitForURL((u) => u.origin === app.origin && u.pathname === '/callback');
    const body = await exchangeCallback(gh, page.url());
    assert.equal(body.user.id, user.id);
    await context.close();
  });

  await t.test('sign out, sign in with password + code', async () => {
    const { context, page } = await fresh();
    await passwordStep(page, email);
    await page.waitForURL((u) => u.pathname === '/authkit/two-factor');
    await page.screenshot({ path: join(ARTIFACTS, 'two-factor.png'), fullPage: true });
    await page.screenshot({ path: join(DOCS_IMAGES, 'two-factor.png'), fullPage: true });
    await page.fill('#code', await app2fa.next());
    await page.click('button[type="submit"]');
    await page.waitForURL((u) => u.origin === app.origin && u.pathname === '/callback');
    const body = await exchangeCallback(gh, page.url());
    assert.equal(body.authentication_method, 'Password');
    await context.close();
  });

  await t.test('a replayed code is refused', async () => {
    const { context, page } = await fresh();
    await passwordStep(page, email);
    await page.waitForURL((u) => u.pathname === '/authkit/two-factor');
    await page.fill('#code', app2fa.last);
    await page.click('button[type="submit"]');
    await page.waitForSelector('[role="alert"]');
    assert.match(await page.textContent('[role="alert"]'), /didn't work/);
    assert.equal(new URL(page.url()).pathname, '/authkit/two-factor');
    await page.screenshot({ path: join(ARTIFACTS, 'two-factor-error.png'), fullPage: true });
    await context.close();
  });

  await t.test('a recovery code works once', async () => {
    for (const expectSuccess of [true, false]) {
      const { context, page } = await fresh();
      await passwordStep(page, email);
      await page.waitForURL((u) => u.pathname === '/authkit/two-factor');
      await page.fill('#code', recovery[0]);
      await page.click('button[type="submit"]');
      if (expectSuccess) {
        await page.waitForURL((u) => u.origin === app.origin && u.pathname === '/callback');
      } else {
        await page.waitForSelector('[role="alert"]');
        assert.equal(new URL(page.url()).pathname, '/authkit/two-factor');
      }
      await context.close();
    }
  });
});
