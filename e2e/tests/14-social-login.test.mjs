// Social login (issue 6) against real upstreams: panva oidc-provider (a certified OpenID Provider)
// configured as GoogleOAuth, and a GitHub-style OAuth 2.0 server configured as GitHubOAuth with the CLI.
// Sign-ins run in headless Chromium through the hosted page's buttons and through `provider=` directly;
// the user and its identities are then read with @workos-inc/node. Also: unverified email, the user
// cancelling at the provider, and a tampered state. (ID-token failures are in the Rust suite.)

import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { launchChromium, ARTIFACTS, DOCS_IMAGES } from '../lib/browser.mjs';
import { useGatehouse, runCli, freePort } from '../lib/server.mjs';
import http from 'node:http';
import { apiRequest, confidentialClient, ensureRedirectUri, sdkAuthorizeUrl } from '../lib/api.mjs';
import { startOidcProvider, startGitHubLike, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET } from '../lib/upstream.mjs';

// The app's callback: a tiny server that only says "app callback" (the tests read the URL).
let REDIRECT_URI;
let appServer;

const gh = useGatehouse();
let op;
let github;
let browser;
const browserLog = [];
let failed = false;

before(async () => {
  await gh.ready;
  const appPort = await freePort();
  appServer = http.createServer((req, res) => res.writeHead(200, { 'Content-Type': 'text/html' }).end('<p>app callback</p>'));
  await new Promise((r) => appServer.listen(appPort, '127.0.0.1', r));
  REDIRECT_URI = `http://127.0.0.1:${appPort}/callback`;
  await ensureRedirectUri(gh, REDIRECT_URI);
  op = await startOidcProvider({ redirectUris: [`${gh.baseUrl}/authkit/callback/GoogleOAuth`] });
  github = await startGitHubLike();
  // GoogleOAuth with every endpoint discovered from oidc-provider's issuer, through the API…
  const res = await apiRequest(gh, 'POST', '/user_management/providers', {
    name: 'GoogleOAuth',
    client_id: OIDC_CLIENT_ID,
    client_secret: OIDC_CLIENT_SECRET,
    issuer: op.issuer,
  });
  assert.equal(res.status, 201, res.text);
  assert.equal(res.body.callback_url, `${gh.baseUrl}/authkit/callback/GoogleOAuth`);
  assert.ok(!res.text.includes(OIDC_CLIENT_SECRET), 'the secret is never echoed');
  // …and GitHubOAuth with its endpoints pointed at the fake, through the CLI while the server runs.
  await runCli([
    'providers', 'add', 'GitHubOAuth', '--data', gh.dataDir, '--public-url', gh.baseUrl,
    '--client-id', github.clientId, '--client-secret', github.clientSecret,
    '--authorize-url', `${github.base}/login/oauth/authorize`, '--token-url', `${github.base}/login/oauth/access_token`,
    '--userinfo-url', `${github.base}/user`, '--emails-url', `${github.base}/user/emails`,
  ]);
  await mkdir(ARTIFACTS, { recursive: true });
  browser = await launchChromium();
});

afterEach((t) => {
  if (!t.passed) failed = true;
});

after(async () => {
  if (failed) process.stderr.write(`\n===== browser log =====\n${browserLog.join('\n')}\n===== end of browser log =====\n`);
  await browser?.close().catch(() => {});
  await op?.close();
  await github?.close();
  await new Promise((r) => (appServer ? appServer.close(r) : r()));
});

/** A fresh browser (no cookies at Gatehouse or at the provider) whose app callback Playwright answers. */
async function newPage() {
  const context = await browser.newContext({ viewport: { width: 1100, height: 820 } });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  page.on('pageerror', (e) => browserLog.push(`[pageerror] ${e.message}`));
  page.on('response', (r) => browserLog.push(`[response] ${r.status()} ${r.request().method()} ${r.url()}`));
  return page;
}

const isAppCallback = (u) => u.href.startsWith(REDIRECT_URI);

