// Password reset with the node SDK against a real SMTP sink: the link is read out of the delivered
// message. Plus the hosted forgot/reset pages over plain HTTP: the same answer for known and unknown
// addresses, weak passwords, used links.
//
// Link expiry (one hour) is tested in Rust with the fake clock (crates/gatehouse/tests/it/expiry.rs,
// over the API and on the hosted pages), since the server clock cannot be moved from Node.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GenericServerException, NotFoundException } from '@workos-inc/node';
import { useGatehouse } from '../lib/server.mjs';
import {
  sdkAuthorizeUrl,
  apiRequest,
  confidentialClient,
  rejectsOauth,
  verifyAccessToken,
  uniqueEmail,
  STRONG_PASSWORD,
  OTHER_STRONG_PASSWORD,
  COOKIE_PASSWORD,
} from '../lib/api.mjs';
import { CookieJar, request, parseForm, findTags, alerts, textOf, openHostedPage, submitHostedForm, signInViaHostedUi } from '../lib/hosted.mjs';
import { resetLinkFrom } from '../lib/smtp.mjs';

const gh = useGatehouse({ smtp: true });
const REDIRECT_URI = 'http://localhost:5173/e2e/reset-callback';
const THIRD_STRONG_PASSWORD = 'Third-Str0ng!Walrus-Lantern-95';

async function rejectsResetError(promise, code = 'password_reset_error') {
  await assert.rejects(promise, (e) => {
    assert.equal(e?.status, 400, `expected 400 ${code}, got ${e?.name} ${e?.status}: ${e?.message} ${JSON.stringify(e?.rawData)}`);
    assert.equal(e.code, code, JSON.stringify(e.rawData ?? { errors: e.errors, message: e.message }));
    return true;
  });
}

test('createPasswordReset → emailed link → resetPassword: sessions revoked, old password dead, new one works', async (t) => {
  const workos = confidentialClient(gh);
  const email = uniqueEmail('reset');
  const user = await workos.userManagement.createUser({ email, password: STRONG_PASSWORD, emailVerified: true, firstName: 'Re', lastName: 'Set' });

  // Two live sessions before the reset, one of them sealed.
  const s1 = await workos.userManagement.authenticateWithPassword({ email, password: STRONG_PASSWORD });
  const s2 = await workos.userManagement.authenticateWithPassword({
    email,
    password: STRONG_PASSWORD,
    session: { sealSession: true, cookiePassword: COOKIE_PASSWORD },
  });

  let reset;
  await t.test('POST /user_management/password_reset → 201 PasswordReset (spec §4.7)', async () => {
    const raw = await apiRequest(gh, 'POST', '/user_management/password_reset', { email });
    assert.equal(raw.status, 201, raw.text);
    const b = raw.body;
    assert.equal(b.object, 'password_reset');
    assert.match(b.id, /^password_reset_/);
    assert.equal(b.user_id, user.id);
    assert.equal(b.email, email);
    assert.equal(typeof b.password_reset_token, 'string');
    assert.ok(b.password_reset_token.length >= 20);
    assert.equal(b.password_reset_url, `${gh.baseUrl}/authkit/reset-password?token=${encodeURIComponent(b.password_reset_token)}`);
    assert.ok(!Number.isNaN(Date.parse(b.expires_at)) && !Number.isNaN(Date.parse(b.created_at)));
    const ttl = Date.parse(b.expires_at) - Date.parse(b.created_at);
    assert.ok(ttl > 59 * 60_000 && ttl <= 60 * 60_000 + 1000, `links live one hour (got ${ttl} ms)`);
    reset = b;
  });

  let link;
  await t.test('the link arrives by SMTP: subject, text and HTML parts', async () => {
    const mail = await gh.smtp.waitFor({ to: email });
    assert.equal(mail.subject, 'Reset your Gatehouse password');
    link = resetLinkFrom(mail);
    assert.equal(`${link.origin}${link.pathname}`, `${gh.baseUrl}/authkit/reset-password`);
    assert.equal(link.searchParams.get('token'), reset.password_reset_token, 'the emailed token is the API one');
    const hrefs = findTags(mail.html, 'a').map((a) => a.attrs.href);
    assert.ok(hrefs.includes(link.href), `the HTML part links to ${link.href}; hrefs: ${JSON.stringify(hrefs)}`);
  });

  await t.test('getPasswordReset(id) (SDK camelCase)', async () => {
    const got = await workos.userManagement.getPasswordReset(reset.id);
    assert.equal(got.id, reset.id);
    assert.equal(got.userId, user.id);
    assert.equal(got.email, email);
    assert.equal(got.passwordResetToken, reset.password_reset_token);
    assert.equal(got.passwordResetUrl, reset.password_reset_url);
  });

  await t.test('a weak new password → 400 password_reset_error with the reason in errors[]; the token is not spent', async () => {
    const raw = await apiRequest(gh, 'POST', '/user_management/password_reset/confirm', { token: link.searchParams.get('token'), new_password: 'password' });
    assert.equal(raw.status, 400, raw.text);
    assert.equal(raw.body.code, 'password_reset_error', raw.text);
    assert.equal(raw.body.errors?.[0]?.code, 'password_too_weak', raw.text);
    await assert.rejects(workos.userManagement.resetPassword({ token: link.searchParams.get('token'), newPassword: 'password' }), (e) => e?.status === 400);
  });

  await t.test('resetPassword with the emailed token → {user}', async () => {
    const r = await workos.userManagement.resetPassword({ token: link.searchParams.get('token'), newPassword: OTHER_STRONG_PASSWORD });
    assert.equal(r.user.id, user.id);
    assert.equal(r.user.email, email);
  });

  await t.test('every session is revoked: old refresh tokens → invalid_grant, sealed session refresh fails', async () => {
    await rejectsOauth(workos.userManagement.authenticateWithRefreshToken({ refreshToken: s1.refreshToken }), 'invalid_grant');
    const r = await workos.userManagement
      .loadSealedSession({ sessionData: s2.sealedSession, cookiePassword: COOKIE_PASSWORD })
      .refresh();
    assert.equal(r.authenticated, false);
    assert.equal(r.reason, 'invalid_grant');
  });

  await t.test('old password → invalid_credentials; new password works', async () => {
    await assert.rejects(workos.userManagement.authenticateWithPassword({ email, password: STRONG_PASSWORD }), (e) => {
      assert.ok(e instanceof GenericServerException, e?.name);
      assert.equal(e.code, 'invalid_credentials');
      return true;
    });
    const auth = await workos.userManagement.authenticateWithPassword({ email, password: OTHER_STRONG_PASSWORD });
    assert.equal(auth.user.id, user.id);
    await verifyAccessToken(gh, workos, auth.accessToken, { sub: user.id });
  });

  await t.test('the token again → 400 password_reset_error', () =>
    rejectsResetError(workos.userManagement.resetPassword({ token: link.searchParams.get('token'), newPassword: THIRD_STRONG_PASSWORD })));
});

