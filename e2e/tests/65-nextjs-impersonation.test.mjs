// Issue 10.3: impersonation in Convex's AuthKit guide app for Next.js (examples/nextjs-convex, built with
// `next build`, run with `next start`, in headless Chromium). `gatehouse impersonate` prints a one-time
// link; the operator's browser opens it and then the app's own sign-in (/sign-in → Gatehouse's
// authorize) comes straight back as the user. authkit-nextjs keeps the authenticate answer's
// `impersonator` in its session, and its `<Impersonation>` component (rendered by the example's layout)
// shows its banner: "You are impersonating <user's email>" with a Stop button. The banner names the
// user; the example's user menu names the impersonator (`useAuth().impersonator`), and the app's sealed
// session holds `impersonator: {email, reason}` and a token whose `act` claim names the operator.
// "Stop" signs out through Gatehouse, which revokes the session with a session.revoked event that
// names the impersonator too.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { launchChromium, ARTIFACTS } from '../lib/browser.mjs';
import { useGatehouse, freePort, runCli } from '../lib/server.mjs';
import { addRedirectUri, apiRequest, confidentialClient, uniqueEmail, STRONG_PASSWORD } from '../lib/api.mjs';
import { startConvexNumbers, putGuideJwtTemplate, useFailureReport } from '../lib/react-convex.mjs';
import { buildNextApp, startNextApp, unsealAppSession } from '../lib/nextjs-convex.mjs';

const COOKIE_PASSWORD = 'nextjs-e2e-cookie-password-0123456789abcdef';
const OPERATOR = 'ops@example.com';
const REASON = 'Ticket 4242: the numbers look wrong';

const gh = useGatehouse({ settings: { uniform_sign_up: 'false' } });
let backend;
let app;
let appOrigin;
let browser;
let context;
let page;
const report = useFailureReport();
const browserLog = report.log;

