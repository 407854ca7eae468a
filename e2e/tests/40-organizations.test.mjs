// Issue 12: organizations, memberships, roles and permissions through the official node SDK,
// with pagination, and the users list filtered by organization.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NotFoundException } from '@workos-inc/node';
import { useGatehouse } from '../lib/server.mjs';
import { confidentialClient, uniqueEmail, STRONG_PASSWORD } from '../lib/api.mjs';

const gh = useGatehouse();
const stamp = Date.now().toString(36);

test('organizations: create ×5, paginate, get by id and external id, update, delete', async () => {
  const workos = confidentialClient(gh);
  const created = [];
  for (let i = 0; i < 5; i++) {
    const org = await workos.organizations.createOrganization({
      name: `Org ${stamp} ${i}`,
      externalId: `ext-${stamp}-${i}`,
      metadata: { index: String(i) },
    });
    assert.equal(org.object, 'organization');
    assert.match(org.id, /^org_[0-9A-HJKMNP-TV-Z]{26}$/);
    assert.equal(org.name, `Org ${stamp} ${i}`);
    assert.equal(org.externalId, `ext-${stamp}-${i}`);
    assert.deepEqual(org.metadata, { index: String(i) });
    assert.deepEqual(org.domains, []);
    assert.ok(org.createdAt instanceof Date || typeof org.createdAt === 'string');
    created.push(org);
  }

  const page = await workos.organizations.listOrganizations({ limit: 2 });
  assert.equal(page.data.length, 2);
  assert.ok(page.listMetadata.after, 'a first page of 2 out of 5 has an after cursor');
  // Walk every page of 2 by the `after` cursor (autoPagination with a limit stops at one page).
  const ids = [];
  let after;
  do {
    const p = await workos.organizations.listOrganizations({ limit: 2, after });
    assert.ok(p.data.length <= 2);
    ids.push(...p.data.map((o) => o.id));
    after = p.listMetadata.after;
  } while (after);
  const all = await (await workos.organizations.listOrganizations()).autoPagination();
  for (const org of created) assert.ok(all.some((o) => o.id === org.id), `autoPagination finds ${org.id}`);
  for (const org of created) assert.ok(ids.includes(org.id), `autoPagination finds ${org.id}`);
  assert.equal(new Set(ids).size, ids.length, 'no organization twice across pages');

  const byExternal = await workos.organizations.getOrganizationByExternalId(`ext-${stamp}-3`);
  assert.equal(byExternal.id, created[3].id);
  const byId = await workos.organizations.getOrganization(created[1].id);
  assert.equal(byId.name, created[1].name);

  const updated = await workos.organizations.updateOrganization({
    organization: created[0].id,
    name: `Renamed ${stamp}`,
    metadata: { index: null, tier: 'gold' },
  });
  assert.equal(updated.name, `Renamed ${stamp}`);
  assert.deepEqual(updated.metadata, { tier: 'gold' });

  await workos.organizations.deleteOrganization(created[4].id);
  await assert.rejects(workos.organizations.getOrganization(created[4].id), NotFoundException);
});

test('memberships and roles: create, list by user and organization, roles, deactivate, reactivate, delete', async () => {
  const workos = confidentialClient(gh);
  const acme = await workos.organizations.createOrganization({ name: `Acme ${stamp}` });
  const globex = await workos.organizations.createOrganization({ name: `Globex ${stamp}` });
  const ada = await workos.userManagement.createUser({ email: uniqueEmail('ada'), password: STRONG_PASSWORD });
  const bob = await workos.userManagement.createUser({ email: uniqueEmail('bob'), password: STRONG_PASSWORD });

  const roles = await workos.authorization.listEnvironmentRoles();
  assert.deepEqual(roles.data.map((r) => r.slug).sort(), ['admin', 'member']);
  const permission = await workos.authorization.createPermission({ slug: `posts:write-${stamp}`, name: 'Write posts' });
  assert.equal(permission.slug, `posts:write-${stamp}`);
  const admin = await workos.authorization.setEnvironmentRolePermissions('admin', { permissions: [permission.slug] });
  assert.deepEqual(admin.permissions, [permission.slug]);
  const perms = await workos.authorization.listPermissions();
  assert.ok(perms.data.some((p) => p.slug === permission.slug));

  const billing = await workos.authorization.createOrganizationRole(acme.id, { slug: 'org-billing', name: 'Billing' });
  assert.equal(billing.slug, 'org-billing');
  const acmeRoles = await workos.authorization.listOrganizationRoles(acme.id);
  assert.ok(acmeRoles.data.some((r) => r.slug === 'org-billing'));

  const m = await workos.userManagement.createOrganizationMembership({ organizationId: acme.id, userId: ada.id });
  assert.equal(m.object, 'organization_membership');
  assert.equal(m.status, 'active');
  assert.equal(m.role.slug, 'member');
  assert.equal(m.organizationName, acme.name);
  await workos.userManagement.createOrganizationMembership({ organizationId: globex.id, userId: ada.id, roleSlug: 'admin' });
  await workos.userManagement.createOrganizationMembership({ organizationId: acme.id, userId: bob.id, roleSlug: 'org-billing' });

  const adas = await workos.userManagement.listOrganizationMemberships({ userId: ada.id, limit: 1 });
  assert.equal(adas.data.length, 1);
  const second = await workos.userManagement.listOrganizationMemberships({ userId: ada.id, limit: 1, after: adas.listMetadata.after });
  assert.equal(second.data.length, 1);
  assert.notEqual(second.data[0].id, adas.data[0].id);
  assert.equal(second.listMetadata.after, null);
  const acmes = await workos.userManagement.listOrganizationMemberships({ organizationId: acme.id });
  assert.equal(acmes.data.length, 2);

  const users = await workos.userManagement.listUsers({ organizationId: globex.id });
  assert.deepEqual(users.data.map((u) => u.id), [ada.id], 'listUsers filters by organization');

  const updated = await workos.userManagement.updateOrganizationMembership(m.id, { roleSlug: 'admin' });
  assert.equal(updated.role.slug, 'admin');
  const inactive = await workos.userManagement.deactivateOrganizationMembership(m.id);
  assert.equal(inactive.status, 'inactive');
  const activeOnly = await workos.userManagement.listOrganizationMemberships({ userId: ada.id });
  assert.equal(activeOnly.data.length, 1, 'only active memberships unless statuses asks');
  const withInactive = await workos.userManagement.listOrganizationMemberships({ userId: ada.id, statuses: ['active', 'inactive'] });
  assert.equal(withInactive.data.length, 2);
  const active = await workos.userManagement.reactivateOrganizationMembership(m.id);
  assert.equal(active.status, 'active');
  await workos.userManagement.deleteOrganizationMembership(m.id);
  await assert.rejects(workos.userManagement.getOrganizationMembership(m.id), NotFoundException);
});
