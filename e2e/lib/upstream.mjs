// Upstream sign-in providers for the social-login tests:
// - panva `oidc-provider` (a certified OpenID Provider) with its development interactions;
// - a GitHub-style OAuth 2.0 server (authorize, token, /user, /user/emails) that approves at once.

import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import Provider from 'oidc-provider';
import { freePort } from './server.mjs';

export const OIDC_CLIENT_ID = 'gatehouse-client';
export const OIDC_CLIENT_SECRET = 'gatehouse-secret';

/**
 * Starts oidc-provider on a free port. Any login name works (devInteractions); the account's email is
 * `<login>@example.test`, verified unless the login starts with `unverified`.
 */
export async function startOidcProvider({ redirectUris }) {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: OIDC_CLIENT_ID,
        client_secret: OIDC_CLIENT_SECRET,
        redirect_uris: redirectUris,
        grant_types: ['authorization_code'],
        response_types: ['code'],
      },
    ],
    findAccount: async (ctx, sub) => ({
      accountId: sub,
      claims: async () => ({
        sub,
        email: `${sub}@example.test`,
        email_verified: !sub.startsWith('unverified'),
        given_name: 'Oidc',
        family_name: `User ${sub}`,
      }),
    }),
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['given_name', 'family_name'] },
    features: { devInteractions: { enabled: true } },
    cookies: { keys: ['e2e-cookie-key'] },
  });
  // Keep the warnings about the development setup out of the test output.
  provider.on('server_error', (ctx, err) => process.stderr.write(`oidc-provider: ${err}\n`));
  const server = provider.listen(port, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return { issuer, port, close: () => new Promise((r) => server.close(r)) };
}

function readBody(req) {
  return new Promise((resolve) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => resolve(data));
  });
}

/**
 * A GitHub-style OAuth 2.0 provider: `/login/oauth/authorize` approves at once, `/login/oauth/access_token`
 * checks the code, client and PKCE verifier, `/user` and `/user/emails` answer for the token.
 * `account` ({id, login, name, emails: [{email, primary, verified}]}) can be changed between sign-ins.
 */
export async function startGitHubLike({ clientId = 'gh-client', clientSecret = 'gh-secret' } = {}) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const codes = new Map();
  const tokens = new Map();
  const state = {
    account: { id: 777, login: 'octo', name: 'Octo Cat', emails: [] },
    requests: [],
  };
  const json = (res, status, body) => {
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, base);
    state.requests.push(`${req.method} ${url.pathname}`);
    if (url.pathname === '/login/oauth/authorize') {
      const q = url.searchParams;
      if (q.get('client_id') !== clientId || q.get('code_challenge_method') !== 'S256') return json(res, 400, { error: 'bad request' });
      const code = randomBytes(12).toString('hex');
      codes.set(code, { challenge: q.get('code_challenge'), redirectUri: q.get('redirect_uri'), account: state.account });
      const back = new URL(q.get('redirect_uri'));
      back.searchParams.set('code', code);
      back.searchParams.set('state', q.get('state'));
      res.writeHead(302, { Location: back.toString() });
      return res.end();
    }
    if (url.pathname === '/login/oauth/access_token' && req.method === 'POST') {
      const f = new URLSearchParams(await readBody(req));
      const grant = codes.get(f.get('code'));
      codes.delete(f.get('code'));
      const challenge = createHash('sha256').update(f.get('code_verifier') ?? '').digest('base64url');
      if (f.get('client_id') !== clientId || f.get('client_secret') !== clientSecret) {
        return json(res, 200, { error: 'incorrect_client_credentials' });
      }
      if (!grant || grant.challenge !== challenge || grant.redirectUri !== f.get('redirect_uri')) {
        return json(res, 200, { error: 'bad_verification_code', error_description: 'The code passed is incorrect or expired.' });
      }
      const token = `gho_${randomBytes(12).toString('hex')}`;
      tokens.set(token, grant.account);
      return json(res, 200, { access_token: token, token_type: 'bearer', scope: 'read:user,user:email' });
    }
    const account = tokens.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (!account) return json(res, 401, { message: 'Requires authentication' });
    if (url.pathname === '/user') {
      return json(res, 200, { id: account.id, login: account.login, name: account.name, email: null, avatar_url: null });
    }
    if (url.pathname === '/user/emails') {
      return json(res, 200, account.emails.map((e) => ({ visibility: null, ...e })));
    }
    return json(res, 404, { message: 'Not Found' });
  });
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  return {
    base,
    clientId,
    clientSecret,
    state,
    close: () => new Promise((r) => server.close(r)),
  };
}
