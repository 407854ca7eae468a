// Issue 12: auto-join by a verified domain (Gatehouse's `domain_auto_join` policy) through the
// node SDK: a user whose verified email is at an organization's verified domain joins it (role
// member) when signing in, and the access token says so; never with an unverified email, a
// pending domain, or the policy off.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt } from 'jose';
import { useGatehouse } from '../lib/server.mjs';
import { apiRequest, confidentialClient, STRONG_PASSWORD } from '../lib/api.mjs';

const gh = useGatehouse();
const stamp = Date.now().toString(36);

async function user(workos, email, emailVerified) {
  return workos.userManagement.createUser({ email, password: STRONG_PASSWORD, emailVerified });
}

const signIn = (workos, email) =>
  workos.userManagement.authenticateWithPassword({ clientId: gh.clientId, email, password: STRONG_PASSWORD });

test('auto-join: a verified email at a verified domain joins at sign-in; the refusals', async () => {
  const workos = confidentialClient(gh);
  const domain = `join-${stamp}.example`;
  const pendingDomain = `wait-${stamp}.example`;
  const org = await workos.organizations.createOrganization({
    name: `Auto ${stamp}`,
    domainData: [
      { domain, state: 'verified' },
      { domain: pendingDomain, state: 'pending' },
    ],
  });
  // The policy is Gatehouse's: set it with the API (or `gatehouse orgs auto-join ID true`).
  const set = await apiRequest(gh, 'PUT', `/organizations/${org.id}`, { domain_auto_join: true });
  assert.equal(set.status, 200);
  assert.equal(set.body.domain_auto_join, true);

  const ann = await user(workos, `ann@${domain}`, true);
  const auth = await signIn(workos, `ann@${domain}`);
  assert.equal(auth.organizationId, org.id);
  const claims = decodeJwt(auth.accessToken);
  assert.equal(claims.org_id, org.id);
  assert.equal(claims.role, 'member');
  const members = await workos.userManagement.listOrganizationMemberships({ organizationId: org.id });
  assert.deepEqual(
    members.data.map((m) => [m.userId, m.status, m.role.slug]),
    [[ann.id, 'active', 'member']],
  );
  const again = await signIn(workos, `ann@${domain}`);
  assert.equal(again.organizationId, org.id);

  await user(workos, `bob@${domain}`, false);
  const bob = await signIn(workos, `bob@${domain}`);
  assert.equal(bob.organizationId ?? null, null, 'an unverified email does not join');
  await user(workos, `cat@${pendingDomain}`, true);
  const cat = await signIn(workos, `cat@${pendingDomain}`);
  assert.equal(cat.organizationId ?? null, null, 'a pending domain lets no one join');

  await apiRequest(gh, 'PUT', `/organizations/${org.id}`, { domain_auto_join: false });
  await user(workos, `dan@${domain}`, true);
  const dan = await signIn(workos, `dan@${domain}`);
  assert.equal(dan.organizationId ?? null, null, 'the policy off lets no one join');

  const after = await workos.userManagement.listOrganizationMemberships({ organizationId: org.id });
  assert.deepEqual(after.data.map((m) => m.userId), [ann.id]);
});
