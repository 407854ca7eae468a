// Issue 12: WorkOS's resource-based authorization through the official node SDK
// (`workos.authorization.*`): resources (resource types from `gatehouse resource-types`), role
// assignments, `check` with inheritance, the resource-scoped listings, and removing an
// environment role with `gatehouse roles remove` (`role.deleted` through `events.listEvents`), and a permission
// with `gatehouse roles remove-permission` (`permission.deleted`, and `role.updated` for the roles it leaves).
// Every answer is checked against WorkOS's OpenAPI schemas by the wire proxy.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { NotFoundException } from '@workos-inc/node';
import { useGatehouse, runCli } from '../lib/server.mjs';
import { confidentialClient, uniqueEmail, STRONG_PASSWORD } from '../lib/api.mjs';

const gh = useGatehouse();
const stamp = Date.now().toString(36);

/** The pinned SDK may predate the authorization resources; the latest release has them. */
async function sdkHasResources() {
  await gh.ready;
  const authz = confidentialClient(gh).authorization;
  return ['check', 'createResource', 'assignRole'].every((m) => typeof authz?.[m] === 'function');
}

before(async () => {
  await gh.ready;
  for (const slug of ['workspace', 'project']) {
    await runCli(['resource-types', 'add', slug, '--data', gh.dataDir]);
  }
});

const all = async (listed) => (await listed).autoPagination();

