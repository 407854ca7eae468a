// Issue 10.3: impersonation end to end. `gatehouse impersonate` prints a one-time link; the operator's
// browser opens it, then the app (authkit-js in headless Chromium, the SDK the React example uses)
// signs in as usual and comes back signed in as the user: the authenticate answer carries
// `impersonator` and `authentication_method: "Impersonation"` (validated against WorkOS's OpenAPI
// document by the wire proxy), the access token an `act` claim naming the operator. The link works
// once, and `allow_impersonation=false` refuses new links.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt } from 'jose';
import { useAppInBrowser, waitReady } from '../lib/browser.mjs';
import { useGatehouse, runCli } from '../lib/server.mjs';
import { apiRequest, uniqueEmail, STRONG_PASSWORD } from '../lib/api.mjs';

const gh = useGatehouse();
const ui = useAppInBrowser(gh);
let app;
let context;
let page;
before(async () => {
  await ui.ready;
  ({ app, context, page } = ui);
});

const impersonate = (user, ...extra) =>
  runCli(['impersonate', user, '--reason', 'Ticket 42', '--operator', 'ops@example.com', '--data', gh.dataDir,
    '--public-url', gh.baseUrl, '--json', ...extra]);

test('an operator signs in to the app as the user, with impersonator and act', { timeout: 120_000 }, async () => {
  const email = uniqueEmail('impersonated');
  const created = await apiRequest(gh, 'POST', '/user_management/users', { email, password: STRONG_PASSWORD });
  assert.equal(created.status, 201, JSON.stringify(created.body));

  const { stdout } = await impersonate(email);
  const link = JSON.parse(stdout);
  assert.equal(link.email, email);
  assert.ok(link.url.startsWith(`${gh.baseUrl}/authkit/impersonate?token=`), link.url);

  // The operator's browser opens the link: it keeps a grant cookie and is sent to the app.
  const opened = await context.request.get(link.url, { maxRedirects: 0 });
  assert.equal(opened.status(), 302);
  // The app starts its own sign-in (its PKCE challenge and state) and comes back as the user.
  const answers = [];
  page.on('response', async (r) => {
    if (r.request().method() === 'POST' && r.url() === `${gh.baseUrl}/user_management/authenticate`) {
      answers.push(await r.json().catch(() => null));
    }
  });
  await page.goto(`${app.origin}/`);
  await waitReady(page);
  await page.click('#sign-in');
  await page.waitForURL((u) => u.origin === app.origin && u.pathname === '/callback');
  await waitReady(page);
  await page.waitForFunction((e) => document.getElementById('user').textContent === e, email);
  const exchange = answers.find((a) => a?.authentication_method);
  assert.ok(exchange, JSON.stringify(answers));
  assert.equal(exchange.authentication_method, 'Impersonation');
  assert.deepEqual(exchange.impersonator, { email: 'ops@example.com', reason: 'Ticket 42' });
  const token = await page.evaluate(() => window.__client.getAccessToken());
  assert.deepEqual(decodeJwt(token).act, { sub: 'ops@example.com' });

  // Listed with the user's sessions as an impersonation.
  const sessions = await apiRequest(gh, 'GET', `/user_management/users/${created.body.id}/sessions`);
  assert.equal(sessions.body.data[0].auth_method, 'impersonation');
  assert.deepEqual(sessions.body.data[0].impersonator, { email: 'ops@example.com', reason: 'Ticket 42' });

  // The link works once.
  const again = await context.request.get(link.url, { maxRedirects: 0 });
  assert.equal(again.status(), 400);
});

test('allow_impersonation=false refuses new links', async () => {
  const email = uniqueEmail('protected');
  await apiRequest(gh, 'POST', '/user_management/users', { email, password: STRONG_PASSWORD });
  await runCli(['env', 'set', 'development', 'allow_impersonation=false', '--data', gh.dataDir]);
  await assert.rejects(impersonate(email), /allow_impersonation/);
  await runCli(['env', 'set', 'development', 'allow_impersonation=true', '--data', gh.dataDir]);
});
