// Issue 12 in Chromium: a user in two organizations signs in through the hosted pages, picks one
// on the organization picker, and authkit-js's switchToOrganization moves the session to the other:
// the access token's org_id, role and permissions change, the session stays the same. Then an invited user signs
// up through authkit-js signUp({ invitationToken }) and lands in the invitation's organization.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { useAppInBrowser, waitReady, ARTIFACTS, DOCS_IMAGES } from '../lib/browser.mjs';
import { useGatehouse } from '../lib/server.mjs';
import { confidentialClient, publicClient, verifyAccessToken, uniqueEmail, STRONG_PASSWORD } from '../lib/api.mjs';

const gh = useGatehouse();
const ui = useAppInBrowser(gh);
let app;
let page;
before(async () => {
  await ui.ready;
  ({ app, page } = ui);
});

const claims = async () => {
  const token = await page.evaluate(() => window.__client.getAccessToken());
  return (await verifyAccessToken(gh, publicClient(gh), token)).payload;
};

test('hosted organization picker, then switchToOrganization between two organizations', { timeout: 180_000 }, async () => {
  const workos = confidentialClient(gh);
  const stamp = Date.now().toString(36);
  const acme = await workos.organizations.createOrganization({ name: `Acme ${stamp}` });
  const globex = await workos.organizations.createOrganization({ name: `Globex ${stamp}` });
  const email = uniqueEmail('switcher');
  const user = await workos.userManagement.createUser({ email, password: STRONG_PASSWORD, emailVerified: true });
  const permission = await workos.authorization.createPermission({ slug: `reports:read-${stamp}`, name: 'Read reports' });
  await workos.authorization.setEnvironmentRolePermissions('admin', { permissions: [permission.slug] });
  await workos.userManagement.createOrganizationMembership({ organizationId: acme.id, userId: user.id });
  await workos.userManagement.createOrganizationMembership({ organizationId: globex.id, userId: user.id, roleSlug: 'admin' });

  await page.goto(`${app.origin}/`);
  await waitReady(page);
  await page.click('#sign-in');
  await page.waitForURL((u) => u.origin === gh.baseUrl && u.pathname === '/authkit/sign-in');
  await page.fill('#email', email);
  await page.fill('#password', STRONG_PASSWORD);
  await page.click('form[action="/authkit/sign-in"] button[type="submit"]');

  // The picker lists both organizations.
  await page.waitForURL((u) => u.origin === gh.baseUrl && u.pathname === '/authkit/organization');
  const names = await page.$$eval('button.organization', (bs) => bs.map((b) => b.textContent.trim()));
  assert.deepEqual(names.sort(), [acme.name, globex.name].sort());
  await page.screenshot({ path: join(ARTIFACTS, 'organization-picker.png') });
  await page.screenshot({ path: join(DOCS_IMAGES, 'organization-picker.png') });
  await page.click(`button.organization:has-text("${acme.name}")`);

  await page.waitForURL((u) => u.origin === app.origin && u.pathname === '/callback');
  await waitReady(page);
  await page.waitForFunction((e) => document.getElementById('user').textContent === e, email);
  const first = await claims();
  assert.equal(first.org_id, acme.id);
  assert.equal(first.role, 'member');
  assert.deepEqual(first.permissions, []);

  // switchToOrganization: a refresh with organization_id; same session, new organization.
  await page.evaluate((id) => window.__client.switchToOrganization({ organizationId: id }), globex.id);
  const second = await claims();
  assert.equal(second.org_id, globex.id);
  assert.equal(second.role, 'admin');
  assert.deepEqual(second.roles, ['admin']);
  assert.deepEqual(second.permissions, [permission.slug]);
  assert.equal(second.sid, first.sid);

  // And back; a later refresh (authkit-js sends the token's org_id) stays there.
  await page.evaluate((id) => window.__client.switchToOrganization({ organizationId: id }), acme.id);
  const third = await claims();
  assert.equal(third.org_id, acme.id);
  assert.equal(third.role, 'member');
});

test('invitation sign-up in Chromium: authkit-js signUp({ invitationToken }), the address locked, the session in the organization', { timeout: 180_000 }, async () => {
  const workos = confidentialClient(gh);
  const org = await workos.organizations.createOrganization({ name: `Invited ${Date.now().toString(36)}` });
  const email = uniqueEmail('invitee');
  const invitation = await workos.userManagement.sendInvitation({ email, organizationId: org.id, roleSlug: 'admin' });

  await page.goto(`${app.origin}/`);
  await waitReady(page);
  if ((await page.textContent('#user')) !== 'signed out') {
    await page.click('#sign-out');
    await page.waitForURL((u) => u.origin === app.origin && u.pathname === '/');
    await waitReady(page);
  }
  await page.evaluate((invitationToken) => window.__client.signUp({ invitationToken }), invitation.token);
  await page.waitForURL((u) => u.origin === gh.baseUrl && u.pathname === '/authkit/sign-up');
  assert.equal(await page.inputValue('input[name="email"]'), email);
  assert.equal(await page.getAttribute('input[name="email"]', 'readonly'), '');
  await page.screenshot({ path: join(ARTIFACTS, 'invitation-sign-up.png') });
  await page.fill('input[name="password"]', STRONG_PASSWORD);
  await page.click('form[action="/authkit/sign-up"] button[type="submit"]');
  await page.waitForURL((u) => u.origin === app.origin && u.pathname === '/callback');
  await waitReady(page);
  await page.waitForFunction((e) => document.getElementById('user').textContent === e, email);
  const c = await claims();
  assert.equal(c.org_id, org.id);
  assert.equal(c.role, 'admin');
  assert.equal((await workos.userManagement.getInvitation(invitation.id)).state, 'accepted');
});
