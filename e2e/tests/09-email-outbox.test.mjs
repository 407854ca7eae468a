// The durable email outbox: a message requested while the SMTP server is down is kept and delivered once
// it is back (retries after 5 s, 10 s, …), and the code in it still works. Also: the environment's
// `password_reset_url` setting shapes the emailed link. Without SMTP, development emails are listed at
// GET /dev/emails instead.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { useGatehouse, freePort, startGatehouse } from '../lib/server.mjs';
import { apiRequest, confidentialClient, uniqueEmail, STRONG_PASSWORD } from '../lib/api.mjs';
import { startSmtpSink, codeFrom, resetLinkFrom } from '../lib/smtp.mjs';
import { request, textOf } from '../lib/hosted.mjs';

// Nothing listens on this port until the test starts the sink there.
const smtpPort = await freePort();
// An app-hosted reset page that already has a query: the token is appended with `&`.
const RESET_URL = 'http://localhost:5173/account/reset-password?from=email';
const gh = useGatehouse({ smtpUrl: `smtp://127.0.0.1:${smtpPort}`, settings: { password_reset_url: RESET_URL } });
let sink;
let devServer;
after(async () => {
  await sink?.close();
  await devServer?.stop();
});

test('SMTP down at send time, back later: the queued emails arrive, nothing lost, the code still works', { timeout: 60_000 }, async () => {
  const workos = confidentialClient(gh);
  const email = uniqueEmail('outbox');
  await workos.userManagement.createUser({ email, password: STRONG_PASSWORD, emailVerified: true });

  // The API answers at once even though nothing can be delivered yet.
  const started = Date.now();
  const magic = await workos.userManagement.createMagicAuth({ email });
  const reset = await workos.userManagement.createPasswordReset({ email });
  assert.ok(Date.now() - started < 3000, 'sending does not wait for SMTP');

  assert.equal(reset.passwordResetUrl, `${RESET_URL}&token=${encodeURIComponent(reset.passwordResetToken)}`, 'password_reset_url setting + token');

  // Wait until the first delivery attempt of both messages has failed against the closed port (the
  // server logs "will retry"), then bring the SMTP server up.
  const failedAttempts = () => (gh.log().match(/email not sent; will retry/g) ?? []).length;
  for (const deadline = Date.now() + 5000; failedAttempts() < 2; ) {
    assert.ok(Date.now() < deadline, `expected two failed delivery attempts in the log:\n${gh.log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  sink = await startSmtpSink({ port: smtpPort });
  const sinkUp = Date.now();
  assert.equal(sink.messages.length, 0);

  const codeMail = await sink.waitFor({ to: email, subject: /sign-in code/ }, { timeoutMs: 15_000 });
  const resetMail = await sink.waitFor({ to: email, subject: /Reset your/ }, { timeoutMs: 15_000 });
  assert.ok(Math.min(codeMail.receivedAt, resetMail.receivedAt) >= sinkUp);
  assert.equal(codeFrom(codeMail), magic.code);
  const link = resetLinkFrom(resetMail);
  assert.equal(link.href, reset.passwordResetUrl, 'the emailed link is the API\'s password_reset_url');
  assert.equal(link.searchParams.get('from'), 'email');
  assert.equal(link.searchParams.get('token'), reset.passwordResetToken);

  const auth = await workos.userManagement.authenticateWithMagicAuth({ email, code: codeFrom(codeMail) });
  assert.equal(auth.authenticationMethod, 'MagicAuth');

  // Each message exactly once, and new mail now goes out promptly.
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(sink.count({ to: email }), 2, JSON.stringify(sink.messages.map((m) => m.subject)));
  const t0 = Date.now();
  await workos.userManagement.createMagicAuth({ email });
  await sink.waitFor({ to: email }, { count: 3, timeoutMs: 5000 });
  assert.ok(Date.now() - t0 < 5000);
});

test('with SMTP configured, GET /dev/emails is not available', async () => {
  const res = await request(`${gh.baseUrl}/dev/emails`);
  assert.equal(res.status, 404);
});

test('without SMTP: development emails are listed at GET /dev/emails (HTML) with the code', async () => {
  devServer = await startGatehouse({ serveArgs: ['--dev-emails'] });
  const email = uniqueEmail('devmail');
  const created = await apiRequest(devServer, 'POST', '/user_management/magic_auth', { email });
  assert.equal(created.status, 201, created.text);
  const res = await request(`${devServer.baseUrl}/dev/emails`);
  assert.equal(res.status, 200, res.text.slice(0, 300));
  assert.match(res.headers.get('content-type') ?? '', /text\/html/);
  const text = textOf(res.text);
  assert.ok(text.includes(email), 'the outbox lists the recipient');
  assert.ok(text.includes(`Your Gatehouse sign-in code is ${created.body.code}`), `the subject with the code; page text: ${text.slice(0, 500)}`);
});
