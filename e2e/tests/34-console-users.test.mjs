// Issue 16, the users part of the console (/dashboard) in headless Chromium: searching users by the start
// of an address or a name in any case and paging through every match; a user's page; ending a session
// there, after which the app's refresh fails; the sessions, organizations, activity and home pages; a
// viewer sees no change buttons and their POSTs are refused. Every page is free of console errors and
// does not scroll sideways at 375 px (docs/images/console-*.png with UPDATE_DOCS_IMAGES=1).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { launchChromium, ARTIFACTS, DOCS_IMAGES } from '../lib/browser.mjs';
import { useGatehouse } from '../lib/server.mjs';
import { signInOperator, captureConsolePage } from '../lib/console.mjs';
import { apiRequest, STRONG_PASSWORD } from '../lib/api.mjs';

const gh = useGatehouse();
const ADMIN = 'admin@example.com';
const VIEWER = 'viewer@example.com';
/** Users named Lovelace (more than one page of 50), and others. */
const LOVELACES = 62;
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



async function createUser(email, first, last) {
  const res = await apiRequest(gh, 'POST', '/user_management/users', {
    email, password: STRONG_PASSWORD, first_name: first, last_name: last, email_verified: true,
  });
  assert.equal(res.status, 201, res.text);
  return res.body;
}

