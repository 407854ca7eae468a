// auth_time and re-authentication: authkit-nextjs's checkRecentAuth / useRecentAuth read the access
// token's `auth_time` (the sign-in that started the session, kept across refreshes) and send stale users
// back through `getSignInUrl({ maxAge })`, which forwards OIDC `max_age` to /user_management/authorize.
// The decision is authkit-nextjs's own `evaluateRecentAuth` (what checkRecentAuth and useRecentAuth
// return), taken from the Next.js example's installed package: its module imports `next/server`, which
// plain Node cannot resolve outside Next.js, so the function's own source is read out of it and compiled.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { useGatehouse, REPO_ROOT } from '../lib/server.mjs';
import { confidentialClient, createPasswordUser, sdkAuthorizeUrl, sleep, STRONG_PASSWORD } from '../lib/api.mjs';

const gh = useGatehouse();
const REDIRECT_URI = 'http://localhost:3000/e2e/recent-auth/callback';
const NEXTJS_UTILS = join(
  REPO_ROOT,
  process.env.E2E_SDK === 'latest' ? 'e2e/latest/nextjs-convex' : 'examples/nextjs-convex',
  'node_modules/@workos-inc/authkit-nextjs/dist/esm/utils.js',
);

test('auth_time: recent after sign-in, kept across refreshes, stale for checkRecentAuth once maxAge passes', async () => {
  const source = readFileSync(NEXTJS_UTILS, 'utf8').match(/export function evaluateRecentAuth\([\s\S]*?\n}\n/);
  assert.ok(source, `evaluateRecentAuth not found in ${NEXTJS_UTILS}`);
  const evaluateRecentAuth = new Function(`${source[0].replace(/^export /, '')}; return evaluateRecentAuth;`)();
  const workos = confidentialClient(gh);
  const { user } = await createPasswordUser(workos, 'recent');
  const before = Math.floor(Date.now() / 1000);
  const auth = await workos.userManagement.authenticateWithPassword({ email: user.email, password: STRONG_PASSWORD });
  const first = decodeJwt(auth.accessToken);
  assert.ok(Number.isInteger(first.auth_time), JSON.stringify(first));
  assert.ok(first.auth_time >= before && first.auth_time <= first.iat, JSON.stringify(first));
  const now = () => Math.floor(Date.now() / 1000);
  assert.equal(evaluateRecentAuth({ authTime: first.auth_time, maxAgeSeconds: 300, nowSeconds: now() }).isStale, false);

  await sleep(2100);
  const refreshed = await workos.userManagement.authenticateWithRefreshToken({ refreshToken: auth.refreshToken });
  const second = decodeJwt(refreshed.accessToken);
  assert.equal(second.auth_time, first.auth_time, 'a refresh keeps the sign-in time');
  assert.ok(second.iat > first.auth_time);
  const check = evaluateRecentAuth({ authTime: second.auth_time, maxAgeSeconds: 1, nowSeconds: now() });
  assert.equal(check.isStale, true, 'older than maxAge: checkRecentAuth says re-authenticate');
  assert.equal(check.authenticatedAt.getTime(), first.auth_time * 1000);
});

test('getSignInUrl({ maxAge }) / prompt=login lead to a fresh sign-in; prompt=none is refused with login_required', async () => {
  for (const options of [{ maxAge: 0 }, { maxAge: 300 }, { prompt: 'login' }]) {
    const url = await sdkAuthorizeUrl(gh, REDIRECT_URI, { state: 's', ...options });
    assert.ok(Object.keys(options).every((k) => url.includes(k === 'maxAge' ? 'max_age=' : `${k}=`)), `the SDK forwards ${JSON.stringify(options)}: ${url}`);
    const res = await fetch(url, { redirect: 'manual' });
    assert.equal(res.status, 302, url);
    assert.match(res.headers.get('location'), /^\/authkit\/sign-in\?request=/, `${JSON.stringify(options)} → the sign-in page`);
  }
  const url = await sdkAuthorizeUrl(gh, REDIRECT_URI, { state: 's', prompt: 'none' });
  const res = await fetch(url, { redirect: 'manual' });
  assert.equal(res.status, 302);
  const back = new URL(res.headers.get('location'));
  assert.equal(`${back.origin}${back.pathname}`, REDIRECT_URI);
  assert.equal(back.searchParams.get('error'), 'login_required');
  assert.equal(back.searchParams.get('state'), 's');
});
