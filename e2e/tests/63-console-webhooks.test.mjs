// The console's webhooks pages in headless Chromium: an endpoint added with its events ticked; its signing
// secret, shown and copied from the page, verifies a real delivery with `workos.webhooks.constructEvent`; the
// delivery is listed and sent again; the endpoint is removed after a confirmation. The pages have no console
// errors and do not scroll sideways at 375 px (docs/images/console-webhook*.png with UPDATE_DOCS_IMAGES=1).
// The server allows private addresses (the receiver is on 127.0.0.1).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { launchChromium, ARTIFACTS, DOCS_IMAGES } from '../lib/browser.mjs';
import { useGatehouse } from '../lib/server.mjs';
import { confidentialClient, uniqueEmail, STRONG_PASSWORD } from '../lib/api.mjs';
import { signInOperator, captureConsolePage } from '../lib/console.mjs';
import { startReceiver, until } from '../lib/webhooks.mjs';

const gh = useGatehouse({ serveArgs: ['--webhooks-allow-private'] });
let browser;
let receiver;
const consoleErrors = [];

before(async () => {
  await gh.ready;
  await mkdir(ARTIFACTS, { recursive: true });
  await mkdir(DOCS_IMAGES, { recursive: true });
  browser = await launchChromium();
  receiver = await startReceiver();
});

after(async () => {
  await browser?.close().catch(() => {});
  receiver?.close();
});

test('a webhook endpoint added in the console: its secret verifies a real delivery, which is sent again', { timeout: 120_000 }, async () => {
  const workos = confidentialClient(gh);
  const { page } = await signInOperator(browser, gh, { email: 'hooks@example.com', role: 'admin', errors: consoleErrors, clipboard: true });
  await page.locator('nav.envs').getByRole('link', { name: 'development' }).click();
  await page.locator('nav.sidenav').getByRole('link', { name: 'Webhooks' }).click();
  await page.getByRole('heading', { name: 'Webhooks' }).waitFor();
  await page.getByText('No endpoints yet').waitFor();

  await page.fill('#url', receiver.url);
  await page.getByLabel('user.created').check();
  await page.getByRole('button', { name: 'Add endpoint' }).click();
  await page.getByRole('status').filter({ hasText: 'Endpoint added' }).waitFor();
  await page.getByText('Nothing delivered yet').waitFor();

  await page.getByText('Show', { exact: true }).click();
  const secret = (await page.locator('#webhook-secret').textContent()).trim();
  assert.match(secret, /^whsec_/);
  await page.locator('button[data-copy="webhook-secret"]').click();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret);

  const user = await workos.userManagement.createUser({ email: uniqueEmail('hooked'), password: STRONG_PASSWORD });
  await until('the delivery', () => receiver.got.length === 1);
  const first = receiver.got[0];
  const event = await workos.webhooks.constructEvent({ payload: first.body, sigHeader: first.signature, secret });
  assert.equal(event.event, 'user.created');
  assert.equal(event.data.id, user.id);

  await page.reload();
  const row = page.locator('tbody tr').filter({ hasText: 'user.created' });
  await row.getByText('delivered').waitFor();
  await row.getByText('HTTP 200').waitFor();
  await row.getByRole('button', { name: 'Send again' }).click();
  await page.getByRole('status').filter({ hasText: 'user.created sent again: the endpoint accepted it.' }).waitFor();
  assert.equal(receiver.got.length, 2);
  const again = await workos.webhooks.constructEvent({ payload: receiver.got[1].body, sigHeader: receiver.got[1].signature, secret });
  assert.equal(again.id, event.id, 'the same event');
  await captureConsolePage(page, 'webhook');

  await page.getByRole('link', { name: '← Webhooks' }).click();
  await page.getByRole('link', { name: receiver.url }).waitFor();
  await captureConsolePage(page, 'webhooks');

  await page.getByRole('link', { name: receiver.url }).click();
  await page.getByRole('button', { name: 'Remove endpoint…' }).click();
  await page.getByRole('button', { name: 'Remove endpoint' }).click();
  await page.getByRole('status').filter({ hasText: 'removed' }).waitFor();
  await page.getByText('No endpoints yet').waitFor();
  assert.deepEqual((await workos.webhooks.listWebhookEndpoints()).data, []);

  assert.deepEqual(consoleErrors, []);
});
