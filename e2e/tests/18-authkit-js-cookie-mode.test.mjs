// Issue 11: authkit-js outside devMode, as on a real deployment. The app runs on
// http://app.example.test:<port> and Gatehouse on http://auth.example.test:<port>, both mapped to the
// loopback in Chromium (--host-resolver-rules) and treated as secure contexts
// (--unsafely-treat-insecure-origin-as-secure) rather than behind a local TLS proxy: the cookies'
// https attributes (Secure, __Host-) are covered by the Rust tests, and plain http keeps the wire
// proxy's schema check in the path. authkit-js then keeps the refresh token in memory only, refreshes
// with `credentials: "include"` and no token in the body, and decides on page load from the readable
// `workos-has-session` cookie. Covered: sign-in, reloads, switchToOrganization (a cookie refresh with
// organization_id), a new tab, two tabs over several short access-token lifetimes, pages on other sites
// (cross-site and a sibling host) that try the cookie, sign-out both ways (navigating to the logout
// URL, and signOut({ navigate: false }): a no-cors fetch) with both cookies gone, and a server log
// (at trace level) that holds none of the tokens the browser was given.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { decodeJwt } from 'jose';
import { launchChromium, realNames, waitReady, watchAuthenticate, ARTIFACTS } from '../lib/browser.mjs';
import { startApp } from '../lib/app.mjs';
import { useGatehouse } from '../lib/server.mjs';
import { addRedirectUri, addCorsOrigin, apiRequest, uniqueEmail, sleep, STRONG_PASSWORD } from '../lib/api.mjs';

// The server logs everything it logs at all: no token may appear even there.
process.env.GATEHOUSE_LOG = 'trace';
const TTL_SECS = 40; // the shortest Gatehouse accepts; authkit-js refreshes 10 s before expiry: one refresh every ~30 s per tab
const gh = useGatehouse({ publicHost: 'auth.example.test', settings: { access_token_ttl_secs: TTL_SECS } });
let api; // the same server for Node's own calls, which cannot resolve the .test names
let app;
let evil;
let browser;
let context;
let page;
const log = [];
const email = uniqueEmail('cookie-mode');
let userId;
/** Every refresh and access token a page received (authenticate answers, cookies): none may be logged. */
const tokensSeen = new Set();

/** Pages of other sites: `/` does nothing; the test runs the attacks with page.evaluate. */
async function startEvil() {
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>Elsewhere</title><h1>Another site</h1>');
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { port: server.address().port, close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(() => r()); }) };
}

before(async () => {
  await gh.ready;
  api = { ...gh, baseUrl: `http://127.0.0.1:${gh.port}` };
  app = await startApp({ apiPort: gh.port, clientId: gh.clientId, nonce: 'n', host: 'app.example.test', apiHostname: 'auth.example.test' });
  evil = await startEvil();
  await addRedirectUri(api, app.redirectUri);
  await addCorsOrigin(api, app.origin);
  const res = await apiRequest(api, 'POST', '/user_management/users', { email, password: STRONG_PASSWORD, first_name: 'Cookie' });
  assert.equal(res.status, 201, res.text);
  userId = res.body.id;
  await mkdir(ARTIFACTS, { recursive: true });
  const origins = [app.origin, gh.baseUrl, `http://evil.other.test:${evil.port}`, `http://evil.example.test:${evil.port}`];
  browser = await launchChromium(realNames(['app.example.test', 'auth.example.test', 'evil.other.test', 'evil.example.test'], origins));
  context = await browser.newContext({ viewport: { width: 1100, height: 760 } });
  page = await openPage();
});

after(async () => {
  if (process.exitCode) process.stderr.write(`\n===== browser log =====\n${log.join('\n')}\n=====\n`);
  await context?.close().catch(() => {});
  await browser?.close().catch(() => {});
  await app?.close();
  await evil?.close();
});

async function openPage() {
  const p = await context.newPage();
  p.setDefaultTimeout(15_000);
  p.on('console', (m) => log.push(`[console.${m.type()}] ${m.text()}`));
  p.on('pageerror', (e) => log.push(`[pageerror] ${e.message}`));
  p.on('response', (r) => {
    if (!r.url().startsWith(gh.baseUrl)) return;
    log.push(`[response] ${r.status()} ${r.request().method()} ${r.url()}`);
    if (r.url() === `${gh.baseUrl}/user_management/authenticate` && r.status() === 200) {
      r.json().then((b) => [b.access_token, b.refresh_token].forEach((t) => t && tokensSeen.add(t))).catch(() => {});
    }
  });
  return p;
}

async function showsUser(p, expected) {
  await waitReady(p);
  await p.waitForFunction((e) => document.getElementById('user').textContent === e, expected);
}