test('resources, role assignments, check and the listings', async (t) => {
  if (!(await sdkHasResources())) return t.skip('this node SDK release has no authorization resources');
  const workos = confidentialClient(gh);
  const authz = workos.authorization;
  const read = await authz.createPermission({ slug: `doc:read-${stamp}`, name: 'Read' });
  const write = await authz.createPermission({ slug: `doc:write-${stamp}`, name: 'Write' });
  await authz.createEnvironmentRole({ slug: `viewer-${stamp}`, name: 'Viewer' });
  await authz.setEnvironmentRolePermissions(`viewer-${stamp}`, { permissions: [read.slug] });
  await authz.createEnvironmentRole({ slug: `editor-${stamp}`, name: 'Editor' });
  await authz.setEnvironmentRolePermissions(`editor-${stamp}`, { permissions: [read.slug, write.slug] });

  const org = await workos.organizations.createOrganization({ name: `Acme ${stamp}` });
  const ws = await authz.createResource({
    organizationId: org.id, resourceTypeSlug: 'workspace', externalId: 'ws', name: 'Workspace',
  });
  assert.equal(ws.object, 'authorization_resource');
  assert.match(ws.id, /^authz_resource_/);
  assert.equal(ws.parentResourceId, null);
  const p1 = await authz.createResource({
    organizationId: org.id, resourceTypeSlug: 'project', externalId: 'p1', name: 'P1', description: 'First',
    parentResourceId: ws.id,
  });
  const p2 = await authz.createResource({
    organizationId: org.id, resourceTypeSlug: 'project', externalId: 'p2', name: 'P2',
    parentResourceExternalId: 'ws', parentResourceTypeSlug: 'workspace',
  });
  assert.equal(p2.parentResourceId, ws.id);
  await assert.rejects(
    authz.createResource({ organizationId: org.id, resourceTypeSlug: 'project', externalId: 'p1', name: 'Again' }),
    (e) => e.status === 409,
  );
  await assert.rejects(
    authz.createResource({ organizationId: org.id, resourceTypeSlug: 'folder', externalId: 'f', name: 'F' }),
    (e) => e.status === 422,
  );

  assert.equal((await authz.getResource(p1.id)).name, 'P1');
  const byExternal = await authz.getResourceByExternalId({ organizationId: org.id, resourceTypeSlug: 'project', externalId: 'p2' });
  assert.equal(byExternal.id, p2.id);
  const renamed = await authz.updateResource({ resourceId: p1.id, name: 'Project one', description: null });
  assert.equal(renamed.name, 'Project one');
  assert.equal(renamed.description, null);
  const renamed2 = await authz.updateResourceByExternalId({
    organizationId: org.id, resourceTypeSlug: 'project', externalId: 'p2', name: 'Project two',
  });
  assert.equal(renamed2.name, 'Project two');
  const projects = await authz.listResources({ organizationId: org.id, resourceTypeSlug: 'project', limit: 1 });
  assert.equal(projects.data.length, 1);
  assert.ok(projects.listMetadata.after);
  const every = await all(authz.listResources({ organizationId: org.id }));
  assert.deepEqual(every.map((r) => r.id).sort(), [ws.id, p1.id, p2.id].sort());

  const ada = await workos.userManagement.createUser({ email: uniqueEmail('ada'), password: STRONG_PASSWORD });
  const om = await workos.userManagement.createOrganizationMembership({ userId: ada.id, organizationId: org.id });
  const check = (permissionSlug, target) => authz.check({ organizationMembershipId: om.id, permissionSlug, ...target });

  assert.deepEqual(await check(read.slug, { resourceId: p1.id }), { authorized: false });
  const viewer = await authz.assignRole({ organizationMembershipId: om.id, roleSlug: `viewer-${stamp}`, resourceId: ws.id });
  assert.equal(viewer.object, 'role_assignment');
  assert.equal(viewer.role.slug, `viewer-${stamp}`);
  assert.equal(viewer.resource.externalId, 'ws');
  assert.equal(viewer.resource.resourceTypeSlug, 'workspace');
  assert.equal(viewer.source.type, 'direct');
  // Inherited from the workspace, by ID or by external ID.
  assert.equal((await check(read.slug, { resourceId: p1.id })).authorized, true);
  assert.equal((await check(read.slug, { resourceExternalId: 'p2', resourceTypeSlug: 'project' })).authorized, true);
  assert.equal((await check(write.slug, { resourceId: p1.id })).authorized, false);
  await authz.assignRole({
    organizationMembershipId: om.id, roleSlug: `editor-${stamp}`, resourceExternalId: 'p1', resourceTypeSlug: 'project',
  });
  assert.equal((await check(write.slug, { resourceId: p1.id })).authorized, true);
  assert.equal((await check(write.slug, { resourceId: p2.id })).authorized, false);
  assert.equal((await check(write.slug, { resourceId: ws.id })).authorized, false);
  await assert.rejects(check(read.slug, { resourceId: 'authz_resource_missing' }), NotFoundException);

  const assignments = await all(authz.listRoleAssignments({ organizationMembershipId: om.id }));
  assert.deepEqual(assignments.map((a) => a.role.slug).sort(), [`editor-${stamp}`, `viewer-${stamp}`]);

  const onWorkspace = await authz.listRoleAssignments({ organizationMembershipId: om.id, resourceId: ws.id });
  assert.deepEqual(onWorkspace.data.map((a) => a.id), [viewer.id]);
  const onProjects = await authz.listRoleAssignments({ organizationMembershipId: om.id, resourceTypeSlug: 'project' });
  assert.deepEqual(onProjects.data.map((a) => a.role.slug), [`editor-${stamp}`]);
  if (typeof authz.listRoleAssignmentsForResource === 'function') {
    const forResource = await authz.listRoleAssignmentsForResource({ resourceId: ws.id });
    assert.deepEqual(forResource.data.map((a) => a.organizationMembershipId), [om.id]);
    const byExternalId = await authz.listResourceRoleAssignments({
      organizationId: org.id, resourceTypeSlug: 'project', externalId: 'p1', roleSlug: `editor-${stamp}`,
    });
    assert.deepEqual(byExternalId.data.map((a) => a.resource.id), [p1.id]);
  }

  const effective = await authz.listEffectivePermissions({ organizationMembershipId: om.id, resourceId: p1.id });
  assert.deepEqual(effective.data.map((p) => p.slug).sort(), [read.slug, write.slug].sort());
  const effectiveExt = await authz.listEffectivePermissionsByExternalId({
    organizationMembershipId: om.id, resourceTypeSlug: 'project', externalId: 'p2',
  });
  assert.deepEqual(effectiveExt.data.map((p) => p.slug), [read.slug]);
  // The document's own path for the effective permissions, checked against its schema.
  const raw = await fetch(`${gh.baseUrl}/authorization/organization_memberships/${om.id}/resources/${p1.id}/permissions`, {
    headers: { authorization: `Bearer ${gh.apiKey}` },
  });
  assert.equal(raw.status, 200);
  assert.equal((await raw.json()).data.length, 2);

  const writable = await authz.listResourcesForMembership({
    organizationMembershipId: om.id, permissionSlug: write.slug, parentResourceId: ws.id,
  });
  assert.deepEqual(writable.data.map((r) => r.id), [p1.id]);
  const readable = await authz.listResourcesForMembership({
    organizationMembershipId: om.id, permissionSlug: read.slug, parentResourceExternalId: 'ws', parentResourceTypeSlug: 'workspace',
  });
  assert.deepEqual(readable.data.map((r) => r.id).sort(), [p1.id, p2.id].sort());

  const readers = await authz.listMembershipsForResource({ resourceId: p2.id, permissionSlug: read.slug });
  assert.deepEqual(readers.data.map((m) => m.id), [om.id]);
  const direct = await authz.listMembershipsForResource({ resourceId: p2.id, permissionSlug: read.slug, assignment: 'direct' });
  assert.deepEqual(direct.data, []);
  const writers = await authz.listMembershipsForResourceByExternalId({
    organizationId: org.id, resourceTypeSlug: 'project', externalId: 'p1', permissionSlug: write.slug,
  });
  assert.deepEqual(writers.data.map((m) => m.userId), [ada.id]);

  // An inactive membership is never authorized.
  await workos.userManagement.deactivateOrganizationMembership(om.id);
  assert.equal((await check(read.slug, { resourceId: p1.id })).authorized, false);
  await workos.userManagement.reactivateOrganizationMembership(om.id);
  assert.equal((await check(read.slug, { resourceId: p1.id })).authorized, true);

  await authz.removeRole({ organizationMembershipId: om.id, roleSlug: `editor-${stamp}`, resourceId: p1.id });
  assert.equal((await check(write.slug, { resourceId: p1.id })).authorized, false);
  await authz.removeRoleAssignment({ organizationMembershipId: om.id, roleAssignmentId: viewer.id });
  assert.equal((await check(read.slug, { resourceId: p1.id })).authorized, false);
  await assert.rejects(
    authz.removeRoleAssignment({ organizationMembershipId: om.id, roleAssignmentId: viewer.id }),
    NotFoundException,
  );

  await assert.rejects(authz.deleteResource({ resourceId: ws.id }), (e) => e.status === 409);
  await authz.deleteResourceByExternalId({ organizationId: org.id, resourceTypeSlug: 'project', externalId: 'p2' });
  await authz.deleteResource({ resourceId: ws.id, cascadeDelete: true });
  await assert.rejects(authz.getResource(p1.id), NotFoundException);
});

