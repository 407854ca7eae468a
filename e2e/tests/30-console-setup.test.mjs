// Issue 16: the seed's setup walked entirely in the console (/dashboard) on a fresh server, in headless
// Chromium: an operator link (`gatehouse operators add`), the operator's password, sign-in through
// Gatehouse's own hosted page, copying the client ID from the Quick start, adding a redirect URI and a CORS
// origin, setting the JWT template with `aud`, creating an API key and the production environment. Then
// Convex's AuthKit guide app (examples/react-convex) is built with what the console showed and signs a
// user in. Every console page is free of console errors and is captured at 375 and 1280 px wide
// (docs/images/console-*.png with UPDATE_DOCS_IMAGES=1).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchChromium, ARTIFACTS, DOCS_IMAGES } from '../lib/browser.mjs';
import { useGatehouse, freePort, runCli } from '../lib/server.mjs';
import { captureConsolePage, OPERATOR_PASSWORD } from '../lib/console.mjs';
import { apiRequest, uniqueEmail, STRONG_PASSWORD } from '../lib/api.mjs';
import { startConvexNumbers, buildReactApp, serveApp, useFailureReport } from '../lib/react-convex.mjs';

const gh = useGatehouse();
const OPERATOR = 'ops@example.com';

let browser;
let context;
let page;
let backend;
let app;
let appOrigin;
let buildDir;
const report = useFailureReport();
const browserLog = report.log;
/** Console errors and failed requests seen on console pages. */
const consoleErrors = [];

