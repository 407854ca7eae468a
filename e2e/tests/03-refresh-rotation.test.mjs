// Scenario 3 (spec §9): refresh-token rotation, the reuse grace window, reuse detection, and revoke.
// The server runs with refresh_grace_secs=1 so the "after the grace window" case needs only a short wait.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useGatehouse } from '../lib/server.mjs';
import {
  confidentialClient,
  verifyAccessToken,
  rejectsOauth,
  uniqueEmail,
  sleep,
  STRONG_PASSWORD,
  COOKIE_PASSWORD,
} from '../lib/api.mjs';

const GRACE_SECS = 1;
const ACCESS_TTL_SECS = 120;
const gh = useGatehouse({ settings: { refresh_grace_secs: GRACE_SECS, access_token_ttl_secs: ACCESS_TTL_SECS } });

async function login(workos, prefix, session) {
  const email = uniqueEmail(prefix);
  const user = await workos.userManagement.createUser({ email, password: STRONG_PASSWORD, emailVerified: true });
  const auth = await workos.userManagement.authenticateWithPassword({ email, password: STRONG_PASSWORD, session });
  const { payload } = await verifyAccessToken(gh, workos, auth.accessToken, { sub: user.id });
  assert.equal(payload.exp - payload.iat, ACCESS_TTL_SECS, 'access_token_ttl_secs (set with `gatehouse env set`) is honoured');
  return { user, auth, sid: payload.sid };
}

test('rotation: rt1 → rt2; rt1 reused inside the grace window returns the same rt2', async () => {
  const workos = confidentialClient(gh);
  const { user, auth, sid } = await login(workos, 'rotate');
  const rt1 = auth.refreshToken;

  const r2 = await workos.userManagement.authenticateWithRefreshToken({ refreshToken: rt1 });
  const rt2 = r2.refreshToken;
  assert.notEqual(rt2, rt1, 'refresh must rotate the refresh token');
  assert.equal(r2.user.id, user.id);
  const p2 = (await verifyAccessToken(gh, workos, r2.accessToken, { sub: user.id })).payload;
  assert.equal(p2.sid, sid, 'refresh keeps the session');

  // Immediately (well inside the 1 s grace window) a retry with rt1 — e.g. a lost response — gets rt2 again.
  const again = await workos.userManagement.authenticateWithRefreshToken({ refreshToken: rt1 });
  assert.equal(again.refreshToken, rt2, 'reuse of rt1 within the grace window must return the SAME rt2');
  assert.equal((await verifyAccessToken(gh, workos, again.accessToken)).payload.sid, sid);

  // rt2 itself still works and rotates to rt3.
  const r3 = await workos.userManagement.authenticateWithRefreshToken({ refreshToken: rt2 });
  assert.notEqual(r3.refreshToken, rt2);
  assert.notEqual(r3.refreshToken, rt1);
});

test('reuse of a rotated token after the grace window → invalid_grant and the whole session is revoked', async () => {
  const workos = confidentialClient(gh);
  const { user, auth, sid } = await login(workos, 'reuse');
  const rt1 = auth.refreshToken;
  const r2 = await workos.userManagement.authenticateWithRefreshToken({ refreshToken: rt1 });
  const rt2 = r2.refreshToken;

  // Wait past the grace window (with margin for whole-second bookkeeping on the server).
  await sleep(GRACE_SECS * 1000 + 1200);

  await rejectsOauth(workos.userManagement.authenticateWithRefreshToken({ refreshToken: rt1 }), 'invalid_grant');
  // Reuse detection: the session the token belonged to is now revoked, so rt2 fails as well.
  await rejectsOauth(workos.userManagement.authenticateWithRefreshToken({ refreshToken: rt2 }), 'invalid_grant');

  const sessions = await workos.userManagement.listSessions(user.id);
  const s = sessions.data.find((x) => x.id === sid);
  assert.ok(s, `GET /user_management/users/${user.id}/sessions lists ${sid}`);
  assert.equal(s.object, 'session');
  assert.equal(s.status, 'revoked');
});

test('revokeSession → refresh fails with invalid_grant', async () => {
  const workos = confidentialClient(gh);
  const { user, auth, sid } = await login(workos, 'revoke');

  const listed = await workos.userManagement.listSessions(user.id);
  const active = listed.data.find((x) => x.id === sid);
  assert.ok(active, 'session is listed');
  assert.equal(active.status, 'active');
  assert.equal(active.userId, user.id);
  assert.equal(active.authMethod, 'password');

  await workos.userManagement.revokeSession({ sessionId: sid });
  await rejectsOauth(workos.userManagement.authenticateWithRefreshToken({ refreshToken: auth.refreshToken }), 'invalid_grant');
});

test('CookieSession.refresh after revoke → {authenticated:false, reason:"invalid_grant"}', async () => {
  const workos = confidentialClient(gh);
  const { auth, sid } = await login(workos, 'cookie', { sealSession: true, cookiePassword: COOKIE_PASSWORD });
  const cookie = workos.userManagement.loadSealedSession({ sessionData: auth.sealedSession, cookiePassword: COOKIE_PASSWORD });
  const ok = await cookie.authenticate();
  assert.equal(ok.authenticated, true, JSON.stringify(ok));
  assert.equal(ok.sessionId, sid);

  await workos.userManagement.revokeSession({ sessionId: sid });
  const r = await cookie.refresh();
  assert.equal(r.authenticated, false, JSON.stringify(r));
  assert.equal(r.reason, 'invalid_grant');
});

test('a refresh token that never existed → invalid_grant', async () => {
  const workos = confidentialClient(gh);
  await rejectsOauth(
    workos.userManagement.authenticateWithRefreshToken({ refreshToken: 'not-a-real-refresh-token-0123456789' }),
    'invalid_grant',
  );
});