before(async () => {
  await gh.ready;
  await putGuideJwtTemplate(gh);
  backend = await startConvexNumbers(gh);
  const appPort = await freePort();
  appOrigin = `http://localhost:${appPort}`;
  await addRedirectUri(gh, `${appOrigin}/callback`);
  await runCli(['env', 'set', 'development', `sign_out_redirect_uris=${appOrigin}/`, '--data', gh.dataDir]);
  const env = {
    WORKOS_CLIENT_ID: gh.clientId,
    WORKOS_API_KEY: gh.apiKey,
    WORKOS_COOKIE_PASSWORD: COOKIE_PASSWORD,
    WORKOS_API_HOSTNAME: '127.0.0.1',
    WORKOS_API_PORT: String(gh.port),
    WORKOS_API_HTTPS: 'false',
    NEXT_PUBLIC_WORKOS_REDIRECT_URI: `${appOrigin}/callback`,
    NEXT_PUBLIC_CONVEX_URL: backend.url,
  };
  const ms = await buildNextApp(env);
  process.stderr.write(`nextjs-impersonation: next build took ${ms} ms\n`);
  app = await startNextApp({ port: appPort, env });
  await mkdir(ARTIFACTS, { recursive: true });
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 900, height: 640 } });
  page = await context.newPage();
  page.setDefaultTimeout(20_000);
  page.on('console', (m) => browserLog.push(`[console.${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => browserLog.push(`[pageerror] ${e.message}`));
  page.on('framenavigated', (f) => f === page.mainFrame() && browserLog.push(`[navigated] ${f.url()}`));
  page.on('response', (r) => r.status() >= 400 && browserLog.push(`[${r.status()}] ${r.request().method()} ${r.url()}`));
}, { timeout: 600_000 }); // next build alone can take 80–200 s on a busy 2-core machine

after(async () => {
  report.print({ 'next start output': app?.log(), 'convex-numbers output': backend?.log() });
  await browser?.close().catch(() => {});
  await app?.stop();
  await backend?.stop();
});

const banner = () => page.locator('[data-workos-impersonation-root]');

test('an impersonation link signs the operator in to the Next.js app as the user, under AuthKit\'s banner', { timeout: 300_000 }, async () => {
  const email = uniqueEmail('nextjs-impersonated');
  const created = await apiRequest(gh, 'POST', '/user_management/users', {
    email, password: STRONG_PASSWORD, first_name: 'Ada', last_name: 'Lovelace',
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const userId = created.body.id;

  const { stdout } = await runCli(['impersonate', email, '--reason', REASON, '--operator', OPERATOR, '--data', gh.dataDir,
    '--public-url', gh.baseUrl, '--json']);
  const link = JSON.parse(stdout);

  // The operator's browser opens the link (Gatehouse keeps the grant in a cookie), then the app's
  // sign-in: straight back to the app as the user, no sign-in page.
  const opened = await context.request.get(link.url, { maxRedirects: 0 });
  assert.equal(opened.status(), 302);
  await page.goto(`${appOrigin}/sign-in`);
  await page.waitForURL((u) => u.origin === appOrigin && u.pathname === '/');
  await page.getByText('Welcome Ada Lovelace!').waitFor();
  assert.ok(!browserLog.some((l) => l.includes('/authkit/sign-in')), 'no sign-in page was shown');

  // authkit-nextjs's <Impersonation> banner, naming the user; the user menu names the operator.
  await banner().waitFor();
  const text = (await banner().textContent()).replace(/\s+/g, ' ');
  assert.ok(text.includes(`You are impersonating ${email}`), text);
  assert.ok(await banner().getByRole('button', { name: 'Stop' }).isVisible());
  assert.ok((await page.textContent('header')).includes(`impersonated by ${OPERATOR}`));
  await page.screenshot({ path: join(ARTIFACTS, 'nextjs-impersonation.png') });

  // The app's session: the authenticate answer's impersonator, a token with act.
  const cookie = (await context.cookies(appOrigin)).find((c) => c.name === 'wos-session');
  assert.ok(cookie, 'the app has its wos-session cookie');
  const session = await unsealAppSession(cookie.value, COOKIE_PASSWORD);
  assert.deepEqual(session.impersonator, { email: OPERATOR, reason: REASON });
  const claims = JSON.parse(Buffer.from(session.accessToken.split('.')[1], 'base64url').toString('utf8'));
  assert.deepEqual(claims.act, { sub: OPERATOR });
  assert.equal(claims.sub, userId);

  // The /server page (withAuth on the server) sees the same user.
  const res = await page.goto(`${appOrigin}/server`);
  assert.equal(res.status(), 200);
  await page.getByText(`Signed in as ${email}`).waitFor();
  await banner().waitFor();

  // "Stop" ends the impersonation: signed out at Gatehouse (session.revoked names the impersonator).
  await page.goto(`${appOrigin}/`);
  await page.getByText('Welcome Ada Lovelace!').waitFor();
  await banner().getByRole('button', { name: 'Stop' }).click();
  await page.waitForURL((u) => u.origin === appOrigin && u.pathname === '/');
  await page.getByText('Log in to see the numbers').waitFor();
  assert.equal(await banner().count(), 0, 'no banner once signed out');
  const sessions = await confidentialClient(gh).userManagement.listSessions(userId);
  const impersonation = sessions.data.find((s) => s.id === claims.sid);
  assert.equal(impersonation?.status, 'revoked');
  const events = await apiRequest(gh, 'GET', '/events?events=session.revoked&limit=100');
  const revoked = events.body.data.find((e) => e.data.id === claims.sid);
  assert.ok(revoked, JSON.stringify(events.body));
  assert.deepEqual(revoked.data.impersonator, { email: OPERATOR, reason: REASON });

  // The next sign-in is an ordinary one (the link and its grant were spent): the hosted sign-in page.
  await page.goto(`${appOrigin}/sign-in`);
  await page.waitForURL((u) => u.origin === gh.baseUrl && u.pathname === '/authkit/sign-in');
});
