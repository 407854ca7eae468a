// The console's roles and permissions pages in headless Chromium: a permission added and renamed (its
// permission.created and permission.updated read back with `events.listEvents`) and a role added, the
// permission granted with its checkbox; the node SDK reads the role back (`authorization.getEnvironmentRole`)
// and a member holding it signs in with a token that carries the permission; removing the role is refused on
// its page while the membership holds it; a role of an organization's own is added on its page and read back
// with `authorization.getOrganizationRole`. No console errors, no sideways scroll at 375 px
// (docs/images/console-role*.png with UPDATE_DOCS_IMAGES=1).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { launchChromium, ARTIFACTS, DOCS_IMAGES } from '../lib/browser.mjs';
import { useGatehouse } from '../lib/server.mjs';
import { confidentialClient, uniqueEmail, verifyAccessToken, STRONG_PASSWORD } from '../lib/api.mjs';
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

test('a role made in the console grants its permission in a member\'s access token', { timeout: 120_000 }, async () => {
  const workos = confidentialClient(gh);
  const { page } = await signInOperator(browser, gh, { email: 'roles@example.com', role: 'admin', errors: consoleErrors, expectedStatus: 422 });
  await page.locator('nav.envs').getByRole('link', { name: 'development' }).click();
  await page.locator('nav.sidenav').getByRole('link', { name: 'Roles' }).click();
  await page.getByRole('heading', { name: 'Roles and permissions' }).waitFor();
  await page.getByText('No permissions yet').waitFor();

  await page.fill('#permission-slug', 'reports:read');
  await page.fill('#permission-name', 'Read reports');
  await page.getByRole('button', { name: 'Add permission' }).click();
  await page.getByRole('status').filter({ hasText: 'Permission reports:read added' }).waitFor();
  const editing = page.locator('details', { hasText: 'Edit reports:read' });
  await editing.getByText('Edit reports:read').click();
  await editing.getByLabel('Name', { exact: true }).fill('Read the reports');
  await editing.getByRole('button', { name: 'Save permission' }).click();
  await page.getByRole('status').filter({ hasText: 'Permission reports:read saved.' }).waitFor();
  assert.equal((await workos.authorization.getPermission('reports:read')).name, 'Read the reports');

  await page.fill('#role-slug', 'analyst');
  await page.fill('#role-name', 'Analyst');
  await page.fill('#role-description', 'Reads the reports');
  await page.getByRole('button', { name: 'Add role' }).click();
  await page.getByRole('status').filter({ hasText: 'Role analyst added' }).waitFor();
  await page.getByLabel('reports:read').check();
  await page.getByRole('button', { name: 'Save permissions' }).click();
  await page.getByRole('status').filter({ hasText: 'analyst now grants 1 permission.' }).waitFor();
  assert.equal(await page.getByLabel('reports:read').isChecked(), true);

  const created = await workos.events.listEvents({ events: ['permission.created'] });
  assert.deepEqual(created.data.map((e) => [e.event, e.data.slug, e.data.name]), [['permission.created', 'reports:read', 'Read reports']]);
  const renamed = await workos.events.listEvents({ events: ['permission.updated'] });
  assert.deepEqual(renamed.data.map((e) => e.data.name), ['Read the reports']);

  const role = await workos.authorization.getEnvironmentRole('analyst');
  assert.deepEqual([role.name, role.description, role.permissions], ['Analyst', 'Reads the reports', ['reports:read']]);

  const org = await workos.organizations.createOrganization({ name: 'Reports Inc' });
  const email = uniqueEmail('analyst');
  const user = await workos.userManagement.createUser({ email, password: STRONG_PASSWORD });
  await workos.userManagement.createOrganizationMembership({ userId: user.id, organizationId: org.id, roleSlug: 'analyst' });
  const signedIn = await workos.userManagement.authenticateWithPassword({ clientId: gh.clientId, email, password: STRONG_PASSWORD });
  assert.equal(signedIn.organizationId, org.id);
  const { payload } = await verifyAccessToken(gh, workos, signedIn.accessToken, { sub: user.id });
  assert.deepEqual([payload.role, payload.permissions], ['analyst', ['reports:read']]);

  await page.getByRole('button', { name: 'Remove role…' }).click();
  await page.getByRole('button', { name: 'Remove role' }).click();
  await page.locator('#remove-error').filter({ hasText: 'held by 1 organization membership' }).waitFor();
  await captureConsolePage(page, 'role');

  await page.getByRole('link', { name: '← Roles and permissions' }).click();
  await page.getByRole('link', { name: 'Analyst' }).waitFor();
  await captureConsolePage(page, 'roles');

  // A role of the organization's own, added on its page; only its members can hold it.
  await page.locator('nav.sidenav').getByRole('link', { name: 'Organizations' }).click();
  await page.getByRole('link', { name: 'Reports Inc' }).click();
  await page.fill('#org-role-name', 'Auditor');
  await page.getByRole('button', { name: 'Add role' }).click();
  await page.getByRole('status').filter({ hasText: 'added to the organization' }).waitFor();
  await page.getByLabel('reports:read').check();
  await page.getByRole('button', { name: 'Save permissions' }).click();
  await page.getByRole('status').filter({ hasText: 'now grants 1 permission.' }).waitFor();
  const slug = (await page.locator('dl.facts code').first().textContent()).trim();
  assert.match(slug, /^org-auditor-/);
  const orgRole = await workos.authorization.getOrganizationRole(org.id, slug);
  assert.deepEqual([orgRole.name, orgRole.permissions], ['Auditor', ['reports:read']]);
  await captureConsolePage(page, 'org-role');
  await page.getByRole('link', { name: '← Reports Inc' }).click();
  await page.getByRole('link', { name: 'Auditor' }).waitFor();

  assert.deepEqual(consoleErrors, []);
});
