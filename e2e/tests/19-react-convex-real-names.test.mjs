// Issue 11: Convex's AuthKit guide app (examples/react-convex: authkit-react + @convex-dev/workos)
// on real host names, so authkit-js runs without devMode: the app on http://app.example.test:<port>,
// Gatehouse on http://auth.example.test:<port>, both mapped to the loopback in Chromium and treated
// as secure contexts (see 18-authkit-js-cookie-mode). The user stays signed in across reloads through
// the refresh cookie. convex-numbers fetches the JWKS from the same public URL through a small
// forward proxy (HTTP_PROXY), because Node and Rust resolve .test names through DNS, not Chromium.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchChromium, realNames, ARTIFACTS } from '../lib/browser.mjs';
import { useGatehouse, freePort } from '../lib/server.mjs';
import { addRedirectUri, addCorsOrigin, apiRequest, uniqueEmail, STRONG_PASSWORD } from '../lib/api.mjs';
import { startConvexNumbers, buildReactApp, serveApp, putGuideJwtTemplate, useFailureReport } from '../lib/react-convex.mjs';

const gh = useGatehouse({ publicHost: 'auth.example.test' });
let api;
let proxy;
let backend;
let app;
let appOrigin;
let buildDir;
let browser;
let context;
let page;
const report = useFailureReport();
const browserLog = report.log;
/** The cookie-mode cookies in the browser (the hosted pages' own cookies left out). */
const sessionCookies = async () =>
  (await context.cookies()).map((c) => c.name).filter((n) => n.startsWith('gatehouse_refresh_') || n === 'workos-has-session').sort();

/** A forward proxy that sends requests for auth.example.test to the loopback. */
async function startLoopbackProxy() {
  const server = http.createServer((req, res) => {
    const target = new URL(req.url);
    if (target.hostname !== 'auth.example.test') {
      res.writeHead(502);
      res.end();
      return;
    }
    const up = http.request({ host: '127.0.0.1', port: target.port, path: target.pathname + target.search, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(() => r()); }) };
}

before(async () => {
  await gh.ready;
  api = { ...gh, baseUrl: `http://127.0.0.1:${gh.port}` };
  await putGuideJwtTemplate(api);
  proxy = await startLoopbackProxy();
  backend = await startConvexNumbers(gh, { HTTP_PROXY: proxy.url, http_proxy: proxy.url, NO_PROXY: '', no_proxy: '' });
  const appPort = await freePort();
  appOrigin = `http://app.example.test:${appPort}`;
  buildDir = await mkdtemp(join(tmpdir(), 'react-convex-names-'));
  await buildReactApp({
    outDir: buildDir,
    env: {
      VITE_WORKOS_CLIENT_ID: gh.clientId,
      VITE_WORKOS_REDIRECT_URI: `${appOrigin}/callback`,
      VITE_WORKOS_API_HOSTNAME: 'auth.example.test',
      VITE_WORKOS_API_PORT: String(gh.port),
      VITE_CONVEX_URL: backend.url,
    },
  });
  app = await serveApp(buildDir, appPort);
  await addRedirectUri(api, `${appOrigin}/callback`);
  await addCorsOrigin(api, appOrigin);
  await mkdir(ARTIFACTS, { recursive: true });
  browser = await launchChromium(realNames(['app.example.test', 'auth.example.test'], [appOrigin, gh.baseUrl]));
  context = await browser.newContext({ viewport: { width: 900, height: 560 } });
  page = await context.newPage();
  page.setDefaultTimeout(15_000);
  page.on('console', (m) => browserLog.push(`[console.${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => browserLog.push(`[pageerror] ${e.message}`));
  page.on('response', (r) => {
    if (r.url().startsWith(gh.baseUrl)) browserLog.push(`[response] ${r.status()} ${r.request().method()} ${r.url()}`);
  });
});

after(async () => {
  report.print({ 'convex-numbers output': backend?.log() });
  await browser?.close().catch(() => {});
  await app?.close();
  await backend?.stop();
  await proxy?.close();
  if (buildDir) await rm(buildDir, { recursive: true, force: true });
});

test('the AuthKit guide app on real host names stays signed in across reloads', { timeout: 180_000 }, async (t) => {
  const email = uniqueEmail('convex-names');
  const created = await apiRequest(api, 'POST', '/user_management/users', {
    email, password: STRONG_PASSWORD, first_name: 'Ada', last_name: 'Lovelace', email_verified: true,
  });
  assert.equal(created.status, 201, created.text);

  await t.test('sign in through the hosted page → "Welcome Ada Lovelace!", cookies set, no token in localStorage', async () => {
    await page.goto(`${appOrigin}/`);
    await page.getByText('Please sign in to view data').waitFor();
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((u) => u.origin === gh.baseUrl && u.pathname === '/authkit/sign-in');
    await page.fill('#email', email);
    await page.fill('#password', STRONG_PASSWORD);
    await page.click('form[action="/authkit/sign-in"] button[type="submit"]');
    await page.waitForURL((u) => u.origin === appOrigin && u.pathname === '/callback');
    await page.getByText('Welcome Ada Lovelace!').waitFor();
    assert.deepEqual(await sessionCookies(), [`gatehouse_refresh_${gh.clientId}`, 'workos-has-session']);
    const stored = await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('workos:refresh-token')));
    assert.deepEqual(stored, []);
  });

  for (const n of [1, 2]) {
    await t.test(`reload ${n}: still "Welcome Ada Lovelace!", and a mutation runs`, async () => {
      await page.reload();
      await page.getByText('Welcome Ada Lovelace!').waitFor();
      await page.getByRole('button', { name: 'Add a random number' }).click();
      await page.waitForFunction((k) => {
        const p = [...document.querySelectorAll('p')].find((e) => e.textContent.startsWith('Numbers: '));
        return p && p.textContent !== 'Numbers: None' && p.textContent.split(', ').length === k;
      }, n);
    });
  }
  await page.screenshot({ path: join(ARTIFACTS, 'react-convex-real-names.png') });

  await t.test('sign out → cookies gone → signed out after a reload', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL((u) => u.origin === gh.baseUrl && u.pathname === '/user_management/sessions/logout');
    assert.deepEqual(await sessionCookies(), []);
    await page.goto(`${appOrigin}/`);
    await page.getByText('Please sign in to view data').waitFor();
  });
});
