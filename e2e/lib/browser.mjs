// Shared pieces of the hosted-UI browser tests: Chromium launch (flags as in 12-*), a tiny "app" that
// only answers its callback URL, and the authorize URL for it.

import http from 'node:http';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

export function launchChromium() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
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

export function authorizeUrl(gh, redirectUri) {
  const q = new URLSearchParams({ client_id: gh.clientId, redirect_uri: redirectUri, response_type: 'code', provider: 'authkit' });
  return `${gh.baseUrl}/user_management/authorize?${q}`;
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