test('gatehouse roles remove: role.deleted for an environment role, refused while in use', async () => {
  const workos = confidentialClient(gh);
  await workos.authorization.createEnvironmentRole({ slug: `temp-${stamp}`, name: 'Temporary' });
  await workos.authorization.createEnvironmentRole({ slug: `held-${stamp}`, name: 'Held' });
  const org = await workos.organizations.createOrganization({ name: `Roles ${stamp}` });
  const bo = await workos.userManagement.createUser({ email: uniqueEmail('bo'), password: STRONG_PASSWORD });
  await workos.userManagement.createOrganizationMembership({ userId: bo.id, organizationId: org.id, roleSlug: `held-${stamp}` });

  await assert.rejects(runCli(['roles', 'remove', 'member', '--data', gh.dataDir]), /default role/);
  await assert.rejects(runCli(['roles', 'remove', `held-${stamp}`, '--data', gh.dataDir]), /1 organization membership/);
  await runCli(['roles', 'remove', `temp-${stamp}`, '--data', gh.dataDir]);
  await assert.rejects(workos.authorization.getEnvironmentRole(`temp-${stamp}`), NotFoundException);

  const events = await workos.events.listEvents({ events: ['role.deleted'] });
  const deleted = events.data.find((e) => e.data.slug === `temp-${stamp}`);
  assert.ok(deleted, 'role.deleted is in the events');
  assert.equal(deleted.event, 'role.deleted');
  assert.equal(deleted.data.object, 'role');
});

test('gatehouse roles remove-permission: the roles that granted it stop, with permission.deleted and role.updated', async () => {
  const workos = confidentialClient(gh);
  const slug = `reports:export-${stamp}`;
  await workos.authorization.createPermission({ slug, name: 'Export reports' });
  await workos.authorization.createEnvironmentRole({ slug: `exporter-${stamp}`, name: 'Exporter' });
  await workos.authorization.setEnvironmentRolePermissions(`exporter-${stamp}`, { permissions: [slug] });

  const { stdout } = await runCli(['roles', 'remove-permission', slug, '--data', gh.dataDir, '--json']);
  assert.deepEqual(JSON.parse(stdout), { deleted: slug });
  assert.deepEqual((await workos.authorization.getEnvironmentRole(`exporter-${stamp}`)).permissions, []);
  assert.ok(!(await workos.authorization.listPermissions()).data.some((p) => p.slug === slug));
  await assert.rejects(runCli(['roles', 'remove-permission', slug, '--data', gh.dataDir]), /not found/i);

  const events = await workos.events.listEvents({ events: ['permission.deleted', 'role.updated'] });
  const deleted = events.data.find((e) => e.event === 'permission.deleted' && e.data.slug === slug);
  assert.ok(deleted, 'permission.deleted is in the events');
  assert.equal(deleted.data.object, 'permission');
  const updates = events.data.filter((e) => e.event === 'role.updated' && e.data.slug === `exporter-${stamp}`);
  assert.deepEqual(updates.at(-1).data.permissions, [], 'the last update of the role leaves the permission out');
});
