// The email flows in headless Chromium through the hosted pages, started from the authkit-js test app
// (lib/app.mjs) and finished at its callback: sign in with an emailed code, sign up with email
// verification required, and a full password reset. Codes and links come from the SMTP sink.
// Screenshots of the new pages go to e2e/artifacts/email-*.png.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { useAppInBrowser, waitReady, ARTIFACTS } from '../lib/browser.mjs';
import { useGatehouse, startGatehouse } from '../lib/server.mjs';
import {
  apiRequest,
  confidentialClient,
  publicClient,
  verifyAccessToken,
  uniqueEmail,
  STRONG_PASSWORD,
  OTHER_STRONG_PASSWORD,
} from '../lib/api.mjs';
import { codeFrom, resetLinkFrom } from '../lib/smtp.mjs';

const gh = useGatehouse({ smtp: true, settings: { email_verification_required: 'true' } });
const ui = useAppInBrowser(gh);
const { nonce } = ui;
let app;
let context;
let page;
before(async () => {
  await ui.ready;
  ({ app, context, page } = ui);
});

const shot = (name) => page.screenshot({ path: join(ARTIFACTS, `email-${name}.png`) });

/** Renders a delivered message's HTML part in a separate tab (no network) and screenshots it. */
async function shotMessage(message, name) {
  const tab = await context.newPage();
  try {
    await tab.route('**/*', (route) => route.abort());
    await tab.setContent(message.html, { waitUntil: 'load' });
    await tab.screenshot({ path: join(ARTIFACTS, `email-message-${name}.png`), fullPage: true });
  } finally {
    await tab.close();
  }
}
const onHosted = (path) => page.waitForURL((u) => u.origin === gh.baseUrl && u.pathname === path);

/** Starts at the app, signed out, and clicks its sign-in (or sign-up) button; waits for the hosted page. */
async function startFromApp(button, hostedPath) {
  await page.goto(`${app.origin}/`);
  await waitReady(page);
  if ((await page.textContent('#user')) !== 'signed out') {
    await page.click('#sign-out');
    await page.waitForURL((u) => u.origin === app.origin && u.pathname === '/');
    await waitReady(page);
  }
  assert.equal(await page.textContent('#user'), 'signed out');
  await page.click(button);
  await onHosted(hostedPath);
}

/**
 * Waits until the app's callback has exchanged the code and shows `email`. Returns the JSON of the
 * code-exchange response (from `exchange`, a promise for the authenticate response started before the click).
 */
async function landInApp(email, exchange, returnTo) {
  await page.waitForURL((u) => u.origin === app.origin && u.pathname === '/callback');
  await waitReady(page);
  await page.waitForFunction((e) => document.getElementById('user').textContent === e, email);
  const redirects = await page.evaluate(() => window.__redirects);
  assert.deepEqual(redirects, [{ state: { returnTo, nonce }, email }]);
  const res = await exchange;
  assert.equal(res.status(), 200);
  return res.json();
}

const exchangeResponse = () =>
  page.waitForResponse(
    (r) => r.request().method() === 'POST' && r.url() === `${gh.baseUrl}/user_management/authenticate` && r.request().postDataJSON()?.grant_type === 'authorization_code',
    { timeout: 30_000 },
  );

test('sign in with an emailed code: sign-in page → "Email me a sign-in code" → code page → app', { timeout: 120_000 }, async () => {
  const workos = confidentialClient(gh);
  const email = uniqueEmail('browser-magic');
  const user = await workos.userManagement.createUser({ email, firstName: 'Magic', lastName: 'Browser' });

  await startFromApp('#sign-in', '/authkit/sign-in');
  await page.click('a[href^="/authkit/magic-auth"]');
  await onHosted('/authkit/magic-auth');
  await shot('magic-auth-email');
  await page.fill('#email', email);
  await page.click('form[action="/authkit/magic-auth"] button[type="submit"]');
  await page.waitForSelector('form[action="/authkit/magic-auth/verify"] #code');
  assert.ok((await page.textContent('main')).includes(email));
  const mail = await gh.smtp.waitFor({ to: email });
  const code = codeFrom(mail);
  await shot('magic-auth-code');
  await shotMessage(mail, 'magic-auth');

  // A wrong code first: the page stays, with the reason.
  await page.fill('#code', code === '000000' ? '111111' : '000000');
  await page.click('form[action="/authkit/magic-auth/verify"] button[type="submit"]');
  await page.waitForSelector('[role="alert"]');
  assert.match(await page.textContent('[role="alert"]'), /incorrect/i);
  assert.equal(new URL(page.url()).origin, gh.baseUrl);
  await shot('magic-auth-code-error');

  const exchange = exchangeResponse();
  await page.fill('#code', code);
  await page.click('form[action="/authkit/magic-auth/verify"] button[type="submit"]');
  const body = await landInApp(email, exchange, '/after-sign-in');
  assert.equal(body.authentication_method, 'MagicAuth');
  assert.equal(body.user.id, user.id);
  assert.equal(body.user.email_verified, true);
  const token = await page.evaluate(() => window.__client.getAccessToken());
  await verifyAccessToken(gh, publicClient(gh), token, { sub: user.id });
});

