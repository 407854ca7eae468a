// Scenario 12 (spec §9, §6.1, §7): the official authkit-js in headless Chromium against Gatehouse:
// sign up and sign in through the hosted pages, callback code exchange (CORS), refresh on reload,
// sign out through the logout endpoint. Screenshots of the hosted pages go to e2e/artifacts/ and
// docs/images/sign-in.png.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { useAppInBrowser, waitReady, watchAuthenticate, ARTIFACTS, DOCS_IMAGES } from '../lib/browser.mjs';
import { useGatehouse, REPO_ROOT } from '../lib/server.mjs';
import {
  publicClient,
  verifyAccessToken,
  rejectsOauth,
  uniqueEmail,
  STRONG_PASSWORD,
  OTHER_STRONG_PASSWORD,
} from '../lib/api.mjs';

// Sign-up here finishes at once (uniform_sign_up=false): this file is about the SDK's flow, not the
// uniform sign-up's emailed code, which e2e/tests/50-uniform-sign-up.test.mjs covers.
const gh = useGatehouse({ settings: { uniform_sign_up: 'false' } });
const ui = useAppInBrowser(gh);
const { nonce } = ui;
let app;
let context;
let page;
before(async () => {
  await ui.ready;
  ({ app, context, page } = ui);
});

const refreshTokenKey = () => `workos:refresh-token:${gh.clientId}`;
const storedRefreshToken = () => page.evaluate((k) => localStorage.getItem(k), refreshTokenKey());