/** Signs in from the app's button through the hosted page, picking `organization` if the picker asks. */
async function signIn(p, organization) {
  await p.click('#sign-in');
  await p.waitForURL((u) => u.origin === gh.baseUrl && u.pathname === '/authkit/sign-in');
  await p.fill('#email', email);
  await p.fill('#password', STRONG_PASSWORD);
  await p.click('form[action="/authkit/sign-in"] button[type="submit"]');
  const atCallback = (u) => u.origin === app.origin && u.pathname === '/callback';
  await p.waitForURL((u) => atCallback(u) || (u.origin === gh.baseUrl && u.pathname === '/authkit/organization'));
  if (new URL(p.url()).pathname === '/authkit/organization') {
    assert.ok(organization, 'the organization picker was not expected');
    await p.click(`button.organization:has-text("${organization}")`);
    await p.waitForURL(atCallback);
  }
  await showsUser(p, email);
}

/** The page's current access token (authkit-js's, no refresh forced) and its claims. */
async function accessClaims(p) {
  const token = await p.evaluate(() => window.__client.getAccessToken());
  tokensSeen.add(token);
  return decodeJwt(token);
}

const refreshName = () => `gatehouse_refresh_${gh.clientId}`;
async function cookies() {
  const all = await context.cookies();
  return { refresh: all.find((c) => c.name === refreshName()), hasSession: all.find((c) => c.name === 'workos-has-session') };
}

/** The refresh token as the browser holds it now (for checks only; pages cannot read it). */
async function currentRefresh() {
  const value = (await cookies()).refresh?.value;
  if (value) tokensSeen.add(value);
  return value;
}

/**
 * After a sign-out: both cookies are gone, the last refresh token `last` is refused in the body and
 * as the cookie (sent as the app's page would), and a reload of `p` stays signed out without trying
 * a refresh.
 */
async function assertSignedOut(p, last, sid) {
  const { refresh, hasSession } = await cookies();
  assert.equal(refresh, undefined, 'the refresh cookie is gone');
  assert.equal(hasSession, undefined, 'workos-has-session is gone');
  const grant = { grant_type: 'refresh_token', client_id: gh.clientId };
  const inBody = await apiRequest(api, 'POST', '/user_management/authenticate', { ...grant, refresh_token: last }, { key: null });
  assert.equal(inBody.status, 400, inBody.text);
  assert.equal(inBody.body.error, 'invalid_grant', `session ${sid}: ${inBody.text}`);
  const asCookie = await apiRequest(api, 'POST', '/user_management/authenticate', grant,
    { key: null, headers: { Origin: app.origin, Cookie: `${refreshName()}=${last}` } });
  assert.equal(asCookie.status, 400, asCookie.text);
  assert.equal(asCookie.body.error, 'invalid_grant', asCookie.text);
  const auth = watchAuthenticate(p, gh);
  await p.reload();
  await showsUser(p, 'signed out');
  auth.stop();
  assert.equal(auth.posts.length, 0);
}

