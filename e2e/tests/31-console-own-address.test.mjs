// Issue 16: the console off the public path. `serve --dashboard-listen` serves /dashboard only on its own
// address; the public URL answers 404 there. An operator link for that address, and the sign-in through the
// hosted pages on the public URL coming back to the console's own address, in headless Chromium. A viewer
// sees no change buttons.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchChromium } from '../lib/browser.mjs';
import { useGatehouse, freePort, runCli } from '../lib/server.mjs';

const dashboardPort = await freePort();
const dashboard = `http://127.0.0.1:${dashboardPort}`;
const gh = useGatehouse({ serveArgs: ['--dashboard-listen', `127.0.0.1:${dashboardPort}`] });
const PASSWORD = 'Operator-e2e!Harbor-Violet-83';
let browser;
let page;
const errors = [];

before(async () => {
  await gh.ready;
  browser = await launchChromium();
  page = await (await browser.newContext({ viewport: { width: 1024, height: 700 } })).newPage();
  page.setDefaultTimeout(15_000);
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => m.type() === 'error' && !m.text().includes('status of 404') && errors.push(m.text()));
});

after(async () => {
  await browser?.close().catch(() => {});
});

async function operatorLink(email, role) {
  const args = ['operators', 'add', email, '--role', role, '--data', gh.dataDir, '--public-url', gh.baseUrl, '--dashboard-url', dashboard, '--json'];
  const { link } = JSON.parse((await runCli(args)).stdout);
  assert.ok(link.startsWith(`${dashboard}/dashboard/setup?token=`), link);
  return link;
}

async function becomeOperator(email, role) {
  await page.goto(await operatorLink(email, role));
  await page.fill('#password', PASSWORD);
  await page.fill('#password_confirmation', PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByRole('link', { name: 'Sign in' }).click();
  await page.waitForURL((u) => u.origin === gh.baseUrl && u.pathname === '/authkit/sign-in');
  await page.fill('#email', email);
  await page.fill('#password', PASSWORD);
  await page.click('form[action="/authkit/sign-in"] button[type="submit"]');
  await page.waitForURL((u) => u.origin === dashboard && u.pathname === '/dashboard');
}

test('the console on its own address, and a viewer', { timeout: 120_000 }, async () => {
  const onPublic = await fetch(`${gh.baseUrl}/dashboard`, { redirect: 'manual' });
  assert.equal(onPublic.status, 404, 'not on the public address');
  const signIn = await fetch(`${dashboard}/dashboard/sign-in`, { redirect: 'manual' });
  assert.equal(signIn.status, 302);
  assert.ok(signIn.headers.get('location').startsWith(`${gh.baseUrl}/user_management/authorize?`));

  await becomeOperator('admin@example.com', 'admin');
  await page.goto(`${dashboard}/dashboard/env/development/cors`);
  assert.ok(await page.getByRole('button', { name: 'Add' }).isVisible());
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Signed out' }).waitFor();
  await page.goto(`${dashboard}/dashboard`);
  await page.waitForURL((u) => u.origin === gh.baseUrl && u.pathname === '/authkit/sign-in');

  await becomeOperator('viewer@example.com', 'viewer');
  await page.goto(`${dashboard}/dashboard/env/development/cors`);
  await page.getByText('Read-only: your role is viewer.').waitFor();
  assert.equal(await page.getByRole('button', { name: 'Add' }).count(), 0);
  assert.equal(await page.getByRole('button', { name: /Remove/ }).count(), 0);
  await page.goto(`${dashboard}/dashboard/env/development/api-keys`);
  assert.equal(await page.getByRole('button', { name: 'Create API key' }).count(), 0);
  assert.deepEqual(errors, []);
});
