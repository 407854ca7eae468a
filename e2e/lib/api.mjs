// Helpers shared by the test files: raw management API calls, SDK construction, token verification.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { WorkOS, AuthenticationException, GenericServerException } from '@workos-inc/node';
import { createRemoteJWKSet, jwtVerify, decodeProtectedHeader } from 'jose';

// The public-client tests must not pick up a key from the environment.
delete process.env.WORKOS_API_KEY;
delete process.env.WORKOS_CLIENT_ID;

/** A strong password that any reasonable strength policy (zxcvbn etc.) accepts. */
export const STRONG_PASSWORD = 'Gatehouse-e2e!Tr0mbone-Quasar-71';
export const OTHER_STRONG_PASSWORD = 'Another-Str0ng!Pelican-Harbor-38';
/** 32+ characters, as workos-node requires for sealing. */
export const COOKIE_PASSWORD = 'e2e-cookie-password-0123456789abcdefghijkl';

/** A unique e-mail address per call (tests share nothing, but keep addresses unique anyway). */
export function uniqueEmail(prefix = 'user') {
  return `${prefix}-${randomBytes(5).toString('hex')}@example.test`;
}

/** Raw JSON call to the management API with the environment's API key. Returns `{status, headers, body, text}`. */
export async function apiRequest(gh, method, path, body, { key = gh.apiKey, headers = {} } = {}) {
  const res = await fetch(gh.baseUrl + path, {
    method,
    headers: {
      ...(key ? { Authorization: `Bearer ${key}` } : {}),
      ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      Accept: 'application/json',
      ...headers,
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    redirect: 'manual',
  });
  const text = await res.text();
  let parsed;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

function describe(res) {
  return `${res.status} ${res.headers.get('content-type')} ${res.text.slice(0, 500)}`;
}

/** `POST /user_management/redirect_uris` → 201 `{object:"redirect_uri", …}`. */
export async function addRedirectUri(gh, uri) {
  const res = await apiRequest(gh, 'POST', '/user_management/redirect_uris', { uri });
  assert.equal(res.status, 201, `POST /user_management/redirect_uris ${uri}: ${describe(res)}`);
  assert.equal(res.body?.object, 'redirect_uri', describe(res));
  assert.equal(res.body.uri, uri);
  return res.body;
}

/** Registers `uri` once per server: later calls with the same URI await the first registration. */
export function ensureRedirectUri(gh, uri) {
  gh.registeredRedirectUris ??= new Map();
  if (!gh.registeredRedirectUris.has(uri)) gh.registeredRedirectUris.set(uri, addRedirectUri(gh, uri));
  return gh.registeredRedirectUris.get(uri);
}

/** An authorize URL built by hand (for cases the SDK helper cannot express); `params` are query parameters. */
export function authorizeUrl(gh, params = {}) {
  const q = new URLSearchParams({ client_id: gh.clientId, response_type: 'code', provider: 'authkit', ...params });
  return `${gh.baseUrl}/user_management/authorize?${q}`;
}

/**
 * An authorize URL from the node SDK's `getAuthorizationUrl` (provider `authkit` unless `options` names
 * another), after registering `redirectUri` once.
 */
export async function sdkAuthorizeUrl(gh, redirectUri, options = {}) {
  await ensureRedirectUri(gh, redirectUri);
  return confidentialClient(gh).userManagement.getAuthorizationUrl({ provider: 'authkit', redirectUri, clientId: gh.clientId, ...options });
}

/** `POST /user_management/cors_origins` → 201 `{object:"cors_origin", …}`. */
export async function addCorsOrigin(gh, origin) {
  const res = await apiRequest(gh, 'POST', '/user_management/cors_origins', { origin });
  assert.equal(res.status, 201, `POST /user_management/cors_origins ${origin}: ${describe(res)}`);
  assert.equal(res.body?.object, 'cors_origin', describe(res));
  assert.equal(res.body.origin, origin);
  return res.body;
}

/**
 * Wraps `globalThis.fetch` so that every request an SDK client makes is recorded.
 * Must be installed BEFORE the SDK client is constructed (workos-node binds fetch in its constructor).
 * `limit` aborts runaway loops (e.g. autoPagination against a server that never ends the list).
 */
export function recordFetch({ limit = Infinity } = {}) {
  const calls = [];
  const original = globalThis.fetch;
  globalThis.fetch = async (input, init = {}) => {
    const url = typeof input === 'string' ? input : input.url;
    const headers = new Headers(init.headers ?? (typeof input === 'object' ? input.headers : undefined));
    calls.push({ url, method: (init.method ?? 'GET').toUpperCase(), headers, body: init.body });
    if (calls.length > limit) {
      throw new Error(`recordFetch: more than ${limit} requests (runaway loop?) — last: ${url}`);
    }
    return original(input, init);
  };
  return {
    calls,
    restore() {
      globalThis.fetch = original;
    },
  };
}

/** The confidential (API-key) node SDK client, as a server-side app builds it. */
export function confidentialClient(gh, { key = gh.apiKey } = {}) {
  return new WorkOS(key, { apiHostname: '127.0.0.1', port: gh.port, https: false, clientId: gh.clientId, maxRetries: 0 });
}

/** The public (no API key, PKCE) node SDK client. */
export function publicClient(gh) {
  return new WorkOS({ clientId: gh.clientId, apiHostname: '127.0.0.1', port: gh.port, https: false, maxRetries: 0 });
}

const jwksCache = new Map();

/**
 * Verifies an access token the way the SDKs do (JWKS via `getJwksUrl`) plus the issuer, then checks
 * the header and the claims the spec requires. Returns `{payload, protectedHeader}`.
 */
export async function verifyAccessToken(gh, workos, token, { sub, audience = gh.clientId } = {}) {
  const jwksUrl = workos.userManagement.getJwksUrl(gh.clientId);
  assert.equal(jwksUrl, `${gh.baseUrl}/sso/jwks/${gh.clientId}`);
  let jwks = jwksCache.get(jwksUrl);
  if (!jwks) {
    jwks = createRemoteJWKSet(new URL(jwksUrl));
    jwksCache.set(jwksUrl, jwks);
  }
  const expectedIssuer = `${gh.baseUrl}/user_management/${gh.clientId}`;
  assert.equal(gh.issuer, expectedIssuer, 'issuer printed by `gatehouse init` must be <public url>/user_management/<client_id>');
  const header = decodeProtectedHeader(token);
  assert.equal(header.alg, 'RS256');
  assert.equal(header.typ, 'JWT');
  assert.ok(typeof header.kid === 'string' && header.kid.length > 0, 'token header must carry a kid');
  const { payload, protectedHeader } = await jwtVerify(token, jwks, { issuer: expectedIssuer });
  assert.equal(payload.iss, expectedIssuer);
  assert.match(String(payload.sub), /^user_/);
  if (sub) assert.equal(payload.sub, sub);
  assert.match(String(payload.sid), /^session_/);
  assert.ok(Number.isInteger(payload.iat), 'iat must be integer seconds');
  assert.ok(Number.isInteger(payload.exp), 'exp must be integer seconds');
  assert.ok(payload.exp > payload.iat, 'exp must be after iat');
  assert.ok(Math.abs(payload.iat - Date.now() / 1000) < 120, 'iat must be about now');
  assert.ok(typeof payload.jti === 'string' && payload.jti.length > 0, 'jti must be present');
  assert.ok(Number.isInteger(payload.auth_time), `auth_time must be present (integer seconds), got ${payload.auth_time}`);
  assert.ok(payload.auth_time <= payload.iat, 'auth_time is the sign-in, not after the token');
  if (audience !== null) {
    const aud = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    assert.ok(aud.includes(audience), `aud must contain ${audience} (default JWT template), got ${JSON.stringify(payload.aud)}`);
  }
  return { payload, protectedHeader };
}

/** Asserts that `promise` rejects with an `OauthException` with the given OAuth `error` code. */
export async function rejectsOauth(promise, error, status = 400) {
  await assert.rejects(promise, (e) => {
    assert.equal(e?.name, 'OauthException', `expected OauthException, got ${e?.name}: ${e?.message} ${JSON.stringify(e?.rawData)}`);
    assert.equal(e.status, status);
    assert.equal(e.error, error, `expected error=${error}, got ${e.error} (${e.errorDescription})`);
    return true;
  });
}

/** Creates a user with `STRONG_PASSWORD` and a verified email (plus `fields`); returns `{email, user}`. */
export async function createPasswordUser(workos, prefix, fields = {}) {
  const email = uniqueEmail(prefix);
  const user = await workos.userManagement.createUser({ email, password: STRONG_PASSWORD, emailVerified: true, ...fields });
  return { email, user };
}

/** A six-digit code that is certainly not `code`. */
export const wrongCode = (code) => String((Number(code) + 1) % 1_000_000).padStart(6, '0');

/** Asserts a 400 `{code, message}` error as workos-node surfaces it (GenericServerException with `code`). */
export async function rejectsCode(promise, code) {
  await assert.rejects(promise, (e) => {
    assert.equal(e?.status, 400, `expected 400 ${code}, got ${e?.name} ${e?.status}: ${e?.message} ${JSON.stringify(e?.rawData)}`);
    assert.ok(e instanceof GenericServerException, `expected GenericServerException(${code}), got ${e?.name}`);
    assert.equal(e.code, code, `expected code=${code}, got ${JSON.stringify(e.rawData)}`);
    assert.equal(typeof e.rawData.message, 'string');
    return true;
  });
}

/**
 * A password sign-in that must be stopped for a second step (403: email verification, two-factor);
 * returns the SDK's AuthenticationException.
 */
export async function expectStepUp(workos, email, password = STRONG_PASSWORD) {
  let caught;
  await assert.rejects(workos.userManagement.authenticateWithPassword({ email, password }), (e) => {
    caught = e;
    return true;
  });
  assert.ok(caught instanceof AuthenticationException, `expected AuthenticationException, got ${caught?.name}: ${caught?.message} ${JSON.stringify(caught?.rawData)}`);
  assert.equal(caught.status, 403);
  return caught;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
