// Issue 12: invitations through the official node SDK: send (the email goes through the outbox),
// get by ID and token, list with pagination, resend, revoke, accept; invitation_token on the
// password grant; the failure paths (an existing member, a revoked or spent invitation).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useGatehouse } from '../lib/server.mjs';
import { confidentialClient, uniqueEmail, STRONG_PASSWORD } from '../lib/api.mjs';

const gh = useGatehouse();

const rejectsWith = (promise, code) =>
  assert.rejects(promise, (err) => {
    assert.equal(err.status, 400, `${err}`);
    assert.equal(err.rawData?.code ?? err.code ?? err.error, code);
    return true;
  });

test('invitations: send, list, get by token, resend, revoke, accept through the password grant', async () => {
  const workos = confidentialClient(gh);
  const org = await workos.organizations.createOrganization({ name: `Invites ${Date.now()}` });
  const inviter = await workos.userManagement.createUser({ email: uniqueEmail('inviter'), password: STRONG_PASSWORD });
  await workos.userManagement.createOrganizationMembership({ organizationId: org.id, userId: inviter.id });

  await rejectsWith(
    workos.userManagement.sendInvitation({ email: inviter.email, organizationId: org.id }),
    'user_already_organization_member',
  );

  const sent = [];
  for (let i = 0; i < 3; i++) {
    const inv = await workos.userManagement.sendInvitation({
      email: uniqueEmail(`invitee${i}`),
      organizationId: org.id,
      roleSlug: 'admin',
      inviterUserId: inviter.id,
      expiresInDays: 3,
    });
    assert.equal(inv.object, 'invitation');
    assert.equal(inv.state, 'pending');
    assert.equal(inv.organizationId, org.id);
    assert.equal(inv.inviterUserId, inviter.id);
    assert.ok(inv.token && inv.acceptInvitationUrl.includes(inv.token));
    sent.push(inv);
  }
  const first = await workos.userManagement.listInvitations({ organizationId: org.id, limit: 2 });
  assert.equal(first.data.length, 2);
  const rest = await workos.userManagement.listInvitations({ organizationId: org.id, limit: 2, after: first.listMetadata.after });
  assert.equal(rest.data.length, 1);

  const byToken = await workos.userManagement.findInvitationByToken(sent[0].token);
  assert.equal(byToken.id, sent[0].id);
  const resent = await workos.userManagement.resendInvitation(sent[0].id);
  assert.equal(resent.state, 'pending');

  const revoked = await workos.userManagement.revokeInvitation(sent[1].id);
  assert.equal(revoked.state, 'revoked');
  await rejectsWith(workos.userManagement.revokeInvitation(sent[1].id), 'invite_not_pending');
  await rejectsWith(workos.userManagement.resendInvitation(sent[1].id), 'invite_revoked');

  // The invitee signs up (here through the API) and signs in with the invitation.
  await workos.userManagement.createUser({ email: sent[0].email, password: STRONG_PASSWORD });
  const auth = await workos.userManagement.authenticateWithPassword({
    email: sent[0].email,
    password: STRONG_PASSWORD,
    invitationToken: sent[0].token,
  });
  assert.equal(auth.organizationId, org.id);
  const accepted = await workos.userManagement.getInvitation(sent[0].id);
  assert.equal(accepted.state, 'accepted');
  assert.equal(accepted.acceptedUserId, auth.user.id);

  // A revoked invitation cannot be used; the accept endpoint works for an existing account.
  await workos.userManagement.createUser({ email: sent[1].email, password: STRONG_PASSWORD });
  await assert.rejects(
    workos.userManagement.authenticateWithPassword({ email: sent[1].email, password: STRONG_PASSWORD, invitationToken: sent[1].token }),
    (err) => err.status === 400,
  );
  await workos.userManagement.createUser({ email: sent[2].email, password: STRONG_PASSWORD });
  const viaEndpoint = await workos.userManagement.acceptInvitation(sent[2].id);
  assert.equal(viaEndpoint.state, 'accepted');
  const members = await workos.userManagement.listOrganizationMemberships({ organizationId: org.id });
  assert.equal(members.data.length, 3);
});
