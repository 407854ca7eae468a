// Scenario 11 (spec §9, §3.2, §3.3, §7): a PKCE public client (workos-node without an API key) signs in
// through Gatehouse's hosted UI, driven over plain HTTP with fetch (manual redirects + a cookie jar).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import { useGatehouse } from '../lib/server.mjs';
import {
  addRedirectUri,
  authorizeUrl as authorizeUrlFor,
  confidentialClient,
  publicClient,
  recordFetch,
  verifyAccessToken,
  rejectsOauth,
  uniqueEmail,
  STRONG_PASSWORD,
  OTHER_STRONG_PASSWORD,
} from '../lib/api.mjs';
import {
  CookieJar,
  request,
  parseForm,
  findTags,
  alerts,
  openHostedPage,
  submitHostedForm,
  signInViaHostedUi,
  signUpViaHostedUi,
} from '../lib/hosted.mjs';

// Sign-up here finishes at once (uniform_sign_up=false): this file is about the SDK's flow, not the
// uniform sign-up's emailed code, which e2e/tests/50-uniform-sign-up.test.mjs covers.
const gh = useGatehouse({ settings: { uniform_sign_up: 'false' } });
// Not the development environment's pre-registered http://localhost:5173/callback: these are registered by the test.
const REDIRECT_URI = 'http://localhost:5173/e2e/callback';
const REDIRECT_URI_WITH_QUERY = 'http://localhost:5173/cb?tenant=acme';

let admin;
let pub;
let email;
let user;

async function setup() {
  if (pub) return;
  const client = confidentialClient(gh);
  await addRedirectUri(gh, REDIRECT_URI);
  await addRedirectUri(gh, REDIRECT_URI_WITH_QUERY);
  email = uniqueEmail('pkce');
  user = await client.userManagement.createUser({ email, password: STRONG_PASSWORD, emailVerified: true, firstName: 'Pat', lastName: 'Kce' });
  admin = client;
  pub = publicClient(gh);
}

/** An authorize URL built by hand (for cases the SDK helper cannot express). */
const authorizeUrl = (params) => authorizeUrlFor(gh, params);

function pkcePair() {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}

