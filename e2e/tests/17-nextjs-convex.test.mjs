// Convex's AuthKit guide app for Next.js (examples/nextjs-convex: @workos-inc/authkit-nextjs with its
// middleware, callback, sign-in and sign-up routes, AuthKitProvider + useAccessToken feeding
// ConvexProviderWithAuth), built with `next build` and run with `next start` against Gatehouse and
// convex-numbers, in headless Chromium: signed out, sign up, "Welcome <name>!", reactive numbers, the
// middleware-protected /server page rendered by withAuth(), short-lived tokens refreshed about once
// per lifetime (page open and after a reload), sign out ending the session at Gatehouse, sign in again.
//
// Who refreshes the open page's token (authkit-nextjs 4.3.2 and convex 1.51, read from their source;
// e2e/KNOWN-DRIFT.md "Investigated"): Convex's client asks the guide's fetchAccessToken for a new token
// (forceRefreshToken) 10 s before the token it holds expires, and fetchAccessToken calls AuthKit's
// refresh(), a server action. That POST passes authkit-nextjs's middleware, which refreshes a token with
// less than 30 s left itself, and then the action refreshes again: one client refresh every
// lifetime − 10 s, seen at Gatehouse as a round of one or two refresh grants. AuthKit's client token
// store alone would never refresh an open page for lifetimes over 30 s, and at 30 s or less the
// middleware and the store refresh on every request or check (the storm), so the lifetime here is 40 s.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { launchChromium, ARTIFACTS, DOCS_IMAGES } from '../lib/browser.mjs';
import { useGatehouse, freePort } from '../lib/server.mjs';
import { addRedirectUri, confidentialClient, rejectsOauth, uniqueEmail, sleep, STRONG_PASSWORD } from '../lib/api.mjs';
import { startConvexNumbers, putGuideJwtTemplate, useFailureReport } from '../lib/react-convex.mjs';
import { buildNextApp, startNextApp, unsealAppSession } from '../lib/nextjs-convex.mjs';

const TTL_SECS = Number(process.env.E2E_NEXTJS_TTL_SECS ?? 40);
/** Convex's client refetches a token this long before it expires (ConvexReactClient's default authRefreshTokenLeewaySeconds). */
const CONVEX_LEEWAY_SECS = 10;
const COOKIE_PASSWORD = 'nextjs-e2e-cookie-password-0123456789abcdef';

// Sign-up here finishes at once (uniform_sign_up=false): this file is about the SDK's flow, not the
// uniform sign-up's emailed code, which e2e/tests/50-uniform-sign-up.test.mjs covers.
const gh = useGatehouse({ settings: { access_token_ttl_secs: TTL_SECS, uniform_sign_up: 'false' } });
let backend;
let app;
let appOrigin;
let browser;
let context;
let page;
const report = useFailureReport();
const browserLog = report.log;

