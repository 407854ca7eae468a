// Scenario 4 (spec §9, §2.2, §2.3, §3.5): error statuses and JSON shapes as the SDK maps them to exceptions,
// plus password throttling (429 + Retry-After).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  GenericServerException,
  UnauthorizedException,
  NotFoundException,
  RateLimitExceededException,
  AuthenticationException,
  BadRequestException,
  WorkOS,
} from '@workos-inc/node';
import { useGatehouse } from '../lib/server.mjs';
import {
  addCorsOrigin,
  apiRequest,
  confidentialClient,
  createPasswordUser,
  recordFetch,
  rejectsOauth,
  uniqueEmail,
  verifyAccessToken,
  STRONG_PASSWORD,
  OTHER_STRONG_PASSWORD,
} from '../lib/api.mjs';

const gh = useGatehouse();

function assertJsonError(res, status, what) {
  assert.equal(res.status, status, `${what}: expected ${status}, got ${res.status} ${res.text.slice(0, 300)}`);
  assert.match(res.headers.get('content-type') ?? '', /application\/json/, `${what}: error bodies must be JSON`);
  assert.equal(typeof res.body, 'object', `${what}: body must parse as a JSON object: ${res.text.slice(0, 300)}`);
  assert.ok(res.body !== null);
}

test('wrong password → GenericServerException 400 code=invalid_credentials', async () => {
  const workos = confidentialClient(gh);
  const { email } = await createPasswordUser(workos, 'wrongpw');
  await assert.rejects(workos.userManagement.authenticateWithPassword({ email, password: OTHER_STRONG_PASSWORD }), (e) => {
    assert.ok(e instanceof GenericServerException, `expected GenericServerException, got ${e?.name}: ${e?.message}`);
    assert.ok(!(e instanceof AuthenticationException) && !(e instanceof RateLimitExceededException));
    assert.equal(e.name, 'GenericServerException');
    assert.equal(e.status, 400);
    assert.equal(e.code, 'invalid_credentials');
    assert.equal(e.rawData.code, 'invalid_credentials');
    assert.equal(typeof e.rawData.message, 'string');
    return true;
  });
});

test('password grant for an e-mail that has no account → same 400 invalid_credentials (no account probing)', async () => {
  const workos = confidentialClient(gh);
  await assert.rejects(
    workos.userManagement.authenticateWithPassword({ email: uniqueEmail('nobody'), password: STRONG_PASSWORD }),
    (e) => {
      assert.equal(e?.name, 'GenericServerException', `${e?.name}: ${e?.message}`);
      assert.equal(e.status, 400);
      assert.equal(e.code, 'invalid_credentials');
      return true;
    },
  );
});

test('bad API key → UnauthorizedException (401 JSON); missing key → 401 JSON', async () => {
  const bad = confidentialClient(gh, { key: 'sk_test_this_is_not_the_key' });
  await assert.rejects(bad.userManagement.listUsers(), (e) => {
    assert.ok(e instanceof UnauthorizedException, `expected UnauthorizedException, got ${e?.name}: ${e?.message}`);
    assert.equal(e.status, 401);
    return true;
  });
  assertJsonError(await apiRequest(gh, 'GET', '/user_management/users', undefined, { key: 'sk_test_wrong' }), 401, 'bad key');
  assertJsonError(await apiRequest(gh, 'GET', '/user_management/users', undefined, { key: null }), 401, 'no key');
  // A wrong client_secret on the password grant must not authenticate either (400 invalid_client or 401).
  const { email } = await createPasswordUser(confidentialClient(gh), 'badsecret');
  await assert.rejects(bad.userManagement.authenticateWithPassword({ email, password: STRONG_PASSWORD }), (e) => {
    assert.ok(
      e instanceof UnauthorizedException || (e?.name === 'OauthException' && e.status === 400 && ['invalid_client', 'unauthorized_client'].includes(e.error)),
      `expected UnauthorizedException or OauthException invalid_client, got ${e?.name} ${e?.status} ${e?.error ?? e?.code}`,
    );
    return true;
  });
});

test('unknown user → NotFoundException (404 JSON)', async () => {
  const workos = confidentialClient(gh);
  await assert.rejects(workos.userManagement.getUser('user_01ZZZZZZZZZZZZZZZZZZZZZZZZ'), (e) => {
    assert.ok(e instanceof NotFoundException, `expected NotFoundException, got ${e?.name}: ${e?.message}`);
    assert.equal(e.status, 404);
    return true;
  });
  await assert.rejects(workos.userManagement.getUserByExternalId('no-such-external-id'), NotFoundException);
  await assert.rejects(workos.userManagement.updateUser({ userId: 'user_01ZZZZZZZZZZZZZZZZZZZZZZZZ', firstName: 'x' }), NotFoundException);
  const raw = await apiRequest(gh, 'GET', '/user_management/users/user_01ZZZZZZZZZZZZZZZZZZZZZZZZ');
  assertJsonError(raw, 404, 'unknown user');
  assert.equal(typeof raw.body.message, 'string');
});