test('public client: authorize → hosted sign-in → code → authenticateWithCodeAndVerifier (no Authorization header)', async (t) => {
  await setup();
  const { url, state, codeVerifier } = await pub.userManagement.getAuthorizationUrlWithPKCE({
    provider: 'authkit',
    redirectUri: REDIRECT_URI,
    clientId: gh.clientId,
  });
  assert.ok(url.startsWith(`${gh.baseUrl}/user_management/authorize?`));

  const jar = new CookieJar();
  let signIn;
  let signInUrl;
  await t.test('GET /user_management/authorize → 302 /authkit/sign-in?request=<id>', async () => {
    const res = await request(url, { jar });
    assert.equal(res.status, 302, `authorize: ${res.status} ${res.text.slice(0, 300)}`);
    assert.equal(res.locationUrl.origin, gh.baseUrl);
    assert.equal(res.locationUrl.pathname, '/authkit/sign-in');
    assert.ok(res.locationUrl.searchParams.get('request'), 'request id in the sign-in URL');
    signInUrl = res.locationUrl;
  });

  await t.test('sign-in page: form contract (CSRF cookie + hidden fields, email/password, one submit, sign-up link)', async () => {
    signIn = await request(signInUrl.href, { jar });
    assert.equal(signIn.status, 200);
    assert.match(signIn.headers.get('content-type') ?? '', /text\/html/);
    assert.ok(jar.size >= 1, 'the GET must set a CSRF cookie');
    const form = parseForm(signIn.text, '/authkit/sign-in');
    assert.equal(form.method, 'post');
    assert.equal(form.hidden.request, signInUrl.searchParams.get('request'));
    assert.ok(form.hidden.csrf_token, 'hidden csrf_token');
    assert.equal(form.inputs.email?.id, 'email');
    assert.equal(form.inputs.password?.id, 'password');
    assert.equal((form.inputs.password.type ?? '').toLowerCase(), 'password');
    const submits = form.buttons.filter((b) => (b.type ?? 'submit').toLowerCase() === 'submit');
    assert.equal(submits.length + form.submitInputs.length, 1, 'exactly one submit button');
    const links = findTags(signIn.text, 'a').map((a) => a.attrs.href ?? '');
    assert.ok(links.some((h) => h.includes('/authkit/sign-up')), `a link to the sign-up page; links: ${links}`);
  });

  let code;
  await t.test('POST credentials → 303 to redirect_uri?code=…&state=<exact>', async () => {
    const post = await submitHostedForm(signIn, signInUrl, '/authkit/sign-in', { email, password: STRONG_PASSWORD }, jar);
    assert.equal(post.status, 303, `POST sign-in: ${post.status} ${JSON.stringify(alerts(post.text))}`);
    const loc = post.locationUrl;
    assert.equal(`${loc.origin}${loc.pathname}`, REDIRECT_URI);
    code = loc.searchParams.get('code');
    assert.ok(code, 'code in Location');
    assert.equal(loc.searchParams.get('state'), state, 'state echoed exactly');
  });

  let auth;
  await t.test('authenticateWithCodeAndVerifier: public request, token verifies', async () => {
    const rec = recordFetch();
    try {
      const client = publicClient(gh);
      auth = await client.userManagement.authenticateWithCodeAndVerifier({ code, codeVerifier });
    } finally {
      rec.restore();
    }
    const call = rec.calls.find((c) => c.url.endsWith('/user_management/authenticate'));
    assert.ok(call);
    assert.equal(call.headers.get('authorization'), null, 'no Authorization header from a public client');
    const body = JSON.parse(call.body);
    assert.equal(body.grant_type, 'authorization_code');
    assert.equal(body.client_secret, undefined);
    assert.equal(auth.user.id, user.id);
    assert.equal(auth.user.email, email);
    assert.equal(auth.authenticationMethod, 'Password');
    await verifyAccessToken(gh, pub, auth.accessToken, { sub: user.id });
  });

  await t.test('public refresh (no client_secret) rotates', async () => {
    const rec = recordFetch();
    let r;
    try {
      r = await publicClient(gh).userManagement.authenticateWithRefreshToken({ refreshToken: auth.refreshToken });
    } finally {
      rec.restore();
    }
    assert.equal(rec.calls[0].headers.get('authorization'), null);
    assert.equal(JSON.parse(rec.calls[0].body).client_secret, undefined);
    assert.notEqual(r.refreshToken, auth.refreshToken);
    await verifyAccessToken(gh, pub, r.accessToken, { sub: user.id });
  });
  await t.test('code replay → invalid_grant', async () => {
    // (Runs last: RFC 6749 §4.1.2 lets the server also revoke the tokens issued for a replayed code.)
    await rejectsOauth(pub.userManagement.authenticateWithCodeAndVerifier({ code, codeVerifier }), 'invalid_grant');
  });
});

test('PKCE mismatch → invalid_grant', async () => {
  await setup();
  const { url } = await pub.userManagement.getAuthorizationUrlWithPKCE({ provider: 'authkit', redirectUri: REDIRECT_URI, clientId: gh.clientId });
  const { code } = await signInViaHostedUi(url, { email, password: STRONG_PASSWORD });
  assert.ok(code);
  const wrongVerifier = randomBytes(32).toString('base64url');
  await rejectsOauth(pub.userManagement.authenticateWithCodeAndVerifier({ code, codeVerifier: wrongVerifier }), 'invalid_grant');
});

test('a PKCE code cannot be redeemed by a public client without a verifier', async () => {
  await setup();
  const { url } = await pub.userManagement.getAuthorizationUrlWithPKCE({ provider: 'authkit', redirectUri: REDIRECT_URI, clientId: gh.clientId });
  const { code } = await signInViaHostedUi(url, { email, password: STRONG_PASSWORD });
  const res = await fetch(`${gh.baseUrl}/user_management/authenticate`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ grant_type: 'authorization_code', client_id: gh.clientId, code }),
  });
  assert.equal(res.status, 400);
  const body = await res.json();
  assert.ok(['invalid_grant', 'invalid_request'].includes(body.error), JSON.stringify(body));
});

