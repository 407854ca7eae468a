// Scenario 13 (spec §9, convex-auth.md §4–§5): Convex's AuthKit guide app (examples/react-convex,
// authkit-react + @convex-dev/workos + convex/react, built with Vite) against Gatehouse and the Rust
// backend examples/convex-numbers, in headless Chromium: signed out, sign in through the hosted page,
// "Welcome <name>!" from the JWT template's `name` claim, a mutation updating the subscribed query
// without a reload, staying signed in across several short token lifetimes without a reconnect storm,
// and sign out. The signed-in page is captured to docs/images/react-convex.png.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchChromium, ARTIFACTS, DOCS_IMAGES } from '../lib/browser.mjs';
import { useGatehouse, freePort } from '../lib/server.mjs';
import { addRedirectUri, apiRequest, uniqueEmail, STRONG_PASSWORD, sleep } from '../lib/api.mjs';
import { startConvexNumbers, buildReactApp, serveApp, putGuideJwtTemplate, useFailureReport } from '../lib/react-convex.mjs';


// Access tokens live 40 s (the shortest Gatehouse accepts: shorter ones make the SDKs refresh in a loop).
// authkit-js refreshes 10 s before expiry and the Convex client asks for a new
// token `exp − iat − 10 s` after the server confirmed one, so a healthy page sends one Authenticate
// about every 30 s. A reconnect storm would be dozens.
const TTL_SECS = 40; // the shortest lifetime Gatehouse accepts (domain::environment::MIN_ACCESS_TOKEN_TTL_SECS)
const WATCH_SECS = 100; // two and a half lifetimes

const gh = useGatehouse({ settings: { access_token_ttl_secs: TTL_SECS } });
let backend;
let app;
let appOrigin;
let buildDir;
let browser;
let page;
const report = useFailureReport();
const browserLog = report.log;

before(async () => {
  await gh.ready;
  await putGuideJwtTemplate(gh);

  backend = await startConvexNumbers(gh);
  const appPort = await freePort();
  appOrigin = `http://localhost:${appPort}`;
  buildDir = await mkdtemp(join(tmpdir(), 'react-convex-'));
  const started = Date.now();
  await buildReactApp({
    outDir: buildDir,
    env: {
      VITE_WORKOS_CLIENT_ID: gh.clientId,
      VITE_WORKOS_REDIRECT_URI: `${appOrigin}/callback`,
      VITE_WORKOS_API_HOSTNAME: '127.0.0.1',
      VITE_WORKOS_API_PORT: String(gh.port),
      VITE_CONVEX_URL: backend.url,
    },
  });
  process.stderr.write(`react-convex: vite build took ${Date.now() - started} ms\n`);
  app = await serveApp(buildDir, appPort);
  // CORS needs nothing: the development environment accepts any http://localhost origin.
  await addRedirectUri(gh, `${appOrigin}/callback`);

  await mkdir(ARTIFACTS, { recursive: true });
  browser = await launchChromium();
  const context = await browser.newContext({ viewport: { width: 900, height: 560 } });
  page = await context.newPage();
  page.setDefaultTimeout(15_000);
  page.on('console', (m) => browserLog.push(`[console.${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => browserLog.push(`[pageerror] ${e.message}`));
  page.on('websocket', (ws) => {
    browserLog.push(`[websocket] open ${ws.url()}`);
    ws.on('framesent', (f) => {
      const text = String(f.payload);
      if (text.includes('"Authenticate"')) browserLog.push(`[ws →] ${text.replace(/"value":"[^"]*"/, '"value":"…"')}`);
    });
    ws.on('framereceived', (f) => {
      const text = String(f.payload);
      if (!text.includes('"Ping"')) browserLog.push(`[ws ←] ${text.slice(0, 300)}`);
    });
    ws.on('close', () => browserLog.push(`[websocket] closed ${ws.url()}`));
  });
});

after(async () => {
  report.print({ 'convex-numbers output': backend?.log() });
  await browser?.close().catch(() => {});
  await app?.close();
  await backend?.stop();
  if (buildDir) await rm(buildDir, { recursive: true, force: true });
});

const body = () => page.textContent('body');
const numbersShown = async () => {
  const text = await page.locator('p', { hasText: /^Numbers: / }).textContent();
  const list = text.replace(/^Numbers: /, '');
  return list === 'None' ? [] : list.split(', ').map(Number);
};