/** Signs in at oidc-provider's development login and consent pages. */
async function oidcLogin(page, login) {
  await page.waitForURL((u) => u.origin === op.issuer);
  await page.fill('input[name=login]', login);
  await page.fill('input[name=password]', 'anything');
  await page.click('button[type=submit]');
  await page.waitForSelector('input[name=prompt][value=consent]', { state: 'attached' });
  await page.click('button[type=submit]');
}

/** The app's side: the code from the callback URL, exchanged with the node SDK (API key). */
async function exchange(page, expectedState) {
  await page.waitForURL(isAppCallback);
  const url = new URL(page.url());
  assert.equal(url.searchParams.get('error'), null, url.href);
  assert.equal(url.searchParams.get('state'), expectedState);
  return confidentialClient(gh).userManagement.authenticateWithCode({ code: url.searchParams.get('code'), clientId: gh.clientId });
}

const authorizeUrl = (options) => sdkAuthorizeUrl(gh, REDIRECT_URI, options);

let alice;

test('the hosted sign-in page shows a button per provider, then GoogleOAuth signs in through oidc-provider', async () => {
  const page = await newPage();
  await page.goto(await authorizeUrl({ provider: 'authkit', state: 'st-hosted' }));
  await page.waitForURL((u) => u.pathname === '/authkit/sign-in');
  const google = page.locator('a.social-button', { hasText: 'Continue with Google' });
  const githubButton = page.locator('a.social-button', { hasText: 'Continue with GitHub' });
  assert.equal(await google.count(), 1);
  assert.equal(await githubButton.count(), 1);
  await page.screenshot({ path: join(ARTIFACTS, 'sign-in-social.png') });
  await page.screenshot({ path: join(DOCS_IMAGES, 'sign-in-social.png') });
  await page.goto(await authorizeUrl({ provider: 'authkit', state: 'st-hosted', screenHint: 'sign-up' }));
  await page.waitForURL((u) => u.pathname === '/authkit/sign-up');
  assert.equal(await page.locator('a.social-button').count(), 2, 'the sign-up page has the buttons too');
  await page.screenshot({ path: join(ARTIFACTS, 'sign-up-social.png') });

  await page.goto(await authorizeUrl({ provider: 'authkit', state: 'st-hosted' }));
  await page.click('a.social-button:has-text("Continue with Google")');
  await oidcLogin(page, 'alice');
  const auth = await exchange(page, 'st-hosted');
  assert.equal(auth.authenticationMethod, 'GoogleOAuth');
  assert.equal(auth.user.email, 'alice@example.test');
  assert.equal(auth.user.emailVerified, true);
  assert.equal(auth.user.firstName, 'Oidc');
  alice = auth.user;
  const identities = await confidentialClient(gh).userManagement.getUserIdentities(alice.id);
  assert.deepEqual(identities, [{ idpId: 'alice', type: 'OAuth', provider: 'GoogleOAuth' }]);
  await page.context().close();
});

test('provider=GoogleOAuth goes straight to the provider with provider_scopes and login_hint', async () => {
  const page = await newPage();
  const upstreamAuthorize = [];
  page.on('request', (r) => {
    if (r.url().startsWith(`${op.issuer}/auth?`)) upstreamAuthorize.push(new URL(r.url()));
  });
  const url = await authorizeUrl({ provider: 'GoogleOAuth', state: 'st-direct', loginHint: 'carol@example.test', providerScopes: ['offline_access', 'email'] });
  assert.match(url, /provider_scopes=offline_access&provider_scopes=email/, 'the SDK sends the repeated form');
  await page.goto(url);
  await oidcLogin(page, 'carol');
  const auth = await exchange(page, 'st-direct');
  assert.equal(auth.authenticationMethod, 'GoogleOAuth');
  assert.equal(auth.user.email, 'carol@example.test');
  assert.equal(upstreamAuthorize.length, 1);
  const q = upstreamAuthorize[0].searchParams;
  assert.equal(q.get('scope'), 'openid email profile offline_access');
  assert.equal(q.get('login_hint'), 'carol@example.test');
  assert.equal(q.get('code_challenge_method'), 'S256');
  assert.ok(q.get('nonce') && q.get('state'));
  assert.notEqual(q.get('state'), 'st-direct', 'the upstream state is Gatehouse\'s own');
  await page.context().close();
});