test('state round-trips byte-exact (special characters, JSON); redirect URI with a query gets &code=', async () => {
  await setup();
  const { verifier, challenge } = pkcePair();
  const state = '{"returnTo":"/a b?c=d&e"}~*!\'() +%2F é';
  const url = pub.userManagement.getAuthorizationUrl({
    provider: 'authkit',
    redirectUri: REDIRECT_URI_WITH_QUERY,
    clientId: gh.clientId,
    state,
    codeChallenge: challenge,
    codeChallengeMethod: 'S256',
  });
  const { location, code } = await signInViaHostedUi(url, { email, password: STRONG_PASSWORD });
  assert.equal(`${location.origin}${location.pathname}`, 'http://localhost:5173/cb');
  assert.equal(location.searchParams.get('tenant'), 'acme', 'the redirect URI keeps its own query');
  assert.equal(location.searchParams.get('state'), state);
  const auth = await pub.userManagement.authenticateWithCodeAndVerifier({ code, codeVerifier: verifier });
  assert.equal(auth.user.id, user.id);
});

test('no state sent → no state in the redirect', async () => {
  await setup();
  const { verifier, challenge } = pkcePair();
  const url = authorizeUrl({ redirect_uri: REDIRECT_URI, code_challenge: challenge, code_challenge_method: 'S256' });
  const { location, code } = await signInViaHostedUi(url, { email, password: STRONG_PASSWORD });
  assert.equal(location.searchParams.has('state'), false);
  await pub.userManagement.authenticateWithCodeAndVerifier({ code, codeVerifier: verifier });
});

test('authorize validation: bad client / unregistered redirect URI / plain PKCE → 400 HTML, no redirect', async (t) => {
  await setup();
  const { challenge } = pkcePair();

  async function expectErrorPage(url, what) {
    const res = await request(url);
    assert.equal(res.status, 400, `${what}: expected 400 error page, got ${res.status} Location=${res.location}`);
    assert.equal(res.location, null, `${what}: must not redirect`);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/, `${what}: HTML error page`);
  }

  await t.test('unregistered redirect_uri', () =>
    expectErrorPage(
      authorizeUrl({ redirect_uri: 'http://localhost:5173/e2e/not-registered', state: 's', code_challenge: challenge, code_challenge_method: 'S256' }),
      'unregistered redirect_uri',
    ));
  await t.test('unregistered redirect_uri on another host', () =>
    expectErrorPage(
      authorizeUrl({ redirect_uri: 'https://attacker.example/callback', state: 's', code_challenge: challenge, code_challenge_method: 'S256' }),
      'unregistered redirect_uri (other host)',
    ));
  await t.test('redirect_uri differing only by trailing slash', () =>
    expectErrorPage(authorizeUrl({ redirect_uri: `${REDIRECT_URI}/`, code_challenge: challenge, code_challenge_method: 'S256' }), 'trailing slash'));
  await t.test('unknown client_id', () =>
    expectErrorPage(
      authorizeUrl({ client_id: 'client_01ZZZZZZZZZZZZZZZZZZZZZZZZ', redirect_uri: REDIRECT_URI, code_challenge: challenge, code_challenge_method: 'S256' }),
      'unknown client_id',
    ));
  // Once client_id and redirect_uri are valid, an OAuth-style error redirect (RFC 6749 §4.1.2.1) or a 400
  // page are both acceptable; reaching the hosted UI is not.
  async function expectRejected(url, what) {
    const res = await request(url);
    const toHostedUi = res.locationUrl && res.locationUrl.pathname.startsWith('/authkit/');
    assert.ok(!toHostedUi, `${what} must not reach the hosted UI (got ${res.status} → ${res.location})`);
    if (res.location) {
      assert.ok(res.location.startsWith(`${REDIRECT_URI}?`), res.location);
      assert.ok(res.locationUrl.searchParams.get('error'), 'error redirect carries error=');
      assert.equal(res.locationUrl.searchParams.get('code'), null);
      assert.equal(res.locationUrl.searchParams.get('state'), 's', 'error redirect echoes state');
    } else {
      assert.equal(res.status, 400);
    }
  }
  await t.test('code_challenge_method=plain is rejected', () =>
    expectRejected(authorizeUrl({ redirect_uri: REDIRECT_URI, state: 's', code_challenge: challenge, code_challenge_method: 'plain' }), 'plain PKCE'));
  await t.test('response_type=token is rejected', () =>
    expectRejected(
      authorizeUrl({ redirect_uri: REDIRECT_URI, state: 's', response_type: 'token', code_challenge: challenge, code_challenge_method: 'S256' }),
      'response_type=token',
    ));
  await t.test('hosted page with an unknown request id → 400 HTML', async () => {
    const res = await request(`${gh.baseUrl}/authkit/sign-in?request=req_does_not_exist`);
    assert.equal(res.status, 400);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/);
  });
});