before(async () => {
  await gh.ready;
  const appPort = await freePort();
  appOrigin = `http://localhost:${appPort}`;
  await mkdir(ARTIFACTS, { recursive: true });
  await mkdir(DOCS_IMAGES, { recursive: true });
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: gh.baseUrl });
  page = await context.newPage();
  page.setDefaultTimeout(15_000);
  page.on('console', (m) => {
    browserLog.push(`[console.${m.type()}] ${m.text()}`);
    // A form refused on purpose answers 422, which Chromium logs as a failed resource.
    const refused = m.text().includes('status of 422');
    if (m.type() === 'error' && page.url().includes('/dashboard') && !refused) consoleErrors.push(`${page.url()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => {
    browserLog.push(`[pageerror] ${e.message}`);
    consoleErrors.push(`${page.url()}: ${e.message}`);
  });
});

after(async () => {
  report.print({ 'convex-numbers output': backend?.log() });
  await browser?.close().catch(() => {});
  await app?.close();
  await backend?.stop();
  if (buildDir) await rm(buildDir, { recursive: true, force: true });
});

/** Screenshots of the current page at 375 and 1280 px; it must not scroll sideways at either. */
const capture = (name) => captureConsolePage(page, name, { wide: true });

const flash = () => page.locator('.notice[role=status]').textContent();

test('the seed sets up an app in the console, then signs a user in to the React example', { timeout: 300_000 }, async (t) => {
  let clientId;
  let devKey;

  await t.test('an operator link creates the operator; sign-in goes through the hosted page', async () => {
    const { stdout } = await runCli(['operators', 'add', OPERATOR, '--data', gh.dataDir, '--public-url', gh.baseUrl, '--json']);
    const { link } = JSON.parse(stdout);
    assert.ok(link.startsWith(`${gh.baseUrl}/dashboard/setup?token=`), link);
    // Without a session the console sends the browser to sign-in.
    await page.goto(`${gh.baseUrl}/dashboard`);
    await page.waitForURL((u) => u.pathname === '/authkit/sign-in');
    await page.goto(link);
    assert.equal(await page.inputValue('#email'), OPERATOR);
    await page.fill('#password', OPERATOR_PASSWORD);
    await page.fill('#password_confirmation', OPERATOR_PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByText('You are an operator').waitFor();
    await page.getByRole('link', { name: 'Sign in' }).click();
    await page.waitForURL((u) => u.pathname === '/authkit/sign-in');
    await page.screenshot({ path: join(DOCS_IMAGES, 'console-sign-in.png') });
    await page.fill('#email', OPERATOR);
    await page.fill('#password', OPERATOR_PASSWORD);
    await page.click('form[action="/authkit/sign-in"] button[type="submit"]');
    await page.waitForURL((u) => u.pathname === '/dashboard');
    await page.getByRole('heading', { name: 'Home' }).waitFor();
    const cookie = (await context.cookies()).find((c) => c.name === 'gatehouse_console');
    assert.ok(cookie && cookie.httpOnly && cookie.sameSite === 'Strict', JSON.stringify(cookie));
    await capture('home');
  });

  await t.test('Quick start: copy the client ID', async () => {
    await page.getByRole('link', { name: /development/ }).first().click();
    await page.getByRole('heading', { name: 'Quick start' }).waitFor();
    await page.getByRole('button', { name: 'Copy' }).first().click();
    await page.getByRole('button', { name: 'Copied' }).first().waitFor();
    clientId = await page.evaluate(() => navigator.clipboard.readText());
    assert.equal(clientId, gh.clientId);
    assert.match(await page.textContent('body'), new RegExp(`VITE_WORKOS_CLIENT_ID=${clientId}`));
    await capture('quick-start');
  });

  await t.test('add the redirect URI and the CORS origin (and see the API\'s validation)', async () => {
    await page.getByRole('link', { name: 'Redirects' }).click();
    await page.fill('#value', 'not a url');
    await page.getByRole('button', { name: 'Add' }).click();
    await page.locator('#form-error').waitFor();
    await page.fill('#value', `${appOrigin}/callback`);
    await page.getByRole('button', { name: 'Add' }).click();
    assert.equal(await flash(), `Added ${appOrigin}/callback.`);
    await capture('redirects');
    await page.getByRole('link', { name: 'CORS' }).click();
    await page.fill('#value', appOrigin);
    await page.getByRole('button', { name: 'Add' }).click();
    assert.equal(await flash(), `Added ${appOrigin}.`);
    await capture('cors');
  });

  await t.test('set the JWT template with aud (an invalid one is refused first)', async () => {
    await page.getByRole('link', { name: 'JWT template' }).click();
    await page.fill('#content', '{"aud": ');
    await page.getByRole('button', { name: 'Save template' }).click();
    await page.locator('#form-error').waitFor();
    await page.fill('#content', JSON.stringify({ aud: clientId, name: '{{ user.first_name }} {{ user.last_name }}' }));
    await page.getByRole('button', { name: 'Save template' }).click();
    assert.equal(await flash(), 'JWT template saved.');
    await capture('jwt-template');
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('heading', { name: 'Settings' }).waitFor();
    await capture('settings');
    await page.getByRole('link', { name: 'Signing keys' }).click();
    await page.getByRole('heading', { name: 'Signing keys' }).waitFor();
    await capture('signing-keys');
    await page.getByRole('link', { name: 'Email', exact: true }).click();
    await page.getByRole('heading', { name: 'Email', exact: true }).waitFor();
    await capture('email');
  });

  await t.test('create an API key (shown once) and the production environment', async () => {
    await page.getByRole('link', { name: 'API keys' }).click();
    await page.getByRole('button', { name: 'Create API key' }).click();
    devKey = (await page.locator('#api-key').textContent()).trim();
    assert.match(devKey, /^sk_test_/);
    await capture('api-keys');
    await page.reload();
    assert.ok(!(await page.textContent('body')).includes(devKey), 'the key is shown once');
    await page.getByRole('link', { name: 'Environments' }).click();
    await page.getByRole('button', { name: 'Create production environment' }).click();
    const liveKey = (await page.locator('#issued-key').textContent()).trim();
    assert.match(liveKey, /^sk_live_/);
    const prodClient = (await page.locator('#issued-client').textContent()).trim();
    const res = await apiRequest({ ...gh, apiKey: liveKey }, 'GET', '/user_management/users');
    assert.equal(res.status, 200, 'the production key works');
    assert.notEqual(prodClient, clientId);
    await capture('environments');
    await page.locator('nav.envs').getByRole('link', { name: 'production' }).click();
    await page.getByRole('heading', { name: 'Quick start' }).waitFor();
    assert.ok((await page.textContent('body')).includes(prodClient));
    assert.deepEqual(consoleErrors, []);
  });

  await t.test('the React example signs a user in with what the console configured', async () => {
    const email = uniqueEmail('console');
    const created = await apiRequest({ ...gh, apiKey: devKey }, 'POST', '/user_management/users', {
      email, password: STRONG_PASSWORD, first_name: 'Grace', last_name: 'Hopper', email_verified: true,
    });
    assert.equal(created.status, 201, `create user with the console's key: ${created.status} ${created.text}`);
    // The JWT template's preview shows what this user's token will carry.
    await page.goto(`${gh.baseUrl}/dashboard/env/development/jwt-template`);
    await page.fill('#preview', email);
    await page.getByRole('button', { name: 'Preview' }).click();
    const claims = JSON.parse(await page.locator('#preview-claims').textContent());
    assert.equal(claims.aud, clientId);
    assert.equal(claims.name, 'Grace Hopper');
    await capture('jwt-template');
    assert.deepEqual(consoleErrors, []);
    backend = await startConvexNumbers(gh);
    buildDir = await mkdtemp(join(tmpdir(), 'console-react-'));
    await buildReactApp({
      outDir: buildDir,
      env: {
        VITE_WORKOS_CLIENT_ID: clientId,
        VITE_WORKOS_REDIRECT_URI: `${appOrigin}/callback`,
        VITE_WORKOS_API_HOSTNAME: '127.0.0.1',
        VITE_WORKOS_API_PORT: String(gh.port),
        VITE_CONVEX_URL: backend.url,
      },
    });
    app = await serveApp(buildDir, Number(new URL(appOrigin).port));
    const appPage = await context.newPage();
    appPage.on('console', (m) => browserLog.push(`[app console.${m.type()}] ${m.text()}`));
    await appPage.goto(`${appOrigin}/`);
    await appPage.getByRole('button', { name: 'Sign in' }).click();
    await appPage.waitForURL((u) => u.origin === gh.baseUrl && u.pathname === '/authkit/sign-in');
    await appPage.fill('#email', email);
    await appPage.fill('#password', STRONG_PASSWORD);
    await appPage.click('form[action="/authkit/sign-in"] button[type="submit"]');
    await appPage.waitForURL((u) => u.origin === appOrigin && u.pathname === '/callback');
    await appPage.getByText('Welcome Grace Hopper!').waitFor();
    const stats = await backend.stats();
    assert.ok(stats.authenticate_user >= 1 && stats.auth_errors === 0, JSON.stringify(stats));
    await appPage.close();
  });
});