test('GitHubOAuth (plain OAuth 2.0): the primary verified email links the second provider to the same user', async () => {
  assert.ok(alice, 'needs the first test');
  github.state.account = {
    id: 9001,
    login: 'alice-gh',
    name: 'Alice Hub',
    emails: [
      { email: 'alice-old@example.test', primary: false, verified: false },
      { email: 'alice@example.test', primary: true, verified: true },
    ],
  };
  const page = await newPage();
  await page.goto(await authorizeUrl({ provider: 'GitHubOAuth', state: 'st-gh' }));
  const auth = await exchange(page, 'st-gh');
  assert.equal(auth.authenticationMethod, 'GitHubOAuth');
  assert.equal(auth.user.id, alice.id, 'linked to the existing user');
  const identities = await confidentialClient(gh).userManagement.getUserIdentities(alice.id);
  assert.deepEqual(identities, [
    { idpId: 'alice', type: 'OAuth', provider: 'GoogleOAuth' },
    { idpId: '9001', type: 'OAuth', provider: 'GitHubOAuth' },
  ]);
  await page.context().close();
});

test('an unverified upstream email is neither linked nor used to create a user', async () => {
  const page = await newPage();
  await page.goto(await authorizeUrl({ provider: 'GoogleOAuth', state: 'st-unverified' }));
  const response = page.waitForResponse((r) => r.url().startsWith(`${gh.baseUrl}/authkit/callback/GoogleOAuth`));
  await oidcLogin(page, 'unverified-dan');
  assert.equal((await response).status(), 403);
  await page.waitForSelector('h1:has-text("needs to be verified")');
  assert.match(await page.textContent('main'), /did not link/);
  await page.screenshot({ path: join(ARTIFACTS, 'social-unverified.png') });
  const users = await confidentialClient(gh).userManagement.listUsers({ email: 'unverified-dan@example.test' });
  assert.equal(users.data.length, 0);
  await page.context().close();
});

test('cancelling at the provider returns access_denied and the state to the app', async () => {
  const page = await newPage();
  await page.goto(await authorizeUrl({ provider: 'GoogleOAuth', state: 'st-cancel' }));
  await page.waitForURL((u) => u.origin === op.issuer);
  await page.click('a:has-text("[ Cancel ]")');
  await page.waitForURL(isAppCallback);
  const url = new URL(page.url());
  assert.equal(url.searchParams.get('error'), 'access_denied');
  assert.equal(url.searchParams.get('state'), 'st-cancel');
  assert.ok(url.searchParams.get('error_description'));
  assert.equal(url.searchParams.get('code'), null);
  await page.context().close();
});

test('a tampered or replayed callback gets a clear page, not a 500', async () => {
  const page = await newPage();
  let callbackUrl;
  page.on('request', (r) => {
    if (r.url().startsWith(`${gh.baseUrl}/authkit/callback/`)) callbackUrl = r.url();
  });
  await page.goto(await authorizeUrl({ provider: 'GoogleOAuth', state: 'st-tamper' }));
  await oidcLogin(page, 'erin');
  await exchange(page, 'st-tamper');
  assert.ok(callbackUrl, 'the provider redirected back');
  const forged = new URL(callbackUrl);
  forged.searchParams.set('state', `${forged.searchParams.get('state')}x`);
  const response = await page.goto(forged.href);
  assert.equal(response.status(), 400);
  await page.waitForSelector('h1:has-text("expired or was already used")');
  const replay = await page.goto(callbackUrl);
  assert.equal(replay.status(), 400, 'a callback works once');
  await page.context().close();
});
