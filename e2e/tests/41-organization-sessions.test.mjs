// Issue 12: sessions in an organization through the official node SDK: the token's org_id, role,
// roles and permissions; organization_selection_required and authenticateWithOrganizationSelection;
// switching with authenticateWithRefreshToken({ organizationId }); the failure paths.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AuthenticationException } from '@workos-inc/node';
import { useGatehouse } from '../lib/server.mjs';
import { confidentialClient, uniqueEmail, verifyAccessToken, STRONG_PASSWORD } from '../lib/api.mjs';

const gh = useGatehouse();
const stamp = Date.now().toString(36);

async function setUp(workos) {
  const acme = await workos.organizations.createOrganization({ name: `Acme ${stamp}` });
  const globex = await workos.organizations.createOrganization({ name: `Globex ${stamp}` });
  const email = uniqueEmail('member');
  const user = await workos.userManagement.createUser({ email, password: STRONG_PASSWORD, emailVerified: true });
  return { acme, globex, email, user };
}

test('several memberships: 403 organization_selection_required, then the selection grant', async () => {
  const workos = confidentialClient(gh);
  const { acme, globex, email, user } = await setUp(workos);
  await workos.userManagement.createOrganizationMembership({ organizationId: acme.id, userId: user.id });
  await workos.userManagement.createOrganizationMembership({ organizationId: globex.id, userId: user.id, roleSlug: 'admin' });

  let pending;
  await assert.rejects(workos.userManagement.authenticateWithPassword({ email, password: STRONG_PASSWORD }), (err) => {
    assert.ok(err instanceof AuthenticationException, `${err}`);
    assert.equal(err.code, 'organization_selection_required');
    assert.equal(err.status, 403);
    assert.deepEqual(err.rawData.organizations.map((o) => o.id).sort(), [acme.id, globex.id].sort());
    pending = err.pendingAuthenticationToken;
    return true;
  });
  const auth = await workos.userManagement.authenticateWithOrganizationSelection({
    pendingAuthenticationToken: pending,
    organizationId: globex.id,
  });
  assert.equal(auth.organizationId, globex.id);
  const { payload } = await verifyAccessToken(gh, workos, auth.accessToken, { sub: user.id });
  assert.equal(payload.org_id, globex.id);
  assert.equal(payload.role, 'admin');
  assert.deepEqual(payload.roles, ['admin']);
  assert.deepEqual(payload.permissions, []);

  // Switch with refresh: org_id and role change.
  const switched = await workos.userManagement.authenticateWithRefreshToken({
    refreshToken: auth.refreshToken,
    organizationId: acme.id,
  });
  assert.equal(switched.organizationId, acme.id);
  const p2 = (await verifyAccessToken(gh, workos, switched.accessToken, { sub: user.id })).payload;
  assert.equal(p2.org_id, acme.id);
  assert.equal(p2.role, 'member');
  assert.equal(p2.sid, payload.sid, 'switching keeps the session');

  // A plain refresh stays in the organization.
  const stayed = await workos.userManagement.authenticateWithRefreshToken({ refreshToken: switched.refreshToken });
  assert.equal(stayed.organizationId, acme.id);

  // Switching to an organization the user is not in is refused; the token still works.
  const other = await workos.organizations.createOrganization({ name: `Other ${stamp}` });
  await assert.rejects(
    workos.userManagement.authenticateWithRefreshToken({ refreshToken: stayed.refreshToken, organizationId: other.id }),
    (err) => {
      assert.equal(err.status, 400);
      assert.equal(err.error ?? err.rawData?.error, 'organization_membership_not_found');
      return true;
    },
  );
  const again = await workos.userManagement.authenticateWithRefreshToken({ refreshToken: stayed.refreshToken });
  assert.equal(again.organizationId, acme.id);
});

test('one membership is entered at sign-in; leaving or deleting the organization ends the session', async () => {
  const workos = confidentialClient(gh);
  const { acme, globex, email, user } = await setUp(workos);
  const m = await workos.userManagement.createOrganizationMembership({ organizationId: acme.id, userId: user.id });
  const auth = await workos.userManagement.authenticateWithPassword({ email, password: STRONG_PASSWORD });
  assert.equal(auth.organizationId, acme.id);

  // A deactivated membership ends the session in it and is not entered again.
  await workos.userManagement.deactivateOrganizationMembership(m.id);
  await assert.rejects(workos.userManagement.authenticateWithRefreshToken({ refreshToken: auth.refreshToken }), (err) => {
    assert.equal(err.status, 400);
    return true;
  });
  const plain = await workos.userManagement.authenticateWithPassword({ email, password: STRONG_PASSWORD });
  assert.equal(plain.organizationId, undefined);
  await assert.rejects(
    workos.userManagement.authenticateWithRefreshToken({ refreshToken: plain.refreshToken, organizationId: acme.id }),
    (err) => err.status === 400,
  );

  // Deleting the organization a session is in ends the session.
  await workos.userManagement.createOrganizationMembership({ organizationId: globex.id, userId: user.id });
  const inGlobex = await workos.userManagement.authenticateWithPassword({ email, password: STRONG_PASSWORD });
  assert.equal(inGlobex.organizationId, globex.id);
  await workos.organizations.deleteOrganization(globex.id);
  await assert.rejects(
    workos.userManagement.authenticateWithRefreshToken({ refreshToken: inGlobex.refreshToken }),
    (err) => err.status === 400,
  );
});
