// Issue 17.5: the hosted sign-up does not tell who has an account (the default, uniform_sign_up).
// A new address and an address that already has an account get the same 303, the same code page
// and the same answer to a wrong code; the new one's emailed code finishes the sign-up (workos-node
// exchanges the code), the existing account is unchanged and its owner gets an email with a
// sign-in link. Over HTTP with a real SMTP sink; environment settings left at their defaults.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useGatehouse } from '../lib/server.mjs';
import { confidentialClient, sdkAuthorizeUrl, uniqueEmail, wrongCode, STRONG_PASSWORD } from '../lib/api.mjs';
import { codeFrom } from '../lib/smtp.mjs';
import { request, parseForm, alerts, textOf, openHostedPage, submitHostedForm } from '../lib/hosted.mjs';

const gh = useGatehouse({ smtp: true });

const REDIRECT_URI = 'http://localhost:5173/e2e/uniform-callback';

/** Signs up `email` on the hosted page; returns what a prober sees, with the address, request and CSRF token blanked. */
async function signUp(email, password) {
  const url = await sdkAuthorizeUrl(gh, REDIRECT_URI, { screenHint: 'sign-up', state: 'uni' });
  const { page, pageUrl, jar } = await openHostedPage(url);
  assert.equal(pageUrl.pathname, '/authkit/sign-up');
  const request_ = pageUrl.searchParams.get('request');
  const csrf = parseForm(page.text, '/authkit/sign-up').hidden.csrf_token;
  const blank = (s) => s.split(email).join('EMAIL').split(request_).join('REQUEST').split(csrf).join('CSRF');
  const post = await submitHostedForm(page, pageUrl, '/authkit/sign-up', { email, password, first_name: 'Uni', last_name: 'Form' }, jar);
  assert.equal(post.status, 303, `${post.status} ${JSON.stringify(alerts(post.text))}`);
  assert.equal(post.locationUrl.pathname, '/authkit/verify-email');
  assert.ok(post.headers.getSetCookie().some((c) => /^gatehouse_pending=/.test(c) && /HttpOnly/i.test(c)), 'pending cookie set');
  const verifyUrl = post.locationUrl;
  const verifyPage = await request(verifyUrl.href, { jar });
  assert.equal(verifyPage.status, 200);
  assert.ok(textOf(verifyPage.text).includes(email));
  const wrong = await submitHostedForm(verifyPage, verifyUrl, '/authkit/verify-email', { code: '000000' }, jar);
  const seen = {
    post: `${post.status} ${blank(post.location)}`,
    page: blank(verifyPage.text),
    wrong: `${wrong.status} ${JSON.stringify(alerts(wrong.text))}`,
  };
  return { seen, verifyUrl, verifyPage, jar };
}

test('a new address and one with an account get the same answers; the new one signs up with its code', async () => {
  const workos = confidentialClient(gh);
  const known = uniqueEmail('uniform-known');
  await workos.userManagement.createUser({ email: known, password: STRONG_PASSWORD, firstName: 'Known' });
  const fresh = uniqueEmail('uniform-new');

  const forNew = await signUp(fresh, STRONG_PASSWORD);
  const forKnown = await signUp(known, `${STRONG_PASSWORD} again`);
  assert.deepEqual(forKnown.seen, forNew.seen);
  assert.match(forNew.seen.wrong, /^400 .*incorrect/i);

  // The owner of the existing account is told, with a link to sign in; the account is unchanged.
  const notice = await gh.smtp.waitFor({ to: known });
  assert.match(notice.subject, /tried to sign up/i);
  const link = notice.text.match(/https?:\/\/\S+\/authkit\/sign-in\?request=[\w-]+/);
  assert.ok(link, notice.text);
  const signIn = await request(link[0]);
  assert.equal(signIn.status, 200);
  const again = await workos.userManagement.authenticateWithPassword({ clientId: gh.clientId, email: known, password: STRONG_PASSWORD });
  assert.equal(again.user.email, known);
  assert.equal(again.user.firstName, 'Known');

  // The new address's emailed code finishes its sign-up.
  const code = codeFrom(await gh.smtp.waitFor({ to: fresh }));
  const done = await submitHostedForm(forNew.verifyPage, forNew.verifyUrl, '/authkit/verify-email', { code }, forNew.jar);
  assert.equal(done.status, 303, `${done.status} ${JSON.stringify(alerts(done.text))}`);
  assert.equal(`${done.locationUrl.origin}${done.locationUrl.pathname}`, REDIRECT_URI);
  assert.equal(done.locationUrl.searchParams.get('state'), 'uni');
  const auth = await workos.userManagement.authenticateWithCode({ code: done.locationUrl.searchParams.get('code'), clientId: gh.clientId });
  assert.equal(auth.user.email, fresh);
  assert.equal(auth.user.emailVerified, true);
  assert.equal(auth.authenticationMethod, 'Password');
  // No code works on the existing address's page.
  const guess = await submitHostedForm(forKnown.verifyPage, forKnown.verifyUrl, '/authkit/verify-email', { code: wrongCode(code) }, forKnown.jar);
  assert.equal(guess.status, 400);
});