async function passwordSignIn(email) {
  const res = await apiRequest(gh, 'POST', '/user_management/authenticate', {
    grant_type: 'password', client_id: gh.clientId, client_secret: gh.apiKey, email, password: STRONG_PASSWORD,
  }, { key: null, headers: { 'User-Agent': 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) Chrome/126.0 Safari/537.36' } });
  assert.equal(res.status, 200, res.text);
  return res.body;
}

const refresh = (refreshToken) => apiRequest(gh, 'POST', '/user_management/authenticate', {
  grant_type: 'refresh_token', client_id: gh.clientId, refresh_token: refreshToken,
}, { key: null });

/** The emails in the users table of the current page. */
const listed = (page) => page.locator('table.users tbody td:first-child a').allTextContents();

/** A browser context signed in to the console as a new operator (its errors go to `consoleErrors`). */
const signedIn = (email, role) =>
  signInOperator(browser, gh, { email, role, errors: consoleErrors, expectedStatus: 403 });
const capture = captureConsolePage;

test('users, sessions, organizations and activity in the console', { timeout: 300_000 }, async (t) => {
  const lovelaces = [];
  for (let i = 0; i < LOVELACES; i += 1) lovelaces.push(`ada.${String(i).padStart(3, '0')}@lovelace.test`);
  await Promise.all(lovelaces.map((e, i) => createUser(e, i % 2 ? 'Ada' : 'Augusta', 'Lovelace')));
  const grace = await createUser('grace@hopper.test', 'Grace', 'Hopper');
  await createUser('alan@turing.test', 'Alan', 'Turing');
  const signIn = await passwordSignIn('grace@hopper.test');
  for (let i = 0; i < 3; i += 1) {
    const wrong = await apiRequest(gh, 'POST', '/user_management/authenticate', {
      grant_type: 'password', client_id: gh.clientId, client_secret: gh.apiKey, email: 'grace@hopper.test', password: 'wrong password',
    }, { key: null });
    assert.equal(wrong.status, 400);
  }
  const org = await apiRequest(gh, 'POST', '/organizations', { name: 'Analytical Engines' });
  assert.equal(org.status, 201, org.text);
  const member = await apiRequest(gh, 'POST', '/user_management/organization_memberships', {
    organization_id: org.body.id, user_id: grace.id,
  });
  assert.equal(member.status, 201, member.text);

  const { page } = await signedIn(ADMIN, 'admin');

  await t.test('home: the last 30 days as charts, and what needs attention', async () => {
    await page.getByRole('heading', { name: /at a glance/ }).waitFor();
    assert.equal(await page.locator('figure.chart svg.chart-bars').count(), 4);
    assert.match(await page.locator('.stats').textContent(), /1\s*sign-ins/);
    assert.match(await page.locator('.stats').textContent(), /3\s*refused sign-ins/);
    await page.locator('.charts').scrollIntoViewIfNeeded();
    await capture(page, 'home-charts');
  });

  await t.test('search by the start of a name in any case, and page through every match', async () => {
    await page.locator('nav.envs').getByRole('link', { name: 'development' }).click();
    await page.locator('nav.sidenav').getByRole('link', { name: 'Users' }).click();
    await page.getByRole('heading', { name: 'Users' }).waitFor();
    assert.equal((await listed(page)).length, 50, 'a page holds 50 users');
    await page.fill('#q', 'LOVE');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL((u) => u.searchParams.get('q') === 'LOVE');
    const first = await listed(page);
    assert.equal(first.length, 50);
    await capture(page, 'users');
    await page.getByRole('link', { name: 'Next ›' }).click();
    await page.waitForURL((u) => u.searchParams.has('after'));
    const second = await listed(page);
    assert.equal(second.length, LOVELACES - 50);
    assert.equal(await page.getByRole('link', { name: 'Next ›' }).count(), 0, 'the last page');
    assert.deepEqual([...first, ...second].sort(), [...lovelaces].sort(), 'every match once');
    await page.getByRole('link', { name: '‹ Previous' }).click();
    await page.waitForURL((u) => u.searchParams.has('before'));
    assert.deepEqual(await listed(page), first, 'the previous page is the same page');
    // An address prefix, and a full name with its space.
    await page.fill('#q', 'grace@');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL((u) => u.searchParams.get('q') === 'grace@');
    assert.deepEqual(await listed(page), ['grace@hopper.test']);
    await page.fill('#q', 'augusta LOVE');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL((u) => u.searchParams.get('q') === 'augusta LOVE');
    assert.equal((await listed(page)).length, LOVELACES / 2);
  });

  await t.test('a user\'s page: ending a session signs the app out at its next refresh', async () => {
    await page.fill('#q', 'grace');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('link', { name: 'grace@hopper.test' }).click();
    await page.getByRole('heading', { name: 'Grace Hopper' }).waitFor();
    const sessions = page.locator('section[aria-labelledby=sessions] tbody tr');
    assert.equal(await sessions.count(), 1);
    assert.match(await sessions.first().textContent(), /Chrome on macOS/);
    assert.match(await page.locator('section[aria-labelledby=sign-ins]').textContent(), /refused: invalid credentials/);
    await capture(page, 'user');
    await sessions.first().getByRole('button', { name: 'End…' }).click();
    await page.getByRole('heading', { name: 'Please confirm' }).waitFor();
    assert.match(await page.locator('.consequence').textContent(), /signed out at its next refresh/);
    await capture(page, 'confirm-end-session');
    await page.getByRole('button', { name: 'End session' }).click();
    assert.equal(await page.locator('.notice[role=status]').textContent(), 'Session ended.');
    assert.equal(await page.locator('section[aria-labelledby=sessions] tbody tr td.muted').count(), 1, 'no active session');
    const res = await refresh(signIn.refresh_token);
    assert.equal(res.status, 400, res.text);
    assert.equal(res.body.error, 'invalid_grant');
  });

  await t.test('sessions, organizations and activity', async () => {
    const again = await passwordSignIn('alan@turing.test');
    await page.locator('nav.sidenav').getByRole('link', { name: 'Sessions' }).click();
    await page.getByRole('heading', { name: 'Sessions' }).waitFor();
    assert.match(await page.locator('table tbody').textContent(), /alan@turing\.test/);
    await capture(page, 'sessions');
    await page.getByRole('button', { name: 'End…' }).first().click();
    await page.getByRole('button', { name: 'End session' }).click();
    assert.equal((await refresh(again.refresh_token)).status, 400);

    await page.locator('nav.sidenav').getByRole('link', { name: 'Organizations' }).click();
    await page.getByRole('link', { name: 'Analytical Engines' }).click();
    await page.getByRole('heading', { name: 'Analytical Engines' }).waitFor();
    assert.match(await page.locator('section[aria-labelledby=members]').textContent(), /grace@hopper\.test/);
    await capture(page, 'organization');

    await page.locator('nav.sidenav').getByRole('link', { name: 'Activity' }).click();
    await page.getByRole('heading', { name: 'Activity' }).waitFor();
    await page.selectOption('#type', 'session.revoked');
    await page.getByRole('button', { name: 'Show' }).click();
    await page.waitForURL((u) => u.searchParams.get('type') === 'session.revoked');
    assert.equal(await page.locator('table.activity tbody tr').count(), 2);
    await page.selectOption('#type', '');
    await page.getByRole('button', { name: 'Show' }).click();
    await capture(page, 'activity');
  });

  await t.test('a viewer sees no change buttons, and a change posted anyway is refused', async () => {
    const viewer = await signedIn(VIEWER, 'viewer');
    const p = viewer.page;
    await p.goto(`${gh.baseUrl}/dashboard/env/development/users/${grace.id}`);
    await p.getByRole('heading', { name: 'Grace Hopper' }).waitFor();
    assert.match(await p.locator('.readonly').textContent(), /viewer/);
    for (const name of ['Delete user…', 'End all sessions…', 'Send password reset', 'Save']) {
      assert.equal(await p.getByRole('button', { name }).count(), 0, `no ${name} button`);
    }
    // The sign-out form carries the viewer's own CSRF token: a valid token does not make a viewer an admin.
    const status = await p.evaluate(async (url) => {
      const token = document.querySelector('input[name=csrf_token]').value;
      const body = new URLSearchParams({ csrf_token: token, confirm: 'yes' });
      const res = await fetch(url, { method: 'POST', body });
      return res.status;
    }, `${gh.baseUrl}/dashboard/env/development/users/${grace.id}/delete`);
    assert.equal(status, 403);
    const stillThere = await apiRequest(gh, 'GET', `/user_management/users/${grace.id}`);
    assert.equal(stillThere.status, 200);
    await viewer.context.close();
  });

  assert.deepEqual(consoleErrors, []);
});