test('CORS preflight for /user_management/authenticate: allowed origin yes, others no', async () => {
  const pre = await fetch(`${gh.baseUrl}/user_management/authenticate`, {
    method: 'OPTIONS',
    headers: { Origin: app.origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' },
  });
  assert.ok(pre.status === 200 || pre.status === 204, `preflight status ${pre.status}`);
  const acao = pre.headers.get('access-control-allow-origin');
  assert.ok(acao === app.origin || acao === '*', `Access-Control-Allow-Origin: ${acao}`);
  assert.match(pre.headers.get('access-control-allow-methods') ?? '', /POST/i);
  assert.match(pre.headers.get('access-control-allow-headers') ?? '', /content-type/i);

  const evil = await fetch(`${gh.baseUrl}/user_management/authenticate`, {
    method: 'OPTIONS',
    headers: { Origin: 'http://evil.example', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' },
  });
  const evilAcao = evil.headers.get('access-control-allow-origin');
  assert.ok(evilAcao !== 'http://evil.example' && evilAcao !== '*', `an unregistered origin must not be allowed (got ${evilAcao})`);
});

test('authkit-js in Chromium: sign up → callback → reload refresh → sign out → sign in', { timeout: 180_000 }, async (t) => {
  const email = uniqueEmail('browser');
  let userId;

  await t.test('app loads signed out', async () => {
    await page.goto(`${app.origin}/`);
    await waitReady(page);
    assert.equal(await page.textContent('#user'), 'signed out');
    assert.equal(await storedRefreshToken(), null);
  });

  let rtAfterSignUp;
  await t.test('sign up through the hosted sign-up page', async () => {
    const auth = watchAuthenticate(page, gh);
    await page.click('#sign-up');
    await page.waitForURL((u) => u.origin === gh.baseUrl && u.pathname === '/authkit/sign-up');
    const url = new URL(page.url());
    assert.ok(url.searchParams.get('request'));
    await page.screenshot({ path: join(ARTIFACTS, 'sign-up.png') });

    await page.fill('input[name="first_name"]', 'Browser');
    await page.fill('input[name="last_name"]', 'Tester');
    await page.fill('input[name="email"]', email);
    await page.fill('input[name="password"]', STRONG_PASSWORD);
    await page.click('form[action="/authkit/sign-up"] button[type="submit"]');

    await page.waitForURL((u) => u.origin === app.origin && u.pathname === '/callback');
    await waitReady(page);
    await page.waitForFunction((e) => document.getElementById('user').textContent === e, email);
    auth.stop();

    // The callback page exchanged the code (public PKCE grant, 128-char verifier) exactly once.
    const exchanges = auth.posts.filter((p) => p.body.grant_type === 'authorization_code');
    assert.equal(exchanges.length, 1, JSON.stringify(auth.posts));
    assert.equal(exchanges[0].body.code_verifier.length, 128);
    assert.equal(exchanges[0].body.client_secret, undefined);
    assert.equal(exchanges[0].status, 200);

    // state round-trips through onRedirectCallback; code/state removed from the URL.
    const redirects = await page.evaluate(() => window.__redirects);
    assert.deepEqual(redirects, [{ state: { returnTo: '/after-sign-up', nonce }, email }]);
    assert.equal(page.url(), `${app.origin}/callback`, 'URL cleaned of code and state');

    rtAfterSignUp = await storedRefreshToken();
    assert.ok(rtAfterSignUp, `localStorage['${refreshTokenKey()}'] set (devMode)`);
    const user = await page.evaluate(() => window.__client.getUser());
    assert.equal(user.email, email);
    assert.equal(user.firstName, 'Browser');
    assert.equal(user.lastName, 'Tester');
    userId = user.id;
    const token = await page.evaluate(() => window.__client.getAccessToken());
    await verifyAccessToken(gh, publicClient(gh), token, { sub: userId });
  });

  let rtAfterReload;
  await t.test('reload → exactly one refresh POST, user still shown, refresh token rotated', async () => {
    const auth = watchAuthenticate(page, gh);
    await page.reload();
    await waitReady(page);
    await page.waitForFunction((e) => document.getElementById('user').textContent === e, email);
    auth.stop();
    const refreshes = auth.posts.filter((p) => p.body.grant_type === 'refresh_token');
    assert.equal(refreshes.length, 1, JSON.stringify(auth.posts));
    assert.equal(refreshes[0].body.refresh_token, rtAfterSignUp);
    assert.equal(refreshes[0].status, 200);
    rtAfterReload = await storedRefreshToken();
    assert.ok(rtAfterReload);
    assert.notEqual(rtAfterReload, rtAfterSignUp, 'refresh rotated the stored token');
  });

  await t.test('sign out → logout endpoint → back at the app, signed out; old refresh token dead', async () => {
    await page.click('#sign-out');
    await page.waitForURL((u) => u.origin === app.origin && u.pathname === '/');
    await waitReady(page);
    assert.equal(await page.textContent('#user'), 'signed out');
    assert.equal(await storedRefreshToken(), null);
    await rejectsOauth(publicClient(gh).userManagement.authenticateWithRefreshToken({ refreshToken: rtAfterReload }), 'invalid_grant');
  });

  await t.test('sign in again through the hosted sign-in page (wrong password first)', async () => {
    const auth = watchAuthenticate(page, gh);
    await page.click('#sign-in');
    await page.waitForURL((u) => u.origin === gh.baseUrl && u.pathname === '/authkit/sign-in');
    await page.screenshot({ path: join(ARTIFACTS, 'sign-in.png') });
    await mkdir(DOCS_IMAGES, { recursive: true });
    await page.screenshot({ path: join(DOCS_IMAGES, 'sign-in.png') });

    await page.fill('#email', email);
    await page.fill('#password', OTHER_STRONG_PASSWORD);
    const [failedPost] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/authkit/sign-in'),
      page.click('form[action="/authkit/sign-in"] button[type="submit"]'),
    ]);
    assert.equal(failedPost.status(), 400, 'wrong password → 400 re-rendered page');
    await page.waitForLoadState('load');
    await page.waitForSelector('[role="alert"]');
    assert.equal(new URL(page.url()).origin, gh.baseUrl, 'wrong password stays on the hosted page');
    const alertText = (await page.textContent('[role="alert"]')).trim();
    assert.ok(alertText.length > 0);
    await page.screenshot({ path: join(ARTIFACTS, 'sign-in-error.png') });

    await page.fill('#email', email);
    await page.fill('#password', STRONG_PASSWORD);
    await page.click('form[action="/authkit/sign-in"] button[type="submit"]');
    await page.waitForURL((u) => u.origin === app.origin && u.pathname === '/callback');
    await waitReady(page);
    await page.waitForFunction((e) => document.getElementById('user').textContent === e, email);
    auth.stop();
    const redirects = await page.evaluate(() => window.__redirects);
    assert.deepEqual(redirects, [{ state: { returnTo: '/after-sign-in', nonce }, email }]);
    assert.equal(page.url(), `${app.origin}/callback`);
    assert.equal(auth.posts.filter((p) => p.body.grant_type === 'authorization_code' && p.status === 200).length, 1);
    assert.ok(await storedRefreshToken());
    const token = await page.evaluate(() => window.__client.getAccessToken());
    await verifyAccessToken(gh, publicClient(gh), token, { sub: userId });
  });
});
