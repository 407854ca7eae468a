// Scenario 8 (spec §9, §3.5, §3.13, §4.6): two-factor authentication with TOTP through the official
// node SDK (v11): enrol a factor, password sign-in → 403 mfa_challenge → challenge → authenticateWithTotp;
// the environment setting mfa_required → 403 mfa_enrollment; and the failure paths (wrong code, replay,
// challenge reuse, bad pending token, too many attempts).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GenericServerException, RateLimitExceededException } from '@workos-inc/node';
import { useGatehouse } from '../lib/server.mjs';
import { apiRequest, confidentialClient, expectStepUp as stepUp, uniqueEmail, verifyAccessToken, STRONG_PASSWORD } from '../lib/api.mjs';
import { totpCode, wrongTotpCode as wrongCode } from '../lib/totp.mjs';

const gh = useGatehouse();

test('scenario 8: enrol TOTP, password sign-in → mfa_challenge → challengeFactor → authenticateWithTotp', async () => {
  const workos = confidentialClient(gh);
  const email = uniqueEmail('mfa');
  const user = await workos.userManagement.createUser({ email, password: STRONG_PASSWORD, emailVerified: true });

  const { authenticationFactor: factor, authenticationChallenge } = await workos.multiFactorAuth.createUserAuthFactor({
    userId: user.id,
    type: 'totp',
  });
  assert.match(factor.id, /^auth_factor_/);
  assert.equal(factor.type, 'totp');
  assert.equal(factor.userId, user.id);
  assert.equal(factor.totp.user, email);
  assert.match(factor.totp.qrCode, /^data:image\/png;base64,/);
  assert.match(factor.totp.uri, /^otpauth:\/\/totp\//);
  assert.match(factor.totp.secret, /^[A-Z2-7]+$/);
  assert.equal(authenticationChallenge.authenticationFactorId, factor.id);

  const listed = await workos.multiFactorAuth.listUserAuthFactors({ userId: user.id });
  assert.deepEqual(listed.data.map((f) => f.id), [factor.id]);

  const e = await stepUp(workos, email);
  assert.equal(e.code, 'mfa_challenge');
  assert.ok(e.pendingAuthenticationToken);
  assert.deepEqual(e.rawData.authentication_factors, [{ id: factor.id, type: 'totp' }]);
  assert.equal(e.rawData.user.id, user.id);

  const challenge = await workos.multiFactorAuth.challengeFactor({ authenticationFactorId: factor.id });
  assert.match(challenge.id, /^auth_challenge_/);
  assert.equal(challenge.authenticationFactorId, factor.id);

  // Wrong code: refused, and the pending token stays usable.
  await assert.rejects(
    workos.userManagement.authenticateWithTotp({
      code: wrongCode(factor.totp.secret),
      pendingAuthenticationToken: e.pendingAuthenticationToken,
      authenticationChallengeId: challenge.id,
    }),
    (err) => err instanceof GenericServerException && err.status === 400 && err.rawData?.code === 'invalid_one_time_code',
  );
  const code = totpCode(factor.totp.secret);
  const auth = await workos.userManagement.authenticateWithTotp({
    code,
    pendingAuthenticationToken: e.pendingAuthenticationToken,
    authenticationChallengeId: challenge.id,
  });
  assert.equal(auth.user.id, user.id);
  assert.equal(auth.authenticationMethod, 'Password');
  assert.ok(auth.refreshToken);
  await verifyAccessToken(gh, workos, auth.accessToken, { sub: user.id });

  // Challenge reuse and code replay are refused.
  const again = await stepUp(workos, email);
  await assert.rejects(
    workos.userManagement.authenticateWithTotp({ code, pendingAuthenticationToken: again.pendingAuthenticationToken, authenticationChallengeId: challenge.id }),
    (err) => err.rawData?.code === 'one_time_code_previously_used',
  );
  const fresh = await workos.multiFactorAuth.challengeFactor({ authenticationFactorId: factor.id });
  await assert.rejects(
    workos.userManagement.authenticateWithTotp({ code, pendingAuthenticationToken: again.pendingAuthenticationToken, authenticationChallengeId: fresh.id }),
    (err) => err.rawData?.code === 'invalid_one_time_code',
  );
  // An unknown pending token.
  await assert.rejects(
    workos.userManagement.authenticateWithTotp({ code, pendingAuthenticationToken: 'not-a-token', authenticationChallengeId: fresh.id }),
    (err) => err instanceof GenericServerException && err.rawData?.code === 'invalid_pending_authentication_token',
  );

  // The standalone verify endpoint.
  const other = await workos.multiFactorAuth.challengeFactor({ authenticationFactorId: factor.id });
  const verdict = await workos.multiFactorAuth.verifyChallenge({ authenticationChallengeId: other.id, code: wrongCode(factor.totp.secret) });
  assert.equal(verdict.valid, false);
  assert.equal(verdict.challenge.id, other.id);

  // Removing the factor ends the challenges.
  await workos.multiFactorAuth.deleteFactor(factor.id);
  const plain = await workos.userManagement.authenticateWithPassword({ email, password: STRONG_PASSWORD });
  assert.equal(plain.user.id, user.id);
});

test('too many wrong codes → 429 rate_limit_exceeded with Retry-After', async () => {
  const workos = confidentialClient(gh);
  const email = uniqueEmail('mfa-limit');
  const user = await workos.userManagement.createUser({ email, password: STRONG_PASSWORD, emailVerified: true });
  const { authenticationFactor: factor } = await workos.multiFactorAuth.createUserAuthFactor({ userId: user.id, type: 'totp' });
  const e = await stepUp(workos, email);
  const challenge = await workos.multiFactorAuth.challengeFactor({ authenticationFactorId: factor.id });
  const attempt = (code) =>
    workos.userManagement.authenticateWithTotp({ code, pendingAuthenticationToken: e.pendingAuthenticationToken, authenticationChallengeId: challenge.id });
  for (let i = 0; i < 5; i++) {
    await assert.rejects(attempt(wrongCode(factor.totp.secret)), (err) => err.rawData?.code === 'invalid_one_time_code');
  }
  await assert.rejects(attempt(totpCode(factor.totp.secret)), (err) => err instanceof RateLimitExceededException);
  const raw = await apiRequest(gh, 'POST', '/user_management/authenticate', {
    grant_type: 'urn:workos:oauth:grant-type:mfa-totp',
    client_id: gh.clientId,
    client_secret: gh.apiKey,
    code: totpCode(factor.totp.secret),
    pending_authentication_token: e.pendingAuthenticationToken,
    authentication_challenge_id: challenge.id,
  });
  assert.equal(raw.status, 429);
  assert.ok(Number(raw.headers.get('retry-after')) > 0);
});

test('mfa_required: a user without a factor gets 403 mfa_enrollment, enrols, and finishes with the enrolment challenge', async () => {
  const workos = confidentialClient(gh);
  const email = uniqueEmail('mfa-required');
  const user = await workos.userManagement.createUser({ email, password: STRONG_PASSWORD, emailVerified: true });
  const { runCli } = await import('../lib/server.mjs');
  await runCli(['env', 'set', 'development', 'mfa_required=true', '--data', gh.dataDir]);
  try {
    // The running server picks the change up within two seconds.
    let e;
    for (let i = 0; i < 40; i++) {
      e = await stepUp(workos, email).catch(() => null);
      if (e === null) {
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      break;
    }
    assert.ok(e, 'password sign-in must be stopped once mfa_required is on');
    assert.equal(e.code, 'mfa_enrollment');
    assert.equal(e.rawData.user.id, user.id);
    assert.equal(e.rawData.authentication_factors, undefined);
    const { authenticationFactor, authenticationChallenge } = await workos.multiFactorAuth.createUserAuthFactor({ userId: user.id, type: 'totp' });
    const auth = await workos.userManagement.authenticateWithTotp({
      code: totpCode(authenticationFactor.totp.secret),
      pendingAuthenticationToken: e.pendingAuthenticationToken,
      authenticationChallengeId: authenticationChallenge.id,
    });
    assert.equal(auth.user.id, user.id);
    assert.equal(auth.authenticationMethod, 'Password');
  } finally {
    await runCli(['env', 'set', 'development', 'mfa_required=false', '--data', gh.dataDir]);
  }
});
