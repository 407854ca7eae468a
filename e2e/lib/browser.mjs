// Shared pieces of the browser tests: Chromium launch (the flags every browser test uses), where
// screenshots go, a tiny "app" that only answers its callback URL, the code exchange for it, and the
// hooks and helpers of the files that drive the authkit-js test app (lib/app.mjs).

import assert from 'node:assert/strict';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { before, after, afterEach } from 'node:test';
import { chromium } from 'playwright-core';
import { addRedirectUri, addCorsOrigin } from './api.mjs';
import { startApp } from './app.mjs';
import { E2E_DIR, REPO_ROOT } from './server.mjs';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
/** Screenshots of every browser test (ignored by git). */
export const ARTIFACTS = join(E2E_DIR, 'artifacts');
/** Screenshots the README shows: docs/images/ with `UPDATE_DOCS_IMAGES=1`, else the artifacts folder. */
export const DOCS_IMAGES = process.env.UPDATE_DOCS_IMAGES ? join(REPO_ROOT, 'docs', 'images') : ARTIFACTS;

/** `extraArgs`: more Chromium flags, e.g. from `realNames`. */
export function launchChromium(extraArgs = []) {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', ...extraArgs],
  });
}

/**
 * Chromium flags for browser apps on real host names over plain http: every name in `hosts` resolves
 * to the loopback (`--host-resolver-rules`), and the `origins` count as secure contexts (WebCrypto,
 * which authkit-js's PKCE needs), as https would make them.
 */
export function realNames(hosts, origins) {
  return [
    `--host-resolver-rules=${hosts.map((h) => `MAP ${h} 127.0.0.1`).join(', ')}`,
    `--unsafely-treat-insecure-origin-as-secure=${origins.join(',')}`,
  ];
}

/** Serves `http://localhost:<port>/callback` (and any other path) with a small page. */
export async function startCallbackApp() {
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>App</title><h1 id="app">Back at the app</h1>');
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  const origin = `http://localhost:${port}`;
  return {
    origin,
    redirectUri: `${origin}/callback`,
    close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(() => r()); }),
  };
}

/** Exchanges the `code` of a callback URL with the API key; returns the authenticate response body. */
export async function exchangeCallback(gh, url) {
  const code = new URL(url).searchParams.get('code');
  const res = await fetch(`http://127.0.0.1:${gh.port}/user_management/authenticate`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ grant_type: 'authorization_code', client_id: gh.clientId, client_secret: gh.apiKey, code }),
  });
  const body = await res.json();
  if (res.status !== 200) throw new Error(`code exchange failed: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

/**
 * For a test file that drives the authkit-js test app (lib/app.mjs) in Chromium: registers the
 * node:test hooks that start the app (its redirect URI and CORS origin added to Gatehouse), open
 * one page that records the browser's console, errors, failed requests and Gatehouse responses,
 * print that record only if a test failed, and close everything. The returned object's `app`,
 * `context` and `page` are set once `ready` resolves (root-level `before` hooks run concurrently
 * in node:test, so the file's own hooks must await it); `nonce` at once.
 */
export function useAppInBrowser(gh) {
  const session = { nonce: randomBytes(6).toString('hex'), app: null, browser: null, context: null, page: null };
  let settle;
  session.ready = new Promise((resolve, reject) => {
    settle = { resolve, reject };
  });
  session.ready.catch(() => {}); // a failure is reported by the hook below
  const log = [];
  let failed = false;
  before(async () => {
    try {
      await open();
      settle.resolve();
    } catch (e) {
      settle.reject(e);
      throw e;
    }
  });
  async function open() {
    await gh.ready;
    session.app = await startApp({ apiPort: gh.port, clientId: gh.clientId, nonce: session.nonce });
    await addRedirectUri(gh, session.app.redirectUri);
    await addCorsOrigin(gh, session.app.origin);
    await mkdir(ARTIFACTS, { recursive: true });
    session.browser = await launchChromium();
    session.context = await session.browser.newContext({ viewport: { width: 1100, height: 760 } });
    const page = await session.context.newPage();
    page.setDefaultTimeout(15_000);
    page.on('console', (m) => log.push(`[console.${m.type()}] ${m.text()}`));
    page.on('pageerror', (e) => log.push(`[pageerror] ${e.message}`));
    page.on('requestfailed', (r) => log.push(`[requestfailed] ${r.method()} ${r.url()} ${r.failure()?.errorText}`));
    page.on('response', (r) => {
      if (r.url().startsWith(gh.baseUrl)) log.push(`[response] ${r.status()} ${r.request().method()} ${r.url()}`);
    });
    session.page = page;
  }
  afterEach((t) => {
    if (!t.passed) failed = true;
  });
  after(async () => {
    if (failed) process.stderr.write(`\n===== browser log =====\n${log.join('\n')}\n===== end of browser log =====\n`);
    await session.context?.close().catch(() => {});
    await session.browser?.close().catch(() => {});
    await session.app?.close();
  });
  return session;
}

/** Waits until the authkit-js test app on `page` has initialised; fails with its error if it could not. */
export async function waitReady(page) {
  await page.waitForFunction(() => ['ready', 'error'].includes(document.getElementById('status')?.textContent));
  assert.equal(await page.textContent('#status'), 'ready', `app failed to initialise: ${await page.textContent('#error')}`);
}

/**
 * Records the `POST /user_management/authenticate` requests `page` sends to the Gatehouse at `gh.baseUrl`:
 * `posts` holds `{body, status}` (the body as sent, parsed; the status once the answer came).
 * `settled()` waits for every answer; `stop()` stops recording.
 */
export function watchAuthenticate(page, gh) {
  const posts = [];
  const answers = [];
  const onRequest = (r) => {
    if (r.method() === 'POST' && r.url() === `${gh.baseUrl}/user_management/authenticate`) {
      const entry = { body: r.postDataJSON(), status: null };
      posts.push(entry);
      answers.push(r.response().then((res) => (entry.status = res?.status() ?? null)).catch(() => {}));
    }
  };
  page.on('request', onRequest);
  return { posts, settled: () => Promise.all(answers), stop: () => page.off('request', onRequest) };
}