test('authkit-js without devMode on real names: cookies, reloads, tabs, other sites, sign-out', { timeout: 240_000 }, async (t) => {
  await t.test('signed out at first: no cookie, no refresh attempt', async () => {
    const auth = watchAuthenticate(page);
    await page.goto(`${app.origin}/`);
    await showsUser(page, 'signed out');
    auth.stop();
    assert.equal(auth.posts.length, 0);
  });

  await t.test('sign in: the code exchange sets the HttpOnly refresh cookie and workos-has-session', async () => {
    const auth = watchAuthenticate(page, gh);
    await signIn(page);
    await auth.settled();
    auth.stop();
    assert.deepEqual(auth.posts.map((p) => [p.body.grant_type, p.status]), [['authorization_code', 200]]);
    const { refresh, hasSession } = await cookies();
    assert.ok(refresh, 'refresh cookie set');
    assert.equal(refresh.domain, 'auth.example.test');
    assert.equal(refresh.httpOnly, true);
    assert.equal(refresh.sameSite, 'Lax');
    assert.ok(hasSession, 'workos-has-session set');
    assert.equal(hasSession.domain, '.example.test');
    assert.equal(hasSession.httpOnly, false);
    assert.equal(hasSession.value, gh.clientId);
    // The page sees the hint, never the token; nothing in localStorage (not devMode).
    const seen = await page.evaluate(() => ({ cookie: document.cookie, stored: Object.keys(localStorage) }));
    assert.equal(seen.cookie, `workos-has-session=${gh.clientId}`);
    assert.deepEqual(seen.stored.filter((k) => k.startsWith('workos:refresh-token')), []);
    await page.screenshot({ path: join(ARTIFACTS, 'cookie-mode-signed-in.png') });
  });

  await t.test('reload: one refresh with cookies only (no token in the body), cookie rotated', async () => {
    const before = await currentRefresh();
    const auth = watchAuthenticate(page, gh);
    await page.reload();
    await showsUser(page, email);
    await auth.settled();
    auth.stop();
    assert.equal(auth.posts.length, 1, JSON.stringify(auth.posts));
    assert.equal(auth.posts[0].body.grant_type, 'refresh_token');
    assert.equal(auth.posts[0].body.refresh_token, undefined);
    assert.equal(auth.posts[0].status, 200);
    assert.notEqual(await currentRefresh(), before);
  });

  const stamp = Date.now().toString(36);
  const orgs = [];
  await t.test('switchToOrganization: a cookie refresh with organization_id, the cookie rotated, kept across a reload', async () => {
    for (const name of [`Acme ${stamp}`, `Globex ${stamp}`]) {
      const org = await apiRequest(api, 'POST', '/organizations', { name });
      assert.equal(org.status, 201, org.text);
      const membership = await apiRequest(api, 'POST', '/user_management/organization_memberships', { organization_id: org.body.id, user_id: userId });
      assert.equal(membership.status, 201, membership.text);
      orgs.push(org.body);
    }
    // A fresh token first: authkit-js's timed refresh (10 s before expiry) then stays out of the switches.
    await page.evaluate(() => window.__client.getAccessToken({ forceRefresh: true }));
    const { sid, org_id: none } = await accessClaims(page);
    assert.equal(none, undefined);
    for (const org of [orgs[0], orgs[1], orgs[0], orgs[1]]) {
      const before = await currentRefresh();
      const auth = watchAuthenticate(page, gh);
      await page.evaluate((id) => window.__client.switchToOrganization({ organizationId: id }), org.id);
      await auth.settled();
      auth.stop();
      // The switch (and any timed refresh that ran meanwhile, which sends the token's org_id).
      const switches = auth.posts.filter((x) => x.body.organization_id === org.id);
      assert.equal(switches.length, 1, JSON.stringify(auth.posts));
      for (const x of auth.posts) {
        assert.equal(x.body.grant_type, 'refresh_token', JSON.stringify(x));
        assert.equal(x.body.refresh_token, undefined, 'cookie mode sends no token in the body');
        assert.equal(x.status, 200, JSON.stringify(x));
      }
      const claims = await accessClaims(page);
      assert.equal(claims.org_id, org.id);
      assert.equal(claims.sid, sid, 'the same session');
      assert.notEqual(await currentRefresh(), before, 'the cookie rotated');
      assert.equal(await page.evaluate(() => window.__refreshFailures), 0);
    }
    // A reload starts from the cookie alone: the session and its organization are still there.
    const auth = watchAuthenticate(page, gh);
    await page.reload();
    await showsUser(page, email);
    await auth.settled();
    auth.stop();
    assert.equal(auth.posts.length, 1, JSON.stringify(auth.posts));
    assert.equal(auth.posts[0].body.refresh_token, undefined);
    assert.equal(auth.posts[0].status, 200);
    const claims = await accessClaims(page);
    assert.equal(claims.org_id, orgs[1].id);
    assert.equal(claims.sid, sid);
  });

  let second;
  await t.test('a second tab is signed in too, and both stay signed in over several token lifetimes', async () => {
    second = await openPage();
    const auth1 = watchAuthenticate(page, gh);
    const auth2 = watchAuthenticate(second, gh);
    await second.goto(`${app.origin}/`);
    await showsUser(second, email);
    const watchSecs = 3 * TTL_SECS;
    await sleep(watchSecs * 1000);
    await Promise.all([auth1.settled(), auth2.settled()]);
    auth1.stop();
    auth2.stop();
    for (const [name, p, auth] of [['first', page, auth1], ['second', second, auth2]]) {
      const refreshes = auth.posts.filter((x) => x.body.grant_type === 'refresh_token');
      assert.ok(refreshes.every((x) => x.status === 200), `${name}: ${JSON.stringify(refreshes)}`);
      // One every TTL - 10 s (authkit-js's buffer), plus the second tab's load.
      const expected = watchSecs / (TTL_SECS - 10);
      assert.ok(refreshes.length >= expected - 1 && refreshes.length <= expected + 2, `${name}: ${refreshes.length} refreshes in ${watchSecs} s`);
      assert.equal(await p.evaluate(() => window.__refreshFailures), 0, `${name}: no refresh failure`);
      assert.equal(await p.textContent('#user'), email);
    }
    const token = await second.evaluate(() => window.__client.getAccessToken({ forceRefresh: true }));
    assert.ok(token.split('.').length === 3);
    tokensSeen.add(token);
  });

  await t.test('pages on other sites cannot refresh with the cookie, read tokens, rotate or revoke', async () => {
    // Fresh tokens in both tabs first: their timed refreshes (10 s before expiry) then stay out of
    // this step, so every refresh that reaches Gatehouse here is another site's.
    for (const p of [second, page]) await p.evaluate(() => window.__client.getAccessToken({ forceRefresh: true }));
    const before = await currentRefresh();
    const authUrl = `${gh.baseUrl}/user_management/authenticate`;
    const body = { grant_type: 'refresh_token', client_id: gh.clientId };
    const since = gh.requests.length;
    for (const site of [`http://evil.other.test:${evil.port}`, `http://evil.example.test:${evil.port}`]) {
      const p = await openPage();
      await p.goto(`${site}/`);
      const outcome = await p.evaluate(async ({ authUrl, body }) => {
        const results = {};
        try {
          const r = await fetch(authUrl, { method: 'POST', credentials: 'include', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
          results.json = `read ${r.status}: ${await r.text()}`;
        } catch (e) {
          results.json = `blocked: ${e.name}`;
        }
        try {
          const r = await fetch(authUrl, { method: 'POST', mode: 'no-cors', credentials: 'include', body: new URLSearchParams(body) });
          results.form = `${r.type} ${r.status}`;
        } catch (e) {
          results.form = `blocked: ${e.name}`;
        }
        results.cookie = document.cookie;
        return results;
      }, { authUrl, body });
      assert.equal(outcome.json, 'blocked: TypeError', `${site}: ${JSON.stringify(outcome)}`);
      assert.equal(outcome.form, 'opaque 0', `${site}: ${JSON.stringify(outcome)}`);
      assert.ok(!outcome.cookie.includes('gatehouse_refresh_'), `${site} reads no token: ${outcome.cookie}`);
      await p.close();
    }
    // What reached Gatehouse: preflights (refused) and the form posts, refused without rotating.
    const seen = gh.requests.slice(since).filter((r) => r.path === '/user_management/authenticate');
    const posts = seen.filter((r) => r.method === 'POST');
    assert.ok(posts.length >= 2, JSON.stringify(seen));
    assert.ok(posts.every((r) => r.status === 400), JSON.stringify(seen));
    assert.equal(await currentRefresh(), before, 'the cookie was not rotated');
    // The app's session still works.
    const token = await page.evaluate(() => window.__client.getAccessToken({ forceRefresh: true }));
    assert.ok(token);
  });

  await t.test('sign out: back at the app, both cookies gone, the old refresh token dead', async () => {
    await second.close();
    const last = await currentRefresh();
    await page.click('#sign-out');
    await page.waitForURL((u) => u.origin === app.origin && u.pathname === '/');
    await showsUser(page, 'signed out');
    await assertSignedOut(page, last);
  });

  await t.test('signOut({ navigate: false }): the no-cors logout fetch clears both cookies and ends the session', async () => {
    await signIn(page, orgs[0].name);
    const { sid } = await accessClaims(page);
    const last = await currentRefresh();
    assert.ok(last && (await cookies()).hasSession);
    const since = gh.requests.length;
    await page.evaluate(() => window.__client.signOut({ navigate: false }));
    assert.equal(new URL(page.url()).origin, app.origin, 'no navigation');
    const logout = gh.requests.slice(since).filter((r) => r.method === 'GET' && r.path.startsWith('/user_management/sessions/logout'));
    assert.equal(logout.length, 1, JSON.stringify(gh.requests.slice(since)));
    await assertSignedOut(page, last, sid);
  });

  await t.test('the server log (GATEHOUSE_LOG=trace) holds none of the tokens the browser was given', async () => {
    const output = gh.log();
    assert.match(output, /authenticate/, 'the log records requests');
    const tokens = [...tokensSeen].filter(Boolean);
    const refreshTokens = tokens.filter((t) => t.split('.').length === 3 && t.startsWith('session_'));
    const accessTokens = tokens.filter((t) => !t.startsWith('session_'));
    assert.ok(refreshTokens.length >= 10 && accessTokens.length >= 5, `${refreshTokens.length} refresh and ${accessTokens.length} access tokens`);
    // Whole tokens, and their secret parts (a refresh token's secret, an access token's signature).
    const secrets = tokens.flatMap((t) => [t, t.split('.')[2]]).filter((x) => x && x.length >= 16);
    const leaked = secrets.filter((x) => output.includes(x));
    assert.deepEqual(leaked, [], 'tokens in the server log');
    assert.ok(!output.includes(`${refreshName()}=`), 'no Cookie header in the server log');
  });
});
