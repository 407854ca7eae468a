// A tiny single-page "app" served over plain HTTP for the browser tests: it loads the official
// authkit-js bundle (@workos-inc/authkit-js/dist/index.mjs, no runtime deps) as /authkit.mjs and wires
// createClient() to a Gatehouse server. The bundle is the release this run tests: e2e/node_modules'
// (pinned), or e2e/latest/node_modules' with E2E_SDK=latest. It is found here by path, not imported, so
// lib/sdk-latest.mjs's import hooks do not see it (nor does require.resolve honour them on Node 22).

import assert from 'node:assert/strict';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { LATEST, LATEST_DIR, sdkVersion } from './sdk.mjs';

const require = createRequire(LATEST ? join(LATEST_DIR, 'package.json') : import.meta.url);
const AUTHKIT_PACKAGE = require.resolve('@workos-inc/authkit-js/package.json');
const AUTHKIT_DIST = join(dirname(AUTHKIT_PACKAGE), 'dist', 'index.mjs');
/** The version of the authkit-js bundle the app serves. */
export const AUTHKIT_VERSION = JSON.parse(readFileSync(AUTHKIT_PACKAGE, 'utf8')).version;

function page(cfg) {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Gatehouse e2e app</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem}button{margin-right:.5rem}</style>
</head>
<body>
<h1>Gatehouse e2e app</h1>
<p>Status: <span id="status">loading</span></p>
<p>User: <span id="user">(unknown)</span></p>
<p>
  <button id="sign-in" type="button">Sign in</button>
  <button id="sign-up" type="button">Sign up</button>
  <button id="sign-out" type="button">Sign out</button>
</p>
<pre id="error"></pre>
<script>window.__cfg = ${JSON.stringify(cfg).replace(/</g, '\\u003c')};</script>
<script type="module">
import { createClient } from '/authkit.mjs';
const cfg = window.__cfg;
window.__redirects = [];
window.__refreshes = 0;
window.__refreshFailures = 0;
const $ = (id) => document.getElementById(id);
try {
  const client = await createClient(cfg.clientId, {
    apiHostname: cfg.apiHostname,
    port: cfg.apiPort,
    https: false,
    redirectUri: cfg.redirectUri,
    onRedirectCallback: (params) => {
      window.__redirects.push({ state: params.state ?? null, email: params.user?.email ?? null });
    },
    onRefresh: () => { window.__refreshes += 1; },
    onRefreshFailure: () => { window.__refreshFailures += 1; },
  });
  window.__client = client;
  const render = () => {
    const user = client.getUser();
    $('user').textContent = user ? user.email : 'signed out';
  };
  render();
  $('sign-in').onclick = () => client.signIn({ state: { returnTo: '/after-sign-in', nonce: cfg.nonce } });
  $('sign-up').onclick = () => client.signUp({ state: { returnTo: '/after-sign-up', nonce: cfg.nonce } });
  $('sign-out').onclick = () => client.signOut({ returnTo: cfg.origin + '/' });
  $('status').textContent = 'ready';
} catch (e) {
  $('error').textContent = String((e && e.stack) || e);
  $('status').textContent = 'error';
}
</script>
</body>
</html>
`;
}

/**
 * Serves the app on 127.0.0.1:<free port>; the browser uses `http://<host>:<port>` (default `localhost`:
 * authkit-js devMode; another name, mapped to the loopback in Chromium, runs it in production mode),
 * and reaches Gatehouse at `apiHostname:apiPort`. Returns `{origin, port, redirectUri, close()}`.
 */
export async function startApp({ apiPort, clientId, nonce, host = 'localhost', apiHostname = '127.0.0.1' }) {
  assert.equal(AUTHKIT_VERSION, sdkVersion('@workos-inc/authkit-js'), `the app serves ${AUTHKIT_DIST}, not the authkit-js release under test`);
  if (LATEST) assert.ok(AUTHKIT_DIST.startsWith(LATEST_DIR), `E2E_SDK=latest, yet the app serves ${AUTHKIT_DIST}`);
  const bundle = await readFile(AUTHKIT_DIST);
  let cfg;
  const server = http.createServer((req, res) => {
    const path = new URL(req.url, 'http://localhost').pathname;
    if (path === '/authkit.mjs') {
      res.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8', 'Cache-Control': 'no-store' });
      res.end(bundle);
    } else if (path === '/favicon.ico') {
      res.writeHead(404);
      res.end();
    } else {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
      res.end(page(cfg));
    }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  const origin = `http://${host}:${port}`;
  cfg = { clientId, apiHostname, apiPort, redirectUri: `${origin}/callback`, origin, nonce };
  return {
    origin,
    port,
    redirectUri: cfg.redirectUri,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections?.();
        server.close(() => r());
      }),
  };
}