test('the AuthKit guide app on Gatehouse + convex-numbers', { timeout: 240_000 }, async (t) => {
  const email = uniqueEmail('convex');
  const created = await apiRequest(gh, 'POST', '/user_management/users', {
    email,
    password: STRONG_PASSWORD,
    first_name: 'Ada',
    last_name: 'Lovelace',
    email_verified: true,
  });
  assert.equal(created.status, 201, `create user: ${created.status} ${created.text}`);

  await t.test('signed out: "Please sign in to view data"', async () => {
    await page.goto(`${appOrigin}/`);
    await page.getByText('Please sign in to view data').waitFor();
    assert.ok(await page.getByRole('button', { name: 'Sign in' }).isVisible());
    await page.screenshot({ path: join(ARTIFACTS, 'react-convex-signed-out.png') });
  });

  await t.test('sign in through the hosted page → "Welcome Ada Lovelace!" and the numbers', async () => {
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((u) => u.origin === gh.baseUrl && u.pathname === '/authkit/sign-in');
    await page.fill('#email', email);
    await page.fill('#password', STRONG_PASSWORD);
    await page.click('form[action="/authkit/sign-in"] button[type="submit"]');
    await page.waitForURL((u) => u.origin === appOrigin && u.pathname === '/callback');
    await page.getByText('Welcome Ada Lovelace!').waitFor();
    assert.deepEqual(await numbersShown(), []);
    assert.ok(await page.getByRole('button', { name: 'Sign out' }).isVisible());
    const stats = await backend.stats();
    assert.ok(stats.authenticate_user >= 1, JSON.stringify(stats));
    assert.equal(stats.auth_errors, 0, JSON.stringify(stats));
  });

  await t.test('adding numbers updates the list without a reload', async () => {
    await page.evaluate(() => (window.__sameDocument = true));
    for (let i = 1; i <= 3; i++) {
      await page.getByRole('button', { name: 'Add a random number' }).click();
      await page.waitForFunction((n) => {
        const p = [...document.querySelectorAll('p')].find((e) => e.textContent.startsWith('Numbers: '));
        return p && p.textContent !== 'Numbers: None' && p.textContent.split(', ').length === n;
      }, i);
    }
    const shown = await numbersShown();
    assert.equal(shown.length, 3);
    for (const n of shown) assert.ok(Number.isInteger(n) && n >= 0 && n < 10, `seed adds Math.floor(Math.random() * 10), got ${n}`);
    assert.equal(await page.evaluate(() => window.__sameDocument), true, 'no navigation or reload happened');
    // The query over HTTP (ConvexHttpClient's shape) agrees with the page.
    const res = await fetch(`${backend.url}/api/query`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ path: 'myFunctions:listNumbers', args: [{ count: 10 }], format: 'convex_encoded_json' }),
    });
    assert.deepEqual(await res.json(), { status: 'success', value: { viewer: null, numbers: shown } });
    await mkdir(DOCS_IMAGES, { recursive: true });
    await page.screenshot({ path: join(DOCS_IMAGES, 'react-convex.png'), clip: { x: 0, y: 0, width: 900, height: 240 } });
    await page.screenshot({ path: join(ARTIFACTS, 'react-convex.png') });
  });

  await t.test(`stays signed in across token expiries (${TTL_SECS} s tokens, ${WATCH_SECS} s) without a reconnect storm`, async () => {
    const before = await backend.stats();
    const started = Date.now();
    let added = 0;
    while (Date.now() - started < WATCH_SECS * 1000) {
      await sleep(5000);
      const text = await body();
      assert.ok(text.includes('Welcome Ada Lovelace!'), `signed out after ${Math.round((Date.now() - started) / 1000)} s: ${text}`);
      // Use the identity now and then: the server re-checks it and sends "Convex token identity expired"
      // once a held token is past its exp, as Convex does.
      const count = (await numbersShown()).length;
      await page.getByRole('button', { name: 'Add a random number' }).click();
      added += 1;
      await page.waitForFunction(
        (n) => {
          const p = [...document.querySelectorAll('p')].find((e) => e.textContent.startsWith('Numbers: '));
          return p && p.textContent.split(', ').length === n;
        },
        Math.min(count + 1, 10),
        { timeout: 20_000 },
      );
    }
    const after = await backend.stats();
    const seconds = (Date.now() - started) / 1000;
    const authenticates = after.authenticate_user - before.authenticate_user;
    const reconnects = after.connections - before.connections;
    process.stderr.write(
      `react-convex: ${seconds.toFixed(0)} s, ${(seconds / TTL_SECS).toFixed(1)} token lifetimes: ${authenticates} Authenticate, ` +
        `${reconnects} new sockets, ${after.auth_errors - before.auth_errors} AuthError, ${after.mutations - before.mutations} mutations\n`,
    );
    assert.equal(after.mutations - before.mutations, added, 'each click ran exactly one mutation (replays after a reconnect are not duplicated)');
    // Fresh tokens were presented: the refresh path through ConvexProviderWithAuthKit works.
    assert.ok(authenticates >= 2, `expected fresh tokens on the socket, got ${authenticates} Authenticate`);
    // About one per refresh interval (TTL − 10 s), plus slack; a storm would be far more.
    const bound = Math.ceil(seconds / (TTL_SECS - 11)) + 3;
    assert.ok(authenticates <= bound, `${authenticates} Authenticate in ${seconds.toFixed(0)} s (bound ${bound}): reconnect storm?`);
    assert.ok(reconnects <= 3, `${reconnects} new WebSocket connections in ${seconds.toFixed(0)} s`);
    assert.ok(!browserLog.some((l) => l.includes('Failed to authenticate')), browserLog.filter((l) => l.includes('Failed')).join('\n'));
    assert.ok((await body()).includes('Welcome Ada Lovelace!'));
  });

  await t.test('sign out → Gatehouse signs the session out → the app shows "Please sign in to view data"', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    // authkit's signOut() without returnTo: Gatehouse shows its own "Signed out" page.
    await page.waitForURL((u) => u.origin === gh.baseUrl && u.pathname === '/user_management/sessions/logout');
    assert.match(await body(), /signed out/i);
    await page.goto(`${appOrigin}/`);
    await page.getByText('Please sign in to view data').waitFor();
    assert.ok(await page.getByRole('button', { name: 'Sign in' }).isVisible());
    assert.equal(await page.evaluate((k) => localStorage.getItem(k), `workos:refresh-token:${gh.clientId}`), null);
  });
});