before(async () => {
  await gh.ready;
  await putGuideJwtTemplate(gh);
  backend = await startConvexNumbers(gh);
  const appPort = await freePort();
  appOrigin = `http://localhost:${appPort}`;
  await addRedirectUri(gh, `${appOrigin}/callback`);
  // Where authkit-nextjs's signOut() (no returnTo) lands, as WorkOS's dashboard "sign-out redirect".
  const { runCli } = await import('../lib/server.mjs');
  await runCli(['env', 'set', 'development', `sign_out_redirect_uris=${appOrigin}/`, '--data', gh.dataDir]);

  const env = {
    WORKOS_CLIENT_ID: gh.clientId,
    WORKOS_API_KEY: gh.apiKey,
    WORKOS_COOKIE_PASSWORD: COOKIE_PASSWORD,
    WORKOS_API_HOSTNAME: '127.0.0.1',
    WORKOS_API_PORT: String(gh.port),
    WORKOS_API_HTTPS: 'false',
    NEXT_PUBLIC_WORKOS_REDIRECT_URI: `${appOrigin}/callback`,
    NEXT_PUBLIC_CONVEX_URL: backend.url,
  };
  const ms = await buildNextApp(env);
  process.stderr.write(`nextjs-convex: next build took ${ms} ms\n`);
  app = await startNextApp({ port: appPort, env });

  await mkdir(ARTIFACTS, { recursive: true });
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 900, height: 640 } });
  page = await context.newPage();
  page.setDefaultTimeout(20_000);
  page.on('console', (m) => browserLog.push(`[console.${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => browserLog.push(`[pageerror] ${e.message}`));
  page.on('framenavigated', (f) => f === page.mainFrame() && browserLog.push(`[navigated] ${f.url()}`));
  page.on('response', (r) => r.status() >= 400 && browserLog.push(`[${r.status()}] ${r.request().method()} ${r.url()}`));
}, { timeout: 600_000 }); // next build alone can take 80–200 s on a busy 2-core machine

after(async () => {
  report.print({ 'next start output': app?.log(), 'convex-numbers output': backend?.log() });
  await browser?.close().catch(() => {});
  await app?.stop();
  await backend?.stop();
});

const numbersText = () => page.locator('p', { hasText: /^Numbers: / }).textContent();
const numbersShown = async () => {
  const list = (await numbersText()).replace(/^Numbers: /, '');
  return list === 'Click the button!' ? [] : list.split(', ').map(Number);
};
/** Refresh grants Gatehouse answered since `since` (ms): `{at, status}`. */
const refreshesSince = (since) => gh.requests.filter((r) => r.at >= since && r.grantType === 'refresh_token');
/** Grants less than 3 s apart belong to one client refresh (the middleware's and the server action's). */
function refreshRounds(grants) {
  const rounds = [];
  for (const g of grants) {
    const last = rounds.at(-1);
    if (last && g.at - last.at(-1).at < 3000) last.push(g);
    else rounds.push([g]);
  }
  return rounds;
}

/** Clicks "Add a random number" and waits for the list to show one more (up to the query's 10). */
async function addNumber() {
  const count = (await numbersShown()).length;
  await page.getByRole('button', { name: 'Add a random number' }).click();
  await page.waitForFunction((n) => {
    const p = [...document.querySelectorAll('p')].find((e) => e.textContent.startsWith('Numbers: '));
    return p && !p.textContent.includes('Click the button') && p.textContent.split(', ').length === n;
  }, Math.min(count + 1, 10));
}

/**
 * Keeps the page open for `watchSecs`, adding a number every few seconds (a Convex mutation with the
 * page's current token), and checks that the token was kept fresh with about one client refresh per
 * lifetime: never an expired identity at convex-numbers, never a storm.
 */
async function stayOpen(watchSecs, what) {
  const started = Date.now();
  const authErrorsBefore = (await backend.stats()).auth_errors;
  while (Date.now() - started < watchSecs * 1000) {
    await sleep(7_000);
    const text = await page.textContent('body');
    const at = Math.round((Date.now() - started) / 1000);
    assert.ok(text.includes('Welcome Ada Lovelace!'), `${what}: signed out after ${at} s: ${text}`);
    await addNumber().catch((e) => {
      throw new Error(`${what}: a mutation did not go through ${at} s in (token expired and not refreshed?): ${e.message.split('\n')[0]}`);
    });
  }
  const seconds = (Date.now() - started) / 1000;
  const grants = refreshesSince(started);
  const rounds = refreshRounds(grants);
  const lifetimes = seconds / TTL_SECS;
  process.stderr.write(
    `nextjs-convex: ${what}: ${seconds.toFixed(0)} s = ${lifetimes.toFixed(1)} token lifetimes of ${TTL_SECS} s: ` +
      `${rounds.length} client refreshes, ${grants.length} refresh grants (at ${rounds.map((r) => `${((r[0].at - started) / 1000).toFixed(0)} s×${r.length}`).join(', ')})\n`,
  );
  assert.deepEqual(grants.filter((g) => g.status !== 200), [], 'every refresh succeeded');
  assert.equal((await backend.stats()).auth_errors, authErrorsBefore, 'convex-numbers never saw an expired or rejected token');
  // Convex refetches 10 s before expiry: one client refresh per lifetime − 10 s (plus one right after a load).
  assert.ok(rounds.length >= Math.floor(lifetimes), `${rounds.length} client refreshes in ${lifetimes.toFixed(1)} lifetimes: the token was not kept fresh`);
  const most = Math.ceil(seconds / (TTL_SECS - CONVEX_LEEWAY_SECS)) + 1;
  assert.ok(rounds.length <= most, `${rounds.length} client refreshes in ${seconds.toFixed(0)} s (at most ${most}): a refresh storm`);
  // Each is the middleware's refresh of the action's request (< 30 s left) and the action's own.
  assert.ok(rounds.every((r) => r.length <= 2), `a client refresh made more than two grants: ${rounds.map((r) => r.length).join(' ')}`);
}

test('Convex\'s AuthKit guide app for Next.js on Gatehouse + convex-numbers', { timeout: 600_000 }, async (t) => {
  const email = uniqueEmail('nextjs');
  let userId;

  await t.test('signed out: / asks to sign in', async () => {
    await page.goto(`${appOrigin}/`);
    await page.getByText('Log in to see the numbers').waitFor();
    assert.ok(await page.getByRole('button', { name: 'Sign in' }).isVisible());
    assert.ok(await page.getByRole('button', { name: 'Sign up' }).isVisible());
  });

  await t.test('signed out: /server (outside unauthenticatedPaths) redirects to the hosted sign-in page', async () => {
    await page.goto(`${appOrigin}/server`);
    await page.waitForURL((u) => u.origin === gh.baseUrl && u.pathname === '/authkit/sign-in');
  });

  await t.test('sign up through /sign-up and the hosted page → back signed in: "Welcome Ada Lovelace!" and the numbers', async () => {
    await page.goto(`${appOrigin}/`);
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.waitForURL((u) => u.origin === gh.baseUrl && u.pathname === '/authkit/sign-up');
    await page.fill('input[name="first_name"]', 'Ada');
    await page.fill('input[name="last_name"]', 'Lovelace');
    await page.fill('#email', email);
    await page.fill('#password', STRONG_PASSWORD);
    await page.click('form[action="/authkit/sign-up"] button[type="submit"]');
    await page.waitForURL((u) => u.origin === appOrigin && u.pathname === '/');
    await page.getByText('Welcome Ada Lovelace!').waitFor();
    assert.deepEqual(await numbersShown(), []);
    assert.ok(await page.getByRole('button', { name: 'Sign out' }).isVisible());
    assert.ok((await page.textContent('header')).includes(email));
    const users = await confidentialClient(gh).userManagement.listUsers({ email });
    assert.equal(users.data.length, 1);
    userId = users.data[0].id;
  });

  await t.test('adding numbers updates the list without a reload', async () => {
    await page.evaluate(() => (window.__sameDocument = true));
    for (let i = 0; i < 3; i++) await addNumber();
    const shown = await numbersShown();
    assert.equal(shown.length, 3);
    for (const n of shown) assert.ok(Number.isInteger(n) && n >= 0 && n < 10, `the guide adds Math.floor(Math.random() * 10), got ${n}`);
    assert.equal(await page.evaluate(() => window.__sameDocument), true, 'no navigation or reload happened');
    await mkdir(DOCS_IMAGES, { recursive: true });
    await page.screenshot({ path: join(DOCS_IMAGES, 'nextjs-convex.png'), clip: { x: 0, y: 0, width: 900, height: 530 } });
    await page.screenshot({ path: join(ARTIFACTS, 'nextjs-convex.png') });
  });

  await t.test('signed in: /server renders the user on the server (withAuth) and the numbers', async () => {
    const res = await page.goto(`${appOrigin}/server`);
    assert.equal(res.status(), 200);
    const html = (await res.text()).replaceAll('<!-- -->', ''); // React's separators between text nodes
    assert.ok(html.includes(`Signed in as ${email}`), 'the user is in the server-rendered HTML');
    assert.match(html, /&quot;viewer&quot;: &quot;Ada Lovelace&quot;|"viewer": "Ada Lovelace"/, 'fetchQuery with the access token saw the identity');
    await page.getByText(`Signed in as ${email}`).waitFor();
    await page.goto(`${appOrigin}/`);
    await page.getByText('Welcome Ada Lovelace!').waitFor();
  });

  await t.test(`stays signed in across several ${TTL_SECS} s token lifetimes, about one refresh each (open page)`, async () => {
    await stayOpen(3 * TTL_SECS, 'page open');
  });

  await t.test('after a full reload: still signed in, and still about one refresh per lifetime', async () => {
    await page.reload();
    await page.getByText('Welcome Ada Lovelace!').waitFor();
    await stayOpen(2 * TTL_SECS, 'after reload');
  });

  await t.test('sign out returns to the app signed out and ends the session at Gatehouse', async () => {
    // The app's session cookie, unsealed as authkit-nextjs does: the tokens the app holds right now.
    const cookie = (await context.cookies(appOrigin)).find((c) => c.name === 'wos-session');
    assert.ok(cookie, 'signed in: the app has its wos-session cookie');
    const session = await unsealAppSession(cookie.value, COOKIE_PASSWORD);
    const { sid } = JSON.parse(Buffer.from(session.accessToken.split('.')[1], 'base64url').toString('utf8'));
    assert.match(sid, /^session_/);
    const workos = confidentialClient(gh);
    const statusOf = async (id) => (await workos.userManagement.listSessions(userId)).data.find((s) => s.id === id)?.status;
    assert.equal(await statusOf(sid), 'active');

    const clicked = Date.now();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL((u) => u.origin === appOrigin && u.pathname === '/');
    await page.getByText('Log in to see the numbers').waitFor();
    assert.ok(await page.getByRole('button', { name: 'Sign in' }).isVisible());
    assert.equal(await page.getByRole('button', { name: 'Sign out' }).count(), 0, 'no user menu');
    // The browser went through Gatehouse's logout endpoint, which sent it back to the app.
    const logout = gh.requests.filter((r) => r.at >= clicked && r.path === '/user_management/sessions/logout');
    assert.deepEqual(logout.map((r) => r.status), [302], 'one logout request, redirected back to the app');
    assert.equal((await context.cookies(appOrigin)).filter((c) => c.name === 'wos-session').length, 0, 'the app dropped its session cookie');

    // Ended at Gatehouse: the session is revoked and the app's last refresh token is dead.
    assert.equal(await statusOf(sid), 'revoked');
    await rejectsOauth(workos.userManagement.authenticateWithRefreshToken({ clientId: gh.clientId, refreshToken: session.refreshToken }), 'invalid_grant');

    await page.goto(`${appOrigin}/server`);
    await page.waitForURL((u) => u.origin === gh.baseUrl && u.pathname === '/authkit/sign-in');
  });

  await t.test('signing in again through /sign-in works', async () => {
    await page.goto(`${appOrigin}/sign-in`);
    await page.waitForURL((u) => u.origin === gh.baseUrl && u.pathname === '/authkit/sign-in');
    await page.fill('#email', email);
    await page.fill('#password', STRONG_PASSWORD);
    await page.click('form[action="/authkit/sign-in"] button[type="submit"]');
    await page.waitForURL((u) => u.origin === appOrigin && u.pathname === '/');
    await page.getByText('Welcome Ada Lovelace!').waitFor();
    assert.equal((await numbersShown()).length >= 3, true);
  });
});
