// Issue 12 / issue 10: the organization family's events through the node SDK's
// `events.listEvents` — organization.*, organization_domain.*, organization_membership.*,
// invitation.*, role.* / organization_role.* — recorded with their changes, deserialised into
// the SDK's types (and checked against WorkOS's event schemas by the wire proxy); a webhook
// endpoint subscribed to them receives them signed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { useGatehouse } from '../lib/server.mjs';
import { startDnsServer } from '../lib/dns.mjs';
import { apiRequest, confidentialClient, STRONG_PASSWORD } from '../lib/api.mjs';

const dns = await startDnsServer();
const gh = useGatehouse({ serveArgs: [...dns.serveArgs, '--webhooks-allow-private'] });
const stamp = Date.now().toString(36);

async function drain(workos, events) {
  const out = [];
  let after;
  for (;;) {
    const page = await workos.events.listEvents({ events, limit: 100, ...(after ? { after } : {}) });
    out.push(...page.data);
    if (page.data.length > 0) after = page.data[page.data.length - 1].id;
    if (!page.listMetadata.after) return out;
  }
}

test('organization events: every change of the family, in order, with SDK payloads', async () => {
  const workos = confidentialClient(gh);
  const org = await workos.organizations.createOrganization({ name: `Events ${stamp}` });
  await workos.organizations.updateOrganization({ organization: org.id, name: `Events ${stamp} renamed` });
  const domain = await workos.organizationDomains.createOrganizationDomain({
    organizationId: org.id,
    domain: `events-${stamp}.example`,
  });
  await workos.organizationDomains.verifyOrganizationDomain(domain.id);
  dns.setTxt(`${domain.verificationPrefix}.${domain.domain}`, [domain.verificationToken]);
  await workos.organizationDomains.verifyOrganizationDomain(domain.id);
  await workos.organizationDomains.deleteOrganizationDomain(domain.id);

  const user = await workos.userManagement.createUser({ email: `member-${stamp}@example.com`, password: STRONG_PASSWORD });
  const membership = await workos.userManagement.createOrganizationMembership({ organizationId: org.id, userId: user.id });
  await workos.userManagement.deactivateOrganizationMembership(membership.id);
  await workos.userManagement.deleteOrganizationMembership(membership.id);

  const invitation = await workos.userManagement.sendInvitation({ email: `invitee-${stamp}@example.com`, organizationId: org.id });
  await workos.userManagement.resendInvitation(invitation.id);
  await workos.userManagement.revokeInvitation(invitation.id);

  const role = await apiRequest(gh, 'POST', `/authorization/organizations/${org.id}/roles`, {
    slug: `org-ev-${stamp}`,
    name: 'Events role',
  });
  assert.equal(role.status, 201, role.text);
  await workos.organizations.deleteOrganization(org.id);

  const types = [
    'organization.created', 'organization.updated', 'organization.deleted',
    'organization_domain.created', 'organization_domain.verified', 'organization_domain.verification_failed',
    'organization_domain.deleted',
    'organization_membership.created', 'organization_membership.updated', 'organization_membership.deleted',
    'invitation.created', 'invitation.resent', 'invitation.revoked',
    'organization_role.created',
  ];
  const mine = (await drain(workos, types)).filter(
    (e) => e.data.organizationId === org.id || e.data.id === org.id || e.data.organizationDomain?.organizationId === org.id,
  );
  assert.deepEqual(
    mine.map((e) => e.event),
    [
      'organization.created',
      'organization.updated',
      'organization_domain.created',
      'organization_domain.verification_failed',
      'organization_domain.verified',
      'organization_domain.deleted',
      'organization_membership.created',
      'organization_membership.updated',
      'organization_membership.deleted',
      'invitation.created',
      'invitation.resent',
      'invitation.revoked',
      'organization_role.created',
      'organization.deleted',
    ],
  );
  const byType = Object.fromEntries(mine.map((e) => [e.event, e]));
  assert.equal(byType['organization.updated'].data.name, `Events ${stamp} renamed`);
  assert.ok(Array.isArray(byType['organization.created'].data.domains));
  assert.equal(byType['organization_domain.verified'].data.state, 'verified');
  assert.equal(byType['organization_domain.verification_failed'].data.reason, 'domain_verification_period_expired');
  assert.equal(byType['organization_domain.verification_failed'].data.organizationDomain.id, domain.id);
  assert.equal(byType['organization_membership.created'].data.userId, user.id);
  assert.equal(byType['organization_membership.updated'].data.status, 'inactive');
  assert.equal(byType['invitation.revoked'].data.state, 'revoked');
  assert.equal(byType['invitation.created'].data.email, `invitee-${stamp}@example.com`);
  assert.equal(byType['organization_role.created'].data.slug, `org-ev-${stamp}`);
  assert.ok(byType['organization.created'].createdAt instanceof Date);

  const scoped = await workos.events.listEvents({ organizationId: org.id, events: ['organization_membership.created'] });
  assert.equal(scoped.data.length, 1);
});

test('organization events reach a webhook endpoint, signed', async () => {
  const workos = confidentialClient(gh);
  const got = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      got.push({ body: Buffer.concat(chunks).toString('utf8'), signature: req.headers['workos-signature'] });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const endpoint = await workos.webhooks.createWebhookEndpoint({
      endpointUrl: `http://127.0.0.1:${server.address().port}/hook`,
      events: ['organization.created', 'organization_domain.created'],
    });
    const org = await workos.organizations.createOrganization({
      name: `Hooked ${stamp}`,
      domainData: [{ domain: `hooked-${stamp}.example`, state: 'pending' }],
    });
    const start = Date.now();
    while (got.length < 2 && Date.now() - start < 30_000) await new Promise((r) => setTimeout(r, 100));
    const events = [];
    for (const delivery of got) {
      events.push(
        await workos.webhooks.constructEvent({
          payload: delivery.body,
          sigHeader: delivery.signature,
          secret: endpoint.secret,
        }),
      );
    }
    assert.deepEqual(events.map((e) => e.event), ['organization.created', 'organization_domain.created']);
    assert.equal(events[0].data.id, org.id);
    assert.equal(events[1].data.organizationId, org.id);
  } finally {
    server.close();
  }
});
