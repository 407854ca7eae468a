// The console's resource pages in headless Chromium: resource types added on the Roles page, resources
// of them made with the node SDK (`authorization.createResource`); the organization's page lists them, a
// resource's page shows the resource inside it; a role given there to a member counts for
// `authorization.check` on that inner resource, and stops counting once taken away (confirmed); a rename
// there is what `authorization.getResource` reads; deleting the resource (confirmed) takes the inner one
// with it (`getResource` → not found). No console errors, no sideways scroll at 375 px
// (docs/images/console-resource*.png with UPDATE_DOCS_IMAGES=1).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { NotFoundException } from '@workos-inc/node';
import { launchChromium, ARTIFACTS, DOCS_IMAGES } from '../lib/browser.mjs';
import { useGatehouse } from '../lib/server.mjs';
import { confidentialClient, uniqueEmail, STRONG_PASSWORD } from '../lib/api.mjs';
import { signInOperator, captureConsolePage } from '../lib/console.mjs';

const gh = useGatehouse();
let browser;
const consoleErrors = [];

before(async () => {
  await gh.ready;
  await mkdir(ARTIFACTS, { recursive: true });
  await mkdir(DOCS_IMAGES, { recursive: true });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close().catch(() => {});
});

test('a role given on a resource in the console counts for the SDK\'s check on the resource inside it', { timeout: 120_000 }, async (t) => {
  const workos = confidentialClient(gh);
  const authz = workos.authorization;
  // The pinned SDK may predate the authorization resources; the latest release has them.
  if (!['check', 'createResource', 'getResource'].every((m) => typeof authz?.[m] === 'function')) {
    return t.skip('this node SDK release has no authorization resources');
  }
  const { page } = await signInOperator(browser, gh, { email: 'resources@example.com', role: 'admin', errors: consoleErrors });
  await page.locator('nav.envs').getByRole('link', { name: 'development' }).click();
  await page.locator('nav.sidenav').getByRole('link', { name: 'Roles' }).click();
  for (const [slug, name] of [['workspace', 'Workspace'], ['project', 'Project']]) {
    await page.fill('#resource-type-slug', slug);
    await page.fill('#resource-type-name', name);
    await page.getByRole('button', { name: 'Add resource type' }).click();
    await page.getByRole('status').filter({ hasText: `Resource type ${slug} added.` }).waitFor();
  }
  await page.setViewportSize({ width: 375, height: 760 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `the Roles page with resource types is ${overflow} px wider than a 375 px screen`);
  await page.screenshot({ path: join(ARTIFACTS, 'console-roles-types-375.png'), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.screenshot({ path: join(ARTIFACTS, 'console-roles-types.png'), fullPage: true });

  const edit = await authz.createPermission({ slug: 'projects:edit', name: 'Edit projects' });
  await authz.createEnvironmentRole({ slug: 'editor', name: 'Editor' });
  await authz.setEnvironmentRolePermissions('editor', { permissions: [edit.slug] });
  const org = await workos.organizations.createOrganization({ name: 'Acme Design' });
  const ws = await authz.createResource({ organizationId: org.id, resourceTypeSlug: 'workspace', externalId: 'ws-1', name: 'Design' });
  const project = await authz.createResource({
    organizationId: org.id, resourceTypeSlug: 'project', externalId: 'p-7', name: 'Website', parentResourceId: ws.id,
  });
  const email = uniqueEmail('ada');
  const user = await workos.userManagement.createUser({ email, password: STRONG_PASSWORD, emailVerified: true });
  const om = await workos.userManagement.createOrganizationMembership({ organizationId: org.id, userId: user.id, roleSlug: 'member' });
  const canEdit = async () => (await authz.check({ organizationMembershipId: om.id, permissionSlug: edit.slug, resourceId: project.id })).authorized;
  assert.equal(await canEdit(), false);

  await page.locator('nav.sidenav').getByRole('link', { name: 'Organizations' }).click();
  await page.getByRole('link', { name: 'Acme Design' }).click();
  const listed = page.getByRole('table', { name: 'Resources of Acme Design' });
  await listed.getByRole('link', { name: 'Website' }).waitFor();
  await page.screenshot({ path: join(ARTIFACTS, 'console-org-resources.png'), fullPage: true });
  await listed.getByRole('link', { name: 'Design', exact: true }).click();
  await page.getByRole('heading', { name: 'Design', exact: true }).waitFor();
  await page.getByRole('link', { name: 'Website' }).waitFor();

  await page.getByLabel('Member', { exact: true }).selectOption({ label: email });
  await page.getByLabel('Role', { exact: true }).selectOption('editor');
  await page.getByRole('button', { name: 'Give role on Design' }).click();
  await page.getByRole('status').filter({ hasText: 'Role editor given on Design.' }).waitFor();
  assert.equal(await canEdit(), true, 'a role on the workspace counts on the project inside it');
  await captureConsolePage(page, 'resource');

  await page.getByRole('button', { name: 'Take away…' }).click();
  await page.getByRole('heading', { name: 'Take the role editor on Design away?' }).waitFor();
  await page.getByRole('button', { name: 'Take role away' }).click();
  await page.getByRole('status').filter({ hasText: 'Role editor on Design taken away.' }).waitFor();
  assert.equal(await canEdit(), false);

  await page.fill('#resource-name', 'Design studio');
  await page.fill('#resource-description', 'Where the designers work');
  await page.getByRole('button', { name: 'Save resource' }).click();
  await page.getByRole('status').filter({ hasText: 'Resource Design studio saved.' }).waitFor();
  const renamed = await authz.getResource(ws.id);
  assert.deepEqual([renamed.name, renamed.description, renamed.externalId], ['Design studio', 'Where the designers work', 'ws-1']);

  await page.getByRole('button', { name: 'Delete resource…' }).click();
  await page.getByRole('heading', { name: 'Delete the resource Design studio?' }).waitFor();
  await page.getByRole('button', { name: 'Delete resource' }).click();
  await page.getByRole('status').filter({ hasText: 'Resource Design studio deleted.' }).waitFor();
  await page.getByText('No resources.').waitFor();
  for (const id of [ws.id, project.id]) {
    await assert.rejects(authz.getResource(id), NotFoundException, `${id} went with the workspace`);
  }
  assert.deepEqual(consoleErrors, []);
});