test('API errors: unknown email → 404 NotFoundException; bogus token → password_reset_error; a newer link leaves the older valid', async () => {
  const workos = confidentialClient(gh);
  const nobody = uniqueEmail('reset-nobody');
  await assert.rejects(workos.userManagement.createPasswordReset({ email: nobody }), (e) => {
    assert.ok(e instanceof NotFoundException, `${e?.name}: ${e?.message}`);
    return true;
  });
  await rejectsResetError(workos.userManagement.resetPassword({ token: 'not-a-real-token', newPassword: THIRD_STRONG_PASSWORD }));
  const missing = await apiRequest(gh, 'GET', '/user_management/password_reset/password_reset_01ZZZZZZZZZZZZZZZZZZZZZZZZ');
  assert.equal(missing.status, 404, missing.text);

  const email = uniqueEmail('reset-two');
  await workos.userManagement.createUser({ email, password: STRONG_PASSWORD });
  await workos.userManagement.createPasswordReset({ email });
  await workos.userManagement.createPasswordReset({ email });
  const first = await gh.smtp.waitFor({ to: email }, { count: 1 });
  const second = await gh.smtp.waitFor({ to: email }, { count: 2 });
  const t1 = resetLinkFrom(first).searchParams.get('token');
  const t2 = resetLinkFrom(second).searchParams.get('token');
  assert.notEqual(t1, t2);
  const r = await workos.userManagement.resetPassword({ token: t1, newPassword: OTHER_STRONG_PASSWORD });
  assert.equal(r.user.email, email);
  await workos.userManagement.authenticateWithPassword({ email, password: OTHER_STRONG_PASSWORD });
  await assert.rejects(gh.smtp.waitFor({ to: nobody }, { timeoutMs: 200 }), /no message/);
});

// ---- Hosted pages over HTTP -----------------------------------------------------------------

const authorizeUrl = () => sdkAuthorizeUrl(gh, REDIRECT_URI, { state: 'st' });

/** Sign-in page → "Forgot password?" link → forgot page → POST email. Returns `{post, forgotUrl}`. */
async function forgotPassword(email) {
  const { page, pageUrl, jar } = await openHostedPage(await authorizeUrl());
  assert.equal(pageUrl.pathname, '/authkit/sign-in');
  const forgot = findTags(page.text, 'a').find((a) => (a.attrs.href ?? '').includes('/authkit/forgot-password'));
  assert.ok(forgot, 'the sign-in page links to /authkit/forgot-password');
  const forgotUrl = new URL(forgot.attrs.href, pageUrl);
  assert.equal(forgotUrl.searchParams.get('request'), pageUrl.searchParams.get('request'), 'the link carries the request id');
  const forgotPage = await request(forgotUrl.href, { jar });
  assert.equal(forgotPage.status, 200, forgotPage.text.slice(0, 300));
  const form = parseForm(forgotPage.text, '/authkit/forgot-password');
  assert.equal(form.method, 'post');
  assert.ok(form.inputs.email, 'email field');
  const post = await submitHostedForm(forgotPage, forgotUrl, '/authkit/forgot-password', { email }, jar);
  return { post, forgotUrl, jar };
}