test('sign up with email verification required: verify-email code page → app, user verified', { timeout: 120_000 }, async () => {
  const email = uniqueEmail('browser-verify');
  await startFromApp('#sign-up', '/authkit/sign-up');
  await page.fill('input[name="first_name"]', 'Veri');
  await page.fill('input[name="last_name"]', 'Fied');
  await page.fill('input[name="email"]', email);
  await page.fill('input[name="password"]', STRONG_PASSWORD);
  await page.click('form[action="/authkit/sign-up"] button[type="submit"]');
  await onHosted('/authkit/verify-email');
  await page.waitForSelector('form[action="/authkit/verify-email"] #code');
  assert.ok((await page.textContent('main')).includes(email));
  const firstMail = await gh.smtp.waitFor({ to: email });
  const first = codeFrom(firstMail);
  await shot('verify-email');
  await shotMessage(firstMail, 'verification');

  // "Send a new code": a notice, and a second email.
  await page.click('form[action="/authkit/verify-email/resend"] button[type="submit"]');
  await page.waitForSelector('[role="status"]');
  assert.match(await page.textContent('[role="status"]'), /new code/i);
  await shot('verify-email-resent');
  const second = codeFrom(await gh.smtp.waitFor({ to: email }, { count: 2 }));
  assert.ok(first && second);

  const exchange = exchangeResponse();
  await page.fill('#code', second);
  await page.click('form[action="/authkit/verify-email"] button[type="submit"]');
  const body = await landInApp(email, exchange, '/after-sign-up');
  assert.equal(body.user.email_verified, true);
  assert.equal(body.user.first_name, 'Veri');
  assert.equal(body.authentication_method, 'Password');
  const viaApi = await confidentialClient(gh).userManagement.getUser(body.user.id);
  assert.equal(viaApi.emailVerified, true);
});

test('password reset: "Forgot password?" → email link → new password → sign in with it', { timeout: 120_000 }, async () => {
  const workos = confidentialClient(gh);
  const email = uniqueEmail('browser-reset');
  const user = await workos.userManagement.createUser({ email, password: STRONG_PASSWORD, emailVerified: true });

  await startFromApp('#sign-in', '/authkit/sign-in');
  await page.click('a[href^="/authkit/forgot-password"]');
  await onHosted('/authkit/forgot-password');
  await shot('forgot-password');
  await page.fill('#email', email);
  await page.click('form[action="/authkit/forgot-password"] button[type="submit"]');
  await page.waitForFunction(() => /check your email/i.test(document.querySelector('h1')?.textContent ?? ''));
  assert.ok((await page.textContent('main')).includes(email));
  await shot('forgot-password-sent');

  const resetMail = await gh.smtp.waitFor({ to: email });
  const link = resetLinkFrom(resetMail);
  await shotMessage(resetMail, 'password-reset');
  await page.goto(link.href);
  await page.waitForSelector('form[action="/authkit/reset-password"] #password');
  await shot('reset-password');

  await page.fill('#password', 'password');
  await page.click('form[action="/authkit/reset-password"] button[type="submit"]');
  await page.waitForSelector('[role="alert"]');
  await shot('reset-password-weak');

  await page.fill('#password', OTHER_STRONG_PASSWORD);
  await page.click('form[action="/authkit/reset-password"] button[type="submit"]');
  await page.waitForFunction(() => /password changed/i.test(document.querySelector('h1')?.textContent ?? ''));
  await shot('reset-password-done');

  // The link is spent.
  const again = await page.goto(link.href);
  assert.equal(again.status(), 400);
  assert.match(await page.textContent('h1'), /this link has expired/i);
  await shot('reset-password-expired');

  // Sign in with the new password (the old one is refused first).
  await startFromApp('#sign-in', '/authkit/sign-in');
  await page.fill('#email', email);
  await page.fill('#password', STRONG_PASSWORD);
  await page.click('form[action="/authkit/sign-in"] button[type="submit"]');
  await page.waitForSelector('[role="alert"]');
  const exchange = exchangeResponse();
  await page.fill('#email', email);
  await page.fill('#password', OTHER_STRONG_PASSWORD);
  await page.click('form[action="/authkit/sign-in"] button[type="submit"]');
  const body = await landInApp(email, exchange, '/after-sign-in');
  assert.equal(body.user.id, user.id);
  assert.equal(body.authentication_method, 'Password');
});

test('development outbox page (no SMTP): GET /dev/emails', { timeout: 60_000 }, async () => {
  const dev = await startGatehouse({ serveArgs: ['--dev-emails'] });
  try {
    const email = uniqueEmail('browser-devmail');
    const created = await apiRequest(dev, 'POST', '/user_management/magic_auth', { email });
    assert.equal(created.status, 201);
    await apiRequest(dev, 'POST', '/user_management/password_reset', { email });
    const res = await page.goto(`${dev.baseUrl}/dev/emails`);
    assert.equal(res.status(), 200);
    assert.ok((await page.textContent('body')).includes(created.body.code));
    await page.screenshot({ path: join(ARTIFACTS, 'email-dev-outbox.png'), fullPage: true });
  } finally {
    await dev.stop();
  }
});