test('malformed JSON body → 422 invalid_request_parameters (management API), 400 invalid_request (/authenticate)', async () => {
  const users = await apiRequest(gh, 'POST', '/user_management/users', '{"email": "broken@example.test",');
  assertJsonError(users, 422, 'POST /user_management/users with malformed JSON');
  assert.equal(users.body.code, 'invalid_request_parameters');
  const authn = await apiRequest(gh, 'POST', '/user_management/authenticate', '{"grant_type": "password", ', { key: null });
  assertJsonError(authn, 400, 'POST /user_management/authenticate with malformed JSON');
});

test('authenticate: unknown grant_type → 400 invalid_request (spec §3.5)', async () => {
  const raw = await apiRequest(
    gh,
    'POST',
    '/user_management/authenticate',
    { grant_type: 'urn:example:nonsense', client_id: gh.clientId, client_secret: gh.apiKey },
    { key: null },
  );
  assertJsonError(raw, 400, 'unknown grant_type');
  assert.equal(raw.body.error, 'invalid_request');
  assert.equal(typeof raw.body.error_description, 'string');
});

test('authenticate: missing required parameter → 400 invalid_request', async () => {
  const raw = await apiRequest(
    gh,
    'POST',
    '/user_management/authenticate',
    { grant_type: 'password', client_id: gh.clientId, client_secret: gh.apiKey, email: uniqueEmail('nopw') },
    { key: null },
  );
  assertJsonError(raw, 400, 'password grant without password');
  assert.equal(raw.body.error, 'invalid_request');
});

test('authenticate: bogus authorization code → OauthException invalid_grant', async () => {
  const workos = confidentialClient(gh);
  await rejectsOauth(workos.userManagement.authenticateWithCode({ code: 'no-such-code-0123456789' }), 'invalid_grant');
});

test('createUser with a weak password → BadRequestException password_strength_error with errors[]', async () => {
  const workos = confidentialClient(gh);
  await assert.rejects(workos.userManagement.createUser({ email: uniqueEmail('weak'), password: 'password' }), (e) => {
    assert.ok(e instanceof BadRequestException, `expected BadRequestException, got ${e?.name} ${e?.status}: ${e?.message}`);
    assert.equal(e.code, 'password_strength_error');
    assert.ok(Array.isArray(e.errors) && e.errors.length >= 1);
    assert.equal(typeof e.errors[0].code, 'string');
    return true;
  });
});

test('createUser with an e-mail already in use → rejected with a 4xx JSON error', async () => {
  const workos = confidentialClient(gh);
  const email = uniqueEmail('dup');
  await workos.userManagement.createUser({ email });
  // The exact production shape is unconfirmed (spec §10.4); any 400/409/422 JSON error is acceptable.
  await assert.rejects(workos.userManagement.createUser({ email }), (e) => {
    assert.ok([400, 409, 422].includes(e?.status), `${e?.name} ${e?.status} ${e?.message}`);
    return true;
  });
});

test('SDK defaults (retries on → Idempotency-Key on every POST) are accepted', async () => {
  const rec = recordFetch();
  let user;
  let auth;
  try {
    const workos = new WorkOS(gh.apiKey, { apiHostname: '127.0.0.1', port: gh.port, https: false, clientId: gh.clientId });
    const email = uniqueEmail('idem');
    user = await workos.userManagement.createUser({ email, password: STRONG_PASSWORD, emailVerified: true });
    auth = await workos.userManagement.authenticateWithPassword({ email, password: STRONG_PASSWORD });
  } finally {
    rec.restore();
  }
  const posts = rec.calls.filter((c) => c.method === 'POST');
  assert.equal(posts.length, 2);
  for (const c of posts) assert.match(c.headers.get('idempotency-key') ?? '', /^retry-/);
  assert.equal(auth.user.id, user.id);
});

