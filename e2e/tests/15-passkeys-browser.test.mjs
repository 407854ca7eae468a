// Passkeys in headless Chromium with a CDP virtual authenticator (WebAuthn.enable /
// WebAuthn.addVirtualAuthenticator): register a passkey on the account-security page, sign out, sign in
// with the passkey alone; a second registration of the same authenticator is refused; an assertion made
// for another origin is refused; a removed passkey no longer works. The public URL is
// http://localhost:PORT because WebAuthn relying-party IDs cannot be IP addresses.

import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { useGatehouse } from '../lib/server.mjs';
import { addRedirectUri, authorizeUrl, confidentialClient, uniqueEmail, STRONG_PASSWORD } from '../lib/api.mjs';
import { launchChromium, startCallbackApp, exchangeCallback, ARTIFACTS, DOCS_IMAGES } from '../lib/browser.mjs';

const gh = useGatehouse({ publicHost: 'localhost' });
let app;
let browser;
let context;
let page;
let cdp;
let authenticatorId;
const log = [];

before(async () => {
  await gh.ready;
  app = await startCallbackApp();
  await addRedirectUri(gh, app.redirectUri);
  await mkdir(ARTIFACTS, { recursive: true });
  await mkdir(DOCS_IMAGES, { recursive: true });
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 900, height: 900 } });
  page = await context.newPage();
  page.setDefaultTimeout(15_000);
  page.on('console', (m) => log.push(`[console.${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => log.push(`[pageerror] ${e.message}`));
  // With this cookie set, the sign-in page finds no conditional mediation and starts no autofill
  // request (`passkeySignIn` tests the button alone).
  await page.addInitScript(() => {
    if (document.cookie.includes('e2e-no-autofill=1') && window.PublicKeyCredential) {
      window.PublicKeyCredential.isConditionalMediationAvailable = async () => false;
    }
  });
  cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  ({ authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  }));
});

let failed = false;
afterEach((t) => {
  if (!t.passed) failed = true;
});

after(async () => {
  if (failed) process.stderr.write(`\n===== browser log =====\n${log.join('\n')}\n===== end of browser log =====\n`);
  await context?.close().catch(() => {});
  await browser?.close().catch(() => {});
  await app?.close();
});

// With automatic presence, Chromium's virtual authenticator also answers the sign-in page's autofill
// (conditional) request at once; tests that need the page to stay put turn presence off meanwhile.
const presence = (enabled) => cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId, enabled });
const credentials = async () => (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;

/** "Manage passkeys and two-factor", then a password sign-in, to the account-security page. */
async function openSecurityPage(email) {
  await presence(false);
  await context.clearCookies();
  await page.goto(authorizeUrl(gh, { redirect_uri: app.redirectUri }));
  await page.waitForURL((u) => u.pathname === '/authkit/sign-in');
  await page.click('text=Manage passkeys and two-factor');
  await page.waitForURL((u) => u.pathname === '/authkit/sign-in');
  await page.fill('#password', STRONG_PASSWORD);
  await page.fill('#email', email);
  await page.click('form[action="/authkit/sign-in"] button[type="submit"]');
  await page.waitForURL((u) => u.pathname === '/authkit/security');
  await presence(true);
}

/**
 * Signs out (no cookies), opens the sign-in page and clicks "Sign in with a passkey". The page's
 * autofill request is switched off for this (see `before`): the authenticator would answer it the
 * moment presence is on, sign in, and take the button away mid-click. The autofill test covers it.
 */
async function passkeySignIn() {
  await presence(false);
  await context.clearCookies();
  await context.addCookies([{ name: 'e2e-no-autofill', value: '1', url: gh.baseUrl }]);
  await page.goto(authorizeUrl(gh, { redirect_uri: app.redirectUri }));
  await page.waitForURL((u) => u.pathname === '/authkit/sign-in');
  await page.waitForSelector('#passkey-sign-in', { state: 'visible' });
  assert.equal(await page.getAttribute('#email', 'autocomplete'), 'username webauthn', 'autofill (conditional UI) is offered');
  assert.equal(await page.evaluate(() => PublicKeyCredential.isConditionalMediationAvailable()), false, 'no autofill request here');
  await presence(true);
  await page.click('#passkey-sign-in');
}

test('passkeys: register, sign in with the passkey alone, duplicates, other origin, removal', { timeout: 180_000 }, async (t) => {
  const workos = confidentialClient(gh);
  const email = uniqueEmail('passkey');
  const user = await workos.userManagement.createUser({ email, password: STRONG_PASSWORD, emailVerified: true, firstName: 'Pat' });

  await t.test('register a passkey on the account-security page', async () => {
    await openSecurityPage(email);
    await page.waitForSelector('#add-passkey', { state: 'visible' });
    await page.fill('#passkey-name', 'Test laptop');
    await page.click('#add-passkey button');
    await page.waitForURL((u) => u.pathname === '/authkit/security' && u.searchParams.get('done') === 'passkey-added');
    assert.match(await page.textContent('#passkey-list'), /Test laptop/);
    assert.equal((await credentials()).length, 1);
    assert.equal((await credentials())[0].isResidentCredential, true, 'discoverable credential');
    await page.screenshot({ path: join(ARTIFACTS, 'security-passkey.png'), fullPage: true });
    await page.screenshot({ path: join(DOCS_IMAGES, 'security.png'), fullPage: true });
  });

  await t.test('a second registration of the same authenticator is refused', async () => {
    await page.fill('#passkey-name', 'Again');
    await page.click('#add-passkey button');
    await page.waitForSelector('#passkey-error', { state: 'visible' });
    assert.match(await page.textContent('#passkey-error'), /already has a passkey/);
    assert.equal((await credentials()).length, 1);
    assert.equal((await page.$$('#passkey-list li')).length, 1);
  });

  await t.test('sign out, then sign in with the passkey alone', async () => {
    await passkeySignIn();
    await page.waitForURL((u) => u.origin === app.origin && u.pathname === '/callback');
    const body = await exchangeCallback(gh, page.url());
    assert.equal(body.user.id, user.id);
    assert.equal(body.authentication_method, 'Passkey');
  });

  await t.test('autofill: the sign-in page\'s conditional request signs in when the authenticator answers', async () => {
    await presence(true);
    await context.clearCookies();
    await page.goto(authorizeUrl(gh, { redirect_uri: app.redirectUri }));
    await page.waitForURL((u) => u.origin === app.origin && u.pathname === '/callback');
    const body = await exchangeCallback(gh, page.url());
    assert.equal(body.authentication_method, 'Passkey');
  });

  await t.test('an assertion made for another origin is refused', async () => {
    await presence(false);
    await context.clearCookies();
    await page.goto(authorizeUrl(gh, { redirect_uri: app.redirectUri }));
    await page.waitForURL((u) => u.pathname === '/authkit/sign-in');
    await page.screenshot({ path: join(ARTIFACTS, 'sign-in-passkey.png'), fullPage: true });
    const request = await page.getAttribute('#passkey-sign-in', 'data-request');
    const csrf = await page.getAttribute('#passkey-sign-in', 'data-csrf');
    const options = await page.evaluate(async ({ request, csrf }) => {
      const res = await fetch('/authkit/passkey/options', { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf }, body: JSON.stringify({ request }) });
      return res.json();
    }, { request, csrf });
    // The app's origin (http://localhost:<other port>) shares the RP ID "localhost", so the browser signs
    // there; the client data then names the wrong origin.
    await page.goto(`${app.origin}/elsewhere`);
    await presence(true);
    const assertion = await page.evaluate(async (options) => {
      const b64 = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
      const bytes = (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4)), (c) => c.charCodeAt(0));
      const pk = { ...options.publicKey, challenge: bytes(options.publicKey.challenge), allowCredentials: [] };
      const c = await navigator.credentials.get({ publicKey: pk });
      return {
        id: c.id, rawId: b64(c.rawId), type: c.type, extensions: {},
        response: { authenticatorData: b64(c.response.authenticatorData), clientDataJSON: b64(c.response.clientDataJSON), signature: b64(c.response.signature), userHandle: c.response.userHandle ? b64(c.response.userHandle) : null },
      };
    }, options.options);
    await presence(false);
    await page.goto(authorizeUrl(gh, { redirect_uri: app.redirectUri }));
    await page.waitForURL((u) => u.pathname === '/authkit/sign-in');
    const result = await page.evaluate(async ({ request, csrf, ceremony, credential }) => {
      const res = await fetch('/authkit/passkey/sign-in', { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf }, body: JSON.stringify({ request, ceremony, credential }) });
      return { status: res.status, body: await res.json() };
    }, { request, csrf, ceremony: options.ceremony, credential: assertion });
    assert.equal(result.status, 400, JSON.stringify(result));
    assert.match(result.body.error, /could not be verified/);
  });

  await t.test('a removed passkey no longer works', async () => {
    await openSecurityPage(email);
    await page.click('#passkey-list button.link-danger');
    await page.waitForURL((u) => u.searchParams.get('done') === 'passkey-removed');
    assert.equal(await page.$('#passkey-list'), null);
    await passkeySignIn();
    await page.waitForSelector('#passkey-error', { state: 'visible' });
    assert.match(await page.textContent('#passkey-error'), /not registered/);
    assert.equal(new URL(page.url()).pathname, '/authkit/sign-in');
    await page.screenshot({ path: join(ARTIFACTS, 'sign-in-passkey-removed.png'), fullPage: true });
  });
});