test('screen_hint=sign-up → sign-up page; hosted sign-up creates the user and returns a code', async () => {
  await setup();
  const { url, state, codeVerifier } = await pub.userManagement.getAuthorizationUrlWithPKCE({
    provider: 'authkit',
    redirectUri: REDIRECT_URI,
    clientId: gh.clientId,
    screenHint: 'sign-up',
  });
  const first = await request(url);
  assert.equal(first.status, 302);
  assert.equal(first.locationUrl.pathname, '/authkit/sign-up');
  assert.ok(first.locationUrl.searchParams.get('request'));

  const { page } = await openHostedPage(url);
  const form = parseForm(page.text, '/authkit/sign-up');
  assert.equal(form.method, 'post');
  assert.ok(form.hidden.request && form.hidden.csrf_token);
  for (const name of ['first_name', 'last_name', 'email', 'password']) assert.ok(form.inputs[name], `sign-up input ${name}`);
  const submits = form.buttons.filter((b) => (b.type ?? 'submit').toLowerCase() === 'submit');
  assert.equal(submits.length + form.submitInputs.length, 1, 'exactly one submit button');

  const newEmail = uniqueEmail('signup');
  const r = await signUpViaHostedUi(url, { email: newEmail, password: STRONG_PASSWORD, firstName: 'Sig', lastName: 'Nup' });
  assert.equal(r.state, state);
  const auth = await pub.userManagement.authenticateWithCodeAndVerifier({ code: r.code, codeVerifier });
  assert.equal(auth.user.email, newEmail);
  assert.equal(auth.user.firstName, 'Sig');
  assert.equal(auth.user.lastName, 'Nup');
  assert.equal(auth.authenticationMethod, 'Password', 'sign-up reports the primary method (spec §7.3)');
  await verifyAccessToken(gh, pub, auth.accessToken, { sub: auth.user.id });
  const viaApi = await admin.userManagement.getUser(auth.user.id);
  assert.equal(viaApi.email, newEmail);

  // A weak password is refused on the page with the reason in an alert.
  const { page: weakPage, pageUrl: weakUrl, jar: weakJar } = await openHostedPage(url);
  const weak = await submitHostedForm(weakPage, weakUrl, '/authkit/sign-up', { email: uniqueEmail('weak'), password: 'password', first_name: 'W', last_name: 'P' }, weakJar);
  assert.equal(weak.status, 400, `weak password sign-up: ${weak.status} ${weak.location}`);
  assert.ok(alerts(weak.text).length >= 1, 'weak-password reason in role="alert"');

  // Signing up again with the same e-mail fails on the page (no code issued).
  const { page: page2, pageUrl, jar } = await openHostedPage(url);
  const again = await submitHostedForm(page2, pageUrl, '/authkit/sign-up', { email: newEmail, password: STRONG_PASSWORD, first_name: 'A', last_name: 'B' }, jar);
  assert.ok(again.status === 400 || again.status === 409 || again.status === 422, `duplicate sign-up: ${again.status} ${again.location}`);
  assert.ok(alerts(again.text).length >= 1, 'error shown in role="alert"');
});

test('login_hint pre-fills the e-mail field', async () => {
  await setup();
  const { url } = await pub.userManagement.getAuthorizationUrlWithPKCE({
    provider: 'authkit',
    redirectUri: REDIRECT_URI,
    clientId: gh.clientId,
    loginHint: email,
  });
  const { page } = await openHostedPage(url);
  const form = parseForm(page.text, '/authkit/sign-in');
  assert.equal(form.inputs.email.value, email);
});

