// Helpers for the Next.js + Convex example test: build examples/nextjs-convex with `next build` for the
// given configuration (NEXT_PUBLIC_… values are compiled in, so the app port and Convex URL must be
// known first), then run it with `next start`. With E2E_SDK=latest the copy with the latest SDKs
// (e2e/latest/nextjs-convex, from e2e/latest/install.sh) is used. `unsealAppSession` opens the app's
// session cookie with the app's own iron-session, as authkit-nextjs does.

import { spawn, execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from './server.mjs';
import { LATEST, LATEST_DIR } from './sdk.mjs';

export const NEXT_APP_DIR = LATEST ? join(LATEST_DIR, 'nextjs-convex') : join(REPO_ROOT, 'examples', 'nextjs-convex');
const NEXT_BIN = join(NEXT_APP_DIR, 'node_modules', 'next', 'dist', 'bin', 'next');

/**
 * `next build` in the app's folder (output in its `.next/`, ignored by git) with `env`. Returns the
 * build's duration in ms.
 */
export async function buildNextApp(env) {
  if (!existsSync(NEXT_BIN)) throw new Error(`${NEXT_BIN} not found: run \`npm ci\` in ${NEXT_APP_DIR} first`);
  const started = Date.now();
  await new Promise((resolveBuild, reject) => {
    execFile(
      process.execPath,
      [NEXT_BIN, 'build'],
      { cwd: NEXT_APP_DIR, env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1', ...env }, timeout: 300_000, maxBuffer: 32 * 1024 * 1024 },
      (err, stdout, stderr) => (err ? reject(new Error(`next build failed: ${err.message}\n${stdout}\n${stderr}`)) : resolveBuild()),
    );
  });
  return Date.now() - started;
}

/**
 * `next start` of a build on 127.0.0.1:`port` with the server-side configuration `env`; waits until
 * it answers. Returns `{log(), stop()}`.
 */
export async function startNextApp({ port, env }) {
  let output = '';
  const child = spawn(process.execPath, [NEXT_BIN, 'start', '-p', String(port), '-H', '127.0.0.1'], {
    cwd: NEXT_APP_DIR,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1', ...env },
  });
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  let exited = null;
  const exitPromise = new Promise((r) => child.once('exit', (code, signal) => r((exited = { code, signal }))));
  process.once('exit', () => child.kill('SIGKILL'));
  const stop = async () => {
    if (!exited) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exitPromise;
      clearTimeout(timer);
    }
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) throw new Error(`next start exited early (${JSON.stringify(exited)}):\n${output}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/sign-in`, { redirect: 'manual', signal: AbortSignal.timeout(5000) });
      await res.arrayBuffer();
      if (res.status > 0) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`next start did not answer within 60 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { log: () => output, stop };
}

/**
 * The session authkit-nextjs keeps in its `wos-session` cookie (`{accessToken, refreshToken, user, …}`),
 * unsealed with iron-session as resolved from the app (the library authkit-nextjs seals it with).
 */
export async function unsealAppSession(cookieValue, password) {
  const require = createRequire(join(NEXT_APP_DIR, 'node_modules', '@workos-inc', 'authkit-nextjs', 'package.json'));
  const { unsealData } = await import(pathToFileURL(require.resolve('iron-session')).href);
  return unsealData(decodeURIComponent(cookieValue), { password });
}
