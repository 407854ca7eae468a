// Scenario 2 (spec §9): password login with a sealed session (workos-node CookieSession), refresh,
// logout URL; plus the logout endpoint itself and the JWT template that shapes the access token.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useGatehouse } from '../lib/server.mjs';
import {
  addRedirectUri,
  apiRequest,
  confidentialClient,
  createPasswordUser,
  verifyAccessToken,
  uniqueEmail,
  STRONG_PASSWORD,
  COOKIE_PASSWORD,
} from '../lib/api.mjs';
import { request, textOf } from '../lib/hosted.mjs';

const gh = useGatehouse();
// An app origin that is not one of the development environment's default callbacks (5173, 3000), so the
// logout test registers it itself and "allowed" means "registered by this test".
const APP = 'http://localhost:4000';

const newUser = (workos, prefix) => createPasswordUser(workos, prefix, { firstName: 'Seal' });

test('password login with sealed session → authenticate → refresh → logout URL', async (t) => {
  const workos = confidentialClient(gh);
  const { email, user } = await newUser(workos, 'sealed');

  const auth = await workos.userManagement.authenticateWithPassword({
    email,
    password: STRONG_PASSWORD,
    session: { sealSession: true, cookiePassword: COOKIE_PASSWORD },
  });

  let sid;
  await t.test('authenticate response', async () => {
    assert.equal(auth.user.id, user.id);
    assert.equal(auth.user.email, email);
    assert.equal(auth.user.object, 'user');
    assert.ok(auth.user.lastSignInAt, 'lastSignInAt set after a sign-in');
    assert.equal(auth.authenticationMethod, 'Password');
    assert.equal(typeof auth.accessToken, 'string');
    assert.equal(typeof auth.refreshToken, 'string');
    assert.ok(auth.refreshToken.length >= 20);
    assert.ok(!auth.impersonator, 'no impersonator');
    assert.ok(auth.organizationId == null, 'unscoped session has no organizationId');
    assert.match(auth.sealedSession, /^Fe26\.2\*/);
    const { payload } = await verifyAccessToken(gh, workos, auth.accessToken, { sub: user.id });
    sid = payload.sid;
    assert.ok(!('org_id' in payload), 'unscoped session has no org_id claim');
  });

  const cookie = workos.userManagement.loadSealedSession({ sessionData: auth.sealedSession, cookiePassword: COOKIE_PASSWORD });

  await t.test('loadSealedSession().authenticate() (JWKS fetched by the SDK)', async () => {
    const r = await cookie.authenticate();
    assert.equal(r.authenticated, true, `authenticate() failed: ${JSON.stringify(r)}`);
    assert.equal(r.sessionId, sid);
    assert.equal(r.user.id, user.id);
    assert.equal(r.accessToken, auth.accessToken);
    assert.equal(r.authenticationMethod, 'Password');
  });

  let refreshed;
  await t.test('.refresh() gives a new sealed session for the same sid', async () => {
    refreshed = await cookie.refresh();
    assert.equal(refreshed.authenticated, true, `refresh() failed: ${JSON.stringify(refreshed)}`);
    assert.match(refreshed.sealedSession, /^Fe26\.2\*/);
    assert.notEqual(refreshed.sealedSession, auth.sealedSession);
    assert.equal(refreshed.sessionId, sid);
    assert.equal(refreshed.user.id, user.id);
    assert.notEqual(refreshed.session.accessToken, auth.accessToken);
    assert.notEqual(refreshed.session.refreshToken, auth.refreshToken, 'refresh tokens rotate');
    assert.equal(refreshed.authenticationMethod, 'Password', 'refresh echoes the original method');
    const { payload } = await verifyAccessToken(gh, workos, refreshed.session.accessToken, { sub: user.id });
    assert.equal(payload.sid, sid);
    const again = await workos.userManagement
      .loadSealedSession({ sessionData: refreshed.sealedSession, cookiePassword: COOKIE_PASSWORD })
      .authenticate();
    assert.equal(again.authenticated, true);
    assert.equal(again.sessionId, sid);
  });

  await t.test('.getLogoutUrl() points at this server with session_id and return_to', async () => {
    const url = new URL(await cookie.getLogoutUrl({ returnTo: `${APP}/bye` }));
    assert.equal(url.protocol, 'http:');
    assert.equal(url.host, `127.0.0.1:${gh.port}`);
    assert.equal(url.pathname, '/user_management/sessions/logout');
    assert.equal(url.searchParams.get('session_id'), sid);
    assert.equal(url.searchParams.get('return_to'), `${APP}/bye`);
  });
});