test('authenticate accepts application/x-www-form-urlencoded (spec §3.3)', async () => {
  const workos = confidentialClient(gh);
  const email = uniqueEmail('form');
  const user = await workos.userManagement.createUser({ email, password: STRONG_PASSWORD, emailVerified: true });
  const res = await fetch(`${gh.baseUrl}/user_management/authenticate`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'password', client_id: gh.clientId, client_secret: gh.apiKey, email, password: STRONG_PASSWORD }),
  });
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.user.id, user.id);
  await verifyAccessToken(gh, workos, body.access_token, { sub: user.id });
});

test('CORS origins: added once; a duplicate → 409 with WorkOS\'s documented code', async () => {
  const origin = 'https://duplicate.example.test';
  await addCorsOrigin(gh, origin);
  const dup = await apiRequest(gh, 'POST', '/user_management/cors_origins', { origin });
  assertJsonError(dup, 409, 'duplicate CORS origin');
  assert.equal(typeof dup.body.message, 'string');
  assert.equal(dup.body.code, 'duplicate_cors_origin');
});

test('JWKS: public for the real client id; unknown client id → 404 JSON', async () => {
  const ok = await fetch(`${gh.baseUrl}/sso/jwks/${gh.clientId}`);
  assert.equal(ok.status, 200);
  assert.match(ok.headers.get('content-type') ?? '', /application\/json/);
  const jwks = await ok.json();
  assert.ok(Array.isArray(jwks.keys) && jwks.keys.length >= 1);
  for (const k of jwks.keys) {
    assert.equal(k.kty, 'RSA');
    assert.ok(k.kid && k.n && k.e);
    if (k.alg) assert.equal(k.alg, 'RS256');
    if (k.use) assert.equal(k.use, 'sig');
    assert.ok(!('d' in k) && !('p' in k), 'JWKS must not leak private key parts');
    assert.ok(Buffer.from(k.n, 'base64url').length >= 256, 'RSA modulus ≥ 2048 bits');
  }
  assert.equal(gh.jwksUrl, `${gh.baseUrl}/sso/jwks/${gh.clientId}`);
  const bad = await apiRequest(gh, 'GET', '/sso/jwks/client_01ZZZZZZZZZZZZZZZZZZZZZZZZ', undefined, { key: null });
  assertJsonError(bad, 404, 'JWKS of an unknown client');
});

test('throttling: 10 wrong passwords for one account from one address → 11th attempt 429 RateLimitExceededException with Retry-After', async (t) => {
  const workos = confidentialClient(gh);
  const { email } = await createPasswordUser(workos, 'throttle');
  const { email: bystander } = await createPasswordUser(workos, 'bystander');

  for (let i = 1; i <= 10; i++) {
    await assert.rejects(workos.userManagement.authenticateWithPassword({ email, password: OTHER_STRONG_PASSWORD }), (e) => {
      assert.equal(e?.status, 400, `attempt ${i}: expected 400 invalid_credentials, got ${e?.status} ${e?.name} ${e?.code}`);
      assert.equal(e.code, 'invalid_credentials');
      return true;
    });
  }

  await t.test('SDK sees RateLimitExceededException with retryAfter', async () => {
    await assert.rejects(workos.userManagement.authenticateWithPassword({ email, password: OTHER_STRONG_PASSWORD }), (e) => {
      assert.ok(e instanceof RateLimitExceededException, `expected RateLimitExceededException, got ${e?.name} ${e?.status} ${e?.code}`);
      assert.equal(e.status, 429);
      assert.ok(Number.isFinite(e.retryAfter) && e.retryAfter > 0, `Retry-After must be a positive number of seconds, got ${e.retryAfter}`);
      assert.ok(e.retryAfter <= 15 * 60, 'Retry-After at most the 15 minute window');
      return true;
    });
  });

  await t.test('raw response: 429, Retry-After header, {"code":"rate_limit_exceeded","message"}', async () => {
    const res = await apiRequest(gh, 'POST', '/user_management/authenticate', {
      grant_type: 'password',
      client_id: gh.clientId,
      client_secret: gh.apiKey,
      email,
      password: OTHER_STRONG_PASSWORD,
    });
    assertJsonError(res, 429, 'throttled password grant');
    assert.match(res.headers.get('retry-after') ?? '', /^\d+$/);
    assert.equal(res.body.code, 'rate_limit_exceeded');
    assert.equal(typeof res.body.message, 'string');
  });

  await t.test('even the correct password is refused while throttled', async () => {
    await assert.rejects(workos.userManagement.authenticateWithPassword({ email, password: STRONG_PASSWORD }), RateLimitExceededException);
  });

  await t.test('another account is not affected', async () => {
    const ok = await workos.userManagement.authenticateWithPassword({ email: bystander, password: STRONG_PASSWORD });
    assert.equal(ok.user.email, bystander);
  });
});
