// A local webhook receiver for the webhook suites (61-webhooks, 63-console-webhooks): it keeps every
// delivery's raw body and `WorkOS-Signature` header; the first `state.failures` answers are 500.

import http from 'node:http';

/** Starts a receiver on 127.0.0.1. Resolves `{url, got, state, close}`; `url` ends in `/hook`. */
export function startReceiver() {
  const got = [];
  const state = { failures: 0, attempts: 0 };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      state.attempts++;
      if (state.failures > 0) {
        state.failures--;
        res.writeHead(500).end();
        return;
      }
      got.push({ body: Buffer.concat(chunks).toString('utf8'), signature: req.headers['workos-signature'] });
      res.writeHead(200).end('ok');
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({ url: `http://127.0.0.1:${server.address().port}/hook`, got, state, close: () => server.close() });
    });
  });
}

/** Polls `done` every 100 ms until it holds; throws after `timeoutMs`. */
export async function until(what, done, timeoutMs = 30_000) {
  const start = Date.now();
  while (!done()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