test('hosted forgot password: known and unknown addresses get the same "Check your email" page; only the known one gets mail', async () => {
  const workos = confidentialClient(gh);
  const known = uniqueEmail('hosted-known');
  const unknown = uniqueEmail('hosted-unknown');
  await workos.userManagement.createUser({ email: known, password: STRONG_PASSWORD, emailVerified: true });

  const a = await forgotPassword(known);
  const b = await forgotPassword(unknown);
  assert.equal(a.post.status, 200, `known: ${a.post.status} ${a.post.location} ${alerts(a.post.text)}`);
  assert.equal(b.post.status, a.post.status, 'same status for a known and an unknown address');
  assert.equal(b.post.status, 200, `unknown: ${b.post.status} ${b.post.location} ${alerts(b.post.text)}`);
  const norm = (res, email, url) =>
    textOf(res.text)
      .replaceAll(email, '<email>')
      .replaceAll(url.searchParams.get('request'), '<request>');
  assert.equal(norm(b.post, unknown, b.forgotUrl), norm(a.post, known, a.forgotUrl), 'the two pages differ only by the address typed');
  assert.match(textOf(a.post.text), /check your email/i);
  assert.equal(a.post.headers.get('set-cookie') === null, b.post.headers.get('set-cookie') === null, 'same cookies either way');

  const mail = await gh.smtp.waitFor({ to: known });
  assert.equal(mail.subject, 'Reset your Gatehouse password');
  await assert.rejects(gh.smtp.waitFor({ to: unknown }, { timeoutMs: 500 }), /no message/, 'nothing is sent to an address without an account');
});

test('hosted reset page: weak password (token kept) → new password → "Password changed"; link then expired; sign in with it', async () => {
  const workos = confidentialClient(gh);
  const email = uniqueEmail('hosted-reset');
  const user = await workos.userManagement.createUser({ email, password: STRONG_PASSWORD, emailVerified: true });
  const old = await workos.userManagement.authenticateWithPassword({ email, password: STRONG_PASSWORD });
  await forgotPassword(email);
  const link = resetLinkFrom(await gh.smtp.waitFor({ to: email }));

  const jar = new CookieJar();
  const page = await request(link.href, { jar });
  assert.equal(page.status, 200, page.text.slice(0, 300));
  assert.match(page.headers.get('content-type') ?? '', /text\/html/);
  const form = parseForm(page.text, '/authkit/reset-password');
  assert.equal(form.method, 'post');
  assert.equal(form.hidden.token, link.searchParams.get('token'));
  assert.ok(form.hidden.csrf_token);
  assert.equal((form.inputs.password?.type ?? '').toLowerCase(), 'password');

  const weak = await submitHostedForm(page, link, '/authkit/reset-password', { password: 'password' }, jar);
  assert.equal(weak.status, 400);
  assert.ok(alerts(weak.text).length >= 1, 'the reason in role="alert"');
  parseForm(weak.text, '/authkit/reset-password');

  const noCsrf = await request(new URL('/authkit/reset-password', gh.baseUrl).href, {
    method: 'POST',
    form: { token: link.searchParams.get('token'), password: THIRD_STRONG_PASSWORD },
  });
  assert.equal(noCsrf.status, 400, 'a POST without the CSRF cookie/token is refused');

  const done = await submitHostedForm(weak, link, '/authkit/reset-password', { password: OTHER_STRONG_PASSWORD }, jar);
  assert.equal(done.status, 200, `${done.status} ${alerts(done.text)}`);
  assert.match(textOf(done.text), /password changed/i);

  await rejectsOauth(workos.userManagement.authenticateWithRefreshToken({ refreshToken: old.refreshToken }), 'invalid_grant');

  for (const res of [await request(link.href), await submitHostedForm(page, link, '/authkit/reset-password', { password: THIRD_STRONG_PASSWORD }, jar)]) {
    assert.equal(res.status, 400);
    assert.match(textOf(res.text), /this link has expired/i);
  }
  const bogus = await request(`${gh.baseUrl}/authkit/reset-password?token=nonsense`);
  assert.equal(bogus.status, 400);
  assert.match(textOf(bogus.text), /this link has expired/i);

  const { code } = await signInViaHostedUi(await authorizeUrl(), { email, password: OTHER_STRONG_PASSWORD });
  const auth = await workos.userManagement.authenticateWithCode({ code, clientId: gh.clientId });
  assert.equal(auth.user.id, user.id);
});

test('expired reset link → password_reset_error / "This link has expired"', { skip: 'the server clock cannot be moved from Node; covered by crates/gatehouse/tests/it/expiry.rs a_password_reset_link_expires_after_an_hour' }, () => {});
