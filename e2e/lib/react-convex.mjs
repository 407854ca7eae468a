// Helpers for the tests of Convex's AuthKit guide apps (React and Next.js): the guide's JWT template,
// the `convex-numbers` backend, the Vite app of examples/react-convex built with a given configuration
// and served as a single-page app, and a failure report with the browser's log.

import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import { extname, join, resolve, normalize } from 'node:path';
import { afterEach } from 'node:test';
import { apiRequest } from './api.mjs';
import { REPO_ROOT, freePort } from './server.mjs';
import { LATEST, LATEST_DIR } from './sdk.mjs';

// With E2E_SDK=latest, e2e/latest/install.sh's copy whose SDKs are the latest releases.
export const APP_DIR = LATEST ? join(LATEST_DIR, 'react-convex') : join(REPO_ROOT, 'examples', 'react-convex');

/** Path of the convex-numbers binary (`CONVEX_NUMBERS_BIN`, relative paths resolved from the repo root). */
export function convexNumbersBin() {
  return resolve(REPO_ROOT, process.env.CONVEX_NUMBERS_BIN || 'target/debug/convex-numbers');
}

/**
 * Starts convex-numbers trusting `gh` (a started Gatehouse) and waits for `/health`; `env` adds
 * environment variables (e.g. `HTTP_PROXY` when Gatehouse's public host name is not in DNS).
 * Returns `{url, port, stats(), log(), stop()}`.
 */
export async function startConvexNumbers(gh, env = {}) {
  const bin = convexNumbersBin();
  if (!existsSync(bin)) {
    throw new Error(`convex-numbers binary not found at ${bin} (build it with \`cargo build -p convex-numbers\` or set CONVEX_NUMBERS_BIN)`);
  }
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let output = '';
  const child = spawn(bin, ['--listen', `127.0.0.1:${port}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { NO_COLOR: '1', RUST_LOG: 'info', ...process.env, ...env, WORKOS_CLIENT_ID: gh.clientId, GATEHOUSE_URL: gh.baseUrl },
  });
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  let exited = null;
  const exitPromise = new Promise((r) => child.once('exit', (code, signal) => r((exited = { code, signal }))));
  const stop = async () => {
    if (!exited) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exitPromise;
      clearTimeout(timer);
    }
  };
  process.once('exit', () => child.kill('SIGKILL'));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited) throw new Error(`convex-numbers exited early (${JSON.stringify(exited)}):\n${output}`);
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`convex-numbers did not answer /health within 30 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    port,
    async stats() {
      const res = await fetch(`${url}/debug/stats`);
      return res.json();
    },
    log: () => output,
    stop,
  };
}

/**
 * Builds examples/react-convex with Vite into `outDir`, with `env` as its `VITE_…` configuration.
 * Needs `npm ci` in examples/react-convex (scripts/test.sh does it).
 */
export async function buildReactApp({ outDir, env }) {
  const vite = join(APP_DIR, 'node_modules', 'vite', 'bin', 'vite.js');
  if (!existsSync(vite)) {
    throw new Error(`${vite} not found: run \`npm ci\` in ${APP_DIR} first`);
  }
  await new Promise((resolveBuild, reject) => {
    execFile(
      process.execPath,
      [vite, 'build', '--outDir', outDir, '--emptyOutDir', '--logLevel', 'warn'],
      { cwd: APP_DIR, env: { ...process.env, ...env }, timeout: 180_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => (err ? reject(new Error(`vite build failed: ${err.message}\n${stdout}\n${stderr}`)) : resolveBuild()),
    );
  });
}

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml' };

/** Serves `dir` on 127.0.0.1:`port`; unknown paths (such as /callback) get index.html. */
export async function serveApp(dir, port) {
  const root = resolve(dir);
  const server = http.createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://localhost').pathname));
    let file = resolve(join(root, path));
    if (!file.startsWith(root) || !extname(file)) file = join(root, 'index.html');
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream', 'Cache-Control': 'no-store' });
      res.end(body);
    } catch {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  return {
    close: () =>
      new Promise((r) => {
        server.closeAllConnections?.();
        server.close(() => r());
      }),
  };
}

/**
 * The guide's dashboard step: a JWT template that puts `aud` (Convex's `applicationID`) and the user's
 * name (for "Welcome <name>!") into access tokens. `api` is a started Gatehouse (`useGatehouse`).
 */
export async function putGuideJwtTemplate(api) {
  const res = await apiRequest(api, 'PUT', '/user_management/jwt_template', {
    content: JSON.stringify({ aud: api.clientId, name: '{{ user.first_name }} {{ user.last_name }}' }),
  });
  assert.equal(res.status, 200, `PUT /user_management/jwt_template: ${res.status} ${res.text}`);
}

/**
 * A test file's failure report (call at module level): push the browser's events to `log`; in `after`,
 * `print({title: text, …})` writes the log and each section to stderr if any test of the file failed.
 */
export function useFailureReport() {
  const log = [];
  let failed = false;
  afterEach((t) => {
    if (!t.passed) failed = true;
  });
  return {
    log,
    print(sections = {}) {
      if (!failed) return;
      process.stderr.write(`\n===== browser log =====\n${log.join('\n')}\n===== end of browser log =====\n`);
      for (const [title, text] of Object.entries(sections)) {
        if (text !== undefined) process.stderr.write(`\n===== ${title} =====\n${text}\n===== end =====\n`);
      }
    },
  };
}
