// The older MFA API through the node SDK, as a new user calls it: `enrollFactor({ type: 'totp',
// issuer, user })` sends no user_id, so Gatehouse enrols a factor of no user (as WorkOS does);
// `challengeFactor` and `verifyChallenge` then check codes computed like an authenticator app.
// The recording proxy checks every answer against WorkOS's OpenAPI document (lib/server.mjs).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UnprocessableEntityException } from '@workos-inc/node';
import { useGatehouse } from '../lib/server.mjs';
import { confidentialClient, recordFetch, uniqueEmail, STRONG_PASSWORD } from '../lib/api.mjs';
import { authenticator, wrongTotpCode } from '../lib/totp.mjs';

const gh = useGatehouse();

// `multiFactorAuth` in node 12, `mfa` before it.
const mfaOf = (workos) => workos.multiFactorAuth ?? workos.mfa;

test('enrollFactor without a user → challengeFactor → verifyChallenge', async () => {
  // A client made while fetch is recorded keeps the recording fetch: it makes this one call only.
  const rec = recordFetch({ limit: 5 });
  let factor;
  try {
    factor = await mfaOf(confidentialClient(gh)).enrollFactor({ type: 'totp', issuer: 'Acme', user: 'ada@example.com' });
  } finally {
    rec.restore();
  }
  const mfa = mfaOf(confidentialClient(gh));
  // What the SDK sends: no user_id (every such call was a 422 while Gatehouse required one).
  const sent = rec.calls.find((c) => c.method === 'POST' && c.url.endsWith('/auth/factors/enroll'));
  assert.ok(sent, 'the SDK called POST /auth/factors/enroll');
  assert.deepEqual(JSON.parse(sent.body), { type: 'totp', totp_issuer: 'Acme', totp_user: 'ada@example.com' });
  assert.match(factor.id, /^auth_factor_/);
  assert.equal(factor.type, 'totp');
  assert.equal(factor.totp.issuer, 'Acme');
  assert.equal(factor.totp.user, 'ada@example.com');
  assert.match(factor.totp.secret, /^[A-Z2-7]+$/);
  assert.match(factor.totp.qrCode, /^data:image\/png;base64,/);
  assert.match(factor.totp.uri, /^otpauth:\/\/totp\/Acme:/);
  const read = await mfa.getFactor(factor.id);
  assert.equal(read.id, factor.id);
  assert.equal(read.totp.secret, undefined, 'the secret is shown once');

  const app = authenticator(factor.totp.secret);
  const challenge = await mfa.challengeFactor({ authenticationFactorId: factor.id });
  assert.match(challenge.id, /^auth_challenge_/);
  assert.equal(challenge.authenticationFactorId, factor.id);
  const wrong = await mfa.verifyChallenge({ authenticationChallengeId: challenge.id, code: wrongTotpCode(factor.totp.secret) });
  assert.equal(wrong.valid, false);
  const right = await mfa.verifyChallenge({ authenticationChallengeId: challenge.id, code: await app.next() });
  assert.equal(right.valid, true);
  assert.equal(right.challenge.id, challenge.id);
  // A spent challenge is refused with 422 (WorkOS's document: `{ message }`, here with its code).
  await assert.rejects(
    mfa.verifyChallenge({ authenticationChallengeId: challenge.id, code: app.last }),
    (err) => err instanceof UnprocessableEntityException,
  );
  // The same code on a new challenge is a replay.
  const again = await mfa.challengeFactor({ authenticationFactorId: factor.id });
  assert.equal((await mfa.verifyChallenge({ authenticationChallengeId: again.id, code: app.last })).valid, false);
  assert.equal((await mfa.verifyChallenge({ authenticationChallengeId: again.id, code: await app.next() })).valid, true);

  // Without an account name there is nothing for the authenticator app to show: 422.
  await assert.rejects(mfa.enrollFactor({ type: 'totp', issuer: 'Acme' }), (err) => err instanceof UnprocessableEntityException);

  await mfa.deleteFactor(factor.id);
  await assert.rejects(mfa.getFactor(factor.id), (err) => err.status === 404);
});

test('a factor of no user is never asked for at a user\'s sign-in', async () => {
  const workos = confidentialClient(gh);
  const email = uniqueEmail('mfa-standalone');
  await mfaOf(workos).enrollFactor({ type: 'totp', issuer: 'Acme', user: email });
  const user = await workos.userManagement.createUser({ email, password: STRONG_PASSWORD, emailVerified: true });
  const auth = await workos.userManagement.authenticateWithPassword({ email, password: STRONG_PASSWORD });
  assert.equal(auth.user.id, user.id);
  const factors = await workos.multiFactorAuth.listUserAuthFactors({ userId: user.id });
  assert.deepEqual(factors.data, []);
});