test('logout endpoint revokes the session and redirects only to allowed return_to', async (t) => {
  const workos = confidentialClient(gh);
  await addRedirectUri(gh, `${APP}/callback`);

  await t.test('allowed return_to (same origin as a registered redirect URI) → 302 there; session revoked', async () => {
    const { email } = await newUser(workos, 'logout');
    const auth = await workos.userManagement.authenticateWithPassword({
      email,
      password: STRONG_PASSWORD,
      session: { sealSession: true, cookiePassword: COOKIE_PASSWORD },
    });
    const cookie = workos.userManagement.loadSealedSession({ sessionData: auth.sealedSession, cookiePassword: COOKIE_PASSWORD });
    const logoutUrl = await cookie.getLogoutUrl({ returnTo: `${APP}/signed-out?x=1` });
    const res = await request(logoutUrl);
    assert.equal(res.status, 302, `GET ${logoutUrl}: ${res.status} ${res.text.slice(0, 300)}`);
    assert.equal(res.location, `${APP}/signed-out?x=1`);
    const r = await cookie.refresh();
    assert.equal(r.authenticated, false, 'refresh after logout must fail');
    assert.equal(r.reason, 'invalid_grant');
  });

  await t.test('disallowed return_to → "signed out" HTML page, no redirect; session still revoked', async () => {
    const { email } = await newUser(workos, 'logout2');
    const auth = await workos.userManagement.authenticateWithPassword({ email, password: STRONG_PASSWORD });
    const { payload } = await verifyAccessToken(gh, workos, auth.accessToken);
    const logoutUrl = workos.userManagement.getLogoutUrl({ sessionId: payload.sid, returnTo: 'https://evil.example/phish' });
    const res = await request(logoutUrl);
    assert.equal(res.status, 200, `GET ${logoutUrl}: ${res.status} location=${res.location}`);
    assert.equal(res.location, null);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    assert.match(textOf(res.text), /signed out/i);
    await assert.rejects(
      workos.userManagement.authenticateWithRefreshToken({ refreshToken: auth.refreshToken }),
      (e) => e?.name === 'OauthException' && e.error === 'invalid_grant',
    );
  });

  await t.test('unknown or already-ended session with an allowed return_to still redirects', async () => {
    const res = await request(
      workos.userManagement.getLogoutUrl({ sessionId: 'session_01ZZZZZZZZZZZZZZZZZZZZZZZZ', returnTo: `${APP}/` }),
    );
    assert.equal(res.status, 302, `${res.status} ${res.text.slice(0, 200)}`);
    assert.equal(res.location, `${APP}/`);
  });

  await t.test('no return_to → "signed out" HTML page', async () => {
    const { email } = await newUser(workos, 'logout3');
    const auth = await workos.userManagement.authenticateWithPassword({ email, password: STRONG_PASSWORD });
    const { payload } = await verifyAccessToken(gh, workos, auth.accessToken);
    const res = await request(workos.userManagement.getLogoutUrl({ sessionId: payload.sid }));
    assert.equal(res.status, 200);
    assert.match(textOf(res.text), /signed out/i);
  });
});

test('JWT template: default {"aud": client_id}; PUT adds custom claims to new tokens', async () => {
  const workos = confidentialClient(gh);
  const got = await apiRequest(gh, 'GET', '/user_management/jwt_template');
  assert.equal(got.status, 200, `GET /user_management/jwt_template: ${got.status} ${got.text}`);
  assert.equal(typeof got.body?.content, 'string', got.text);
  assert.match(got.body.content, /"aud"/);

  // WorkOS template syntax: a Liquid tag outside quotes inserts the value as JSON.
  const content = `{"aud": ${JSON.stringify(gh.clientId)}, "urn:e2e:tier": "gold", "urn:e2e:email": {{ user.email }}, "urn:e2e:plan": {{ user.metadata.plan || 'free' }}}`;
  const put = await apiRequest(gh, 'PUT', '/user_management/jwt_template', { content });
  assert.equal(put.status, 200, `PUT /user_management/jwt_template: ${put.status} ${put.text}`);
  const reread = await apiRequest(gh, 'GET', '/user_management/jwt_template');
  assert.equal(reread.body?.content, content);

  const { email, user } = await newUser(workos, 'template');
  const auth = await workos.userManagement.authenticateWithPassword({ email, password: STRONG_PASSWORD });
  const { payload } = await verifyAccessToken(gh, workos, auth.accessToken, { sub: user.id });
  assert.equal(payload['urn:e2e:tier'], 'gold');
  assert.equal(payload['urn:e2e:email'], email);
  assert.equal(payload['urn:e2e:plan'], 'free');
  assert.equal(payload.aud, gh.clientId);

  const restore = await apiRequest(gh, 'PUT', '/user_management/jwt_template', { content: got.body.content });
  assert.equal(restore.status, 200);
});

test('a backend states its client: ipAddress and userAgent of authenticateWithPassword reach the session', async () => {
  // With the API key, the node SDK speaks for the browser it serves (WorkOS's `ip_address` and
  // `user_agent`): the session, the throttles and the events take the stated client, not the
  // backend's own address (tests/it/throttling.rs covers the throttles and a public client).
  const workos = confidentialClient(gh);
  const { email, user } = await newUser(workos, 'stated');
  await workos.userManagement.authenticateWithPassword({
    email,
    password: STRONG_PASSWORD,
    ipAddress: '203.0.113.77',
    userAgent: 'AppBackend/1.0 (e2e)',
  });
  const sessions = await workos.userManagement.listSessions(user.id);
  assert.equal(sessions.data.length, 1);
  assert.equal(sessions.data[0].ipAddress, '203.0.113.77');
  assert.equal(sessions.data[0].userAgent, 'AppBackend/1.0 (e2e)');
});