test('hosted form failures: wrong password → 400 + role=alert; missing CSRF cookie → refused', async (t) => {
  await setup();
  const { url } = await pub.userManagement.getAuthorizationUrlWithPKCE({ provider: 'authkit', redirectUri: REDIRECT_URI, clientId: gh.clientId });

  await t.test('wrong password re-renders the page with an alert', async () => {
    const victim = uniqueEmail('hosted-wrong');
    await admin.userManagement.createUser({ email: victim, password: STRONG_PASSWORD, emailVerified: true });
    const { page, pageUrl, jar } = await openHostedPage(url);
    const post = await submitHostedForm(page, pageUrl, '/authkit/sign-in', { email: victim, password: OTHER_STRONG_PASSWORD }, jar);
    assert.equal(post.status, 400, `wrong password: ${post.status} ${post.location}`);
    assert.equal(post.location, null);
    const a = alerts(post.text);
    assert.ok(a.length >= 1 && a[0].length > 0, 'message in role="alert"');
    // The page is usable again: it still has the form with a fresh request + csrf token.
    const form = parseForm(post.text, '/authkit/sign-in');
    assert.ok(form.hidden.request && form.hidden.csrf_token);
    // ...and a correct retry on the re-rendered form succeeds.
    const retry = await submitHostedForm(post, pageUrl, '/authkit/sign-in', { email: victim, password: STRONG_PASSWORD }, jar);
    assert.equal(retry.status, 303, `retry after a wrong password: ${retry.status} ${JSON.stringify(alerts(retry.text))}`);
  });

  await t.test('POST without the CSRF cookie issues no code', async () => {
    const { page, pageUrl } = await openHostedPage(url);
    const post = await submitHostedForm(page, pageUrl, '/authkit/sign-in', { email, password: STRONG_PASSWORD }, new CookieJar());
    assert.ok(post.status >= 400 && post.status < 500, `CSRF failure must be a 4xx, got ${post.status} → ${post.location}`);
    assert.ok(!post.location || !post.location.includes('code='), 'no code without CSRF cookie');
  });

  await t.test('POST with a forged csrf_token field issues no code', async () => {
    const { page, pageUrl, jar } = await openHostedPage(url);
    const post = await submitHostedForm(page, pageUrl, '/authkit/sign-in', { email, password: STRONG_PASSWORD, csrf_token: 'forged' }, jar);
    assert.ok(post.status >= 400 && post.status < 500, `forged CSRF must be a 4xx, got ${post.status} → ${post.location}`);
    assert.ok(!post.location || !post.location.includes('code='));
  });
});

test('hosted sign-in throttling: 10 wrong passwords from one address → 429 with Retry-After and an alert', async () => {
  await setup();
  const victim = uniqueEmail('hosted-throttle');
  await admin.userManagement.createUser({ email: victim, password: STRONG_PASSWORD, emailVerified: true });
  const { url } = await pub.userManagement.getAuthorizationUrlWithPKCE({ provider: 'authkit', redirectUri: REDIRECT_URI, clientId: gh.clientId });
  let { page, pageUrl, jar } = await openHostedPage(url);
  for (let i = 1; i <= 10; i++) {
    const post = await submitHostedForm(page, pageUrl, '/authkit/sign-in', { email: victim, password: OTHER_STRONG_PASSWORD }, jar);
    assert.equal(post.status, 400, `attempt ${i}: ${post.status}`);
    page = post;
  }
  const sixth = await submitHostedForm(page, pageUrl, '/authkit/sign-in', { email: victim, password: STRONG_PASSWORD }, jar);
  assert.equal(sixth.status, 429, `11th attempt: ${sixth.status} ${sixth.location}`);
  assert.match(sixth.headers.get('retry-after') ?? '', /^\d+$/);
  assert.ok(alerts(sixth.text).length >= 1, 'throttle message in role="alert"');
  assert.equal(sixth.location, null);
  // The password grant from the same address shares the (account, address) counter.
  await assert.rejects(admin.userManagement.authenticateWithPassword({ email: victim, password: STRONG_PASSWORD }), (e) => e?.status === 429);
});
