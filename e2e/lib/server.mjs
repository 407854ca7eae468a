// Starts a fresh Gatehouse server for one test file and tears it down afterwards.
//
// Every test file gets its own data directory and its own free port, so files can run in parallel
// and never share state. The server's stdout/stderr are kept in memory and printed only when a test
// in the file failed (or the server failed to start). The public URL is that of a recording proxy
// (lib/wire-proxy.mjs) which checks every JSON answer against WorkOS's OpenAPI document; a mismatch
// fails the test during which it was seen.

import { spawn, execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import { before, after, afterEach } from 'node:test';
import { startWireProxy, takeWireViolations, wireSummary } from './wire-proxy.mjs';

export const E2E_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const REPO_ROOT = resolve(E2E_DIR, '..');

/** Path of the gatehouse binary under test (`GATEHOUSE_BIN`, relative paths resolved from the repo root). */
export function gatehouseBin() {
  return resolve(REPO_ROOT, process.env.GATEHOUSE_BIN || 'target/debug/gatehouse');
}

/** Asks the OS for a free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolvePort, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolvePort(port));
    });
  });
}

/** Runs the gatehouse CLI to completion; resolves `{stdout, stderr}` or rejects with both in the message. */
export function runCli(args, { timeoutMs = 120_000 } = {}) {
  const bin = gatehouseBin();
  return new Promise((resolveRun, reject) => {
    execFile(bin, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, env: process.env }, (err, stdout, stderr) => {
      if (err) {
        const e = new Error(
          `\`gatehouse ${args.join(' ')}\` failed (${err.code ?? err.signal ?? err.message})\n` +
            `--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`,
        );
        e.cause = err;
        reject(e);
        return;
      }
      resolveRun({ stdout, stderr });
    });
  });
}

/** Parses the one JSON object `gatehouse init --json` prints (tolerating log lines around it). */
function parseInitJson(stdout) {
  const trimmed = stdout.trim();
  try {
    return JSON.parse(trimmed);
  } catch {
    const line = trimmed.split('\n').reverse().find((l) => l.trim().startsWith('{'));
    if (line) return JSON.parse(line);
    throw new Error(`gatehouse init --json did not print a JSON object; stdout was:\n${stdout}`);
  }
}

const liveChildren = new Set();
function killAll() {
  for (const child of liveChildren) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    killAll();
    process.exit(130);
  });
}

/**
 * Starts Gatehouse: `init`, optional `env set development k=v…`, then `serve`, and waits for `/health`.
 *
 * Email options: `smtp: true` starts an in-process SMTP sink (`lib/smtp.mjs`, returned as `smtp` and
 * closed by `stop()`) and passes its URL as `--smtp-url`; `smtpUrl` passes a given URL instead (e.g. a
 * closed port); `emailFrom` is passed as `--email-from` (a default is used whenever SMTP is on).
 * `serveArgs` are appended to `gatehouse serve`.
 *
 * `publicHost` is the host of the public URL (default 127.0.0.1); passkey tests use `localhost`, because
 * WebAuthn relying-party IDs cannot be IP addresses. The server always listens on 127.0.0.1.
 *
 * @param {{settings?: Record<string, string|number>, smtp?: boolean, smtpUrl?: string, emailFrom?: string,
 *   serveArgs?: string[], publicHost?: string}} [options]
 * @returns {Promise<{baseUrl: string, port: number, serverPort: number, clientId: string, apiKey: string, issuer: string,
 *   jwksUrl: string, dataDir: string, init: object, smtp?: object, log: () => string,
 *   printLog: (why?: string) => void, stop: () => Promise<void>}>}
 */
export async function startGatehouse({ settings, smtp = false, smtpUrl, emailFrom, serveArgs = [], publicHost = '127.0.0.1' } = {}) {
  const bin = gatehouseBin();
  if (!existsSync(bin)) {
    throw new Error(`gatehouse binary not found at ${bin} (build it with \`cargo build -p gatehouse\` or set GATEHOUSE_BIN)`);
  }
  const tmp = await mkdtemp(join(tmpdir(), 'gatehouse-e2e-'));
  const dataDir = join(tmp, 'data');
  // Gatehouse listens on `serverPort`; everyone else talks to it through the proxy on `port`.
  let serverPort = await freePort();
  const proxy = await startWireProxy(serverPort);
  const port = proxy.port;
  const baseUrl = `http://${publicHost}:${port}`;

  let init;
  try {
    const { stdout } = await runCli(['init', '--data', dataDir, '--public-url', baseUrl, '--json']);
    init = parseInitJson(stdout);
    for (const key of ['client_id', 'api_key', 'issuer', 'jwks_url']) {
      if (typeof init[key] !== 'string' || !init[key]) {
        throw new Error(`gatehouse init --json output lacks "${key}": ${JSON.stringify(init)}`);
      }
    }
    if (settings && Object.keys(settings).length > 0) {
      const pairs = Object.entries(settings).map(([k, v]) => `${k}=${v}`);
      await runCli(['env', 'set', 'development', ...pairs, '--data', dataDir]);
    }
  } catch (err) {
    await proxy.close();
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }

  let sink = null;
  const emailArgs = [];
  if (smtp) {
    const { startSmtpSink } = await import('./smtp.mjs');
    sink = await startSmtpSink();
    smtpUrl = sink.url;
  }
  if (smtpUrl) emailArgs.push('--smtp-url', smtpUrl, '--email-from', emailFrom ?? 'Gatehouse e2e <no-reply@gatehouse.test>');
  else if (emailFrom) emailArgs.push('--email-from', emailFrom);

  // A port `freePort` found free can be taken (by any outgoing connection's ephemeral port) before
  // the server binds it: then the server starts again on another one, up to five times.
  let output = '';
  let child;
  let exited = null;
  let exitPromise;
  let starts = 0;
  const spawnServe = () => {
    starts += 1;
    output = '';
    exited = null;
    const serveCmd = ['serve', '--data', dataDir, '--listen', `127.0.0.1:${serverPort}`, '--public-url', baseUrl, ...emailArgs, ...serveArgs];
    const started = spawn(bin, serveCmd, {
      stdio: ['ignore', 'pipe', 'pipe'],
      // Plain log lines (no ANSI colours) in the failure dump; RUST_LOG etc. pass through.
      env: { NO_COLOR: '1', ...process.env },
    });
    child = started;
    liveChildren.add(started);
    started.stdout.setEncoding('utf8');
    started.stderr.setEncoding('utf8');
    started.stdout.on('data', (d) => (output += d));
    started.stderr.on('data', (d) => (output += d));
    exitPromise = new Promise((r) =>
      started.once('exit', (code, signal) => {
        exited = { code, signal };
        liveChildren.delete(started);
        r();
      }),
    );
  };
  spawnServe();

  const stop = async () => {
    if (!exited) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exitPromise;
      clearTimeout(timer);
    }
    await sink?.close();
    await proxy.close();
    await rm(tmp, { recursive: true, force: true });
  };

  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited && output.includes('Address already in use') && starts < 5) {
      serverPort = await freePort();
      proxy.retarget(serverPort);
      spawnServe();
      continue;
    }
    if (exited) {
      await sink?.close();
      await proxy.close();
      await rm(tmp, { recursive: true, force: true });
      throw new Error(`gatehouse serve exited early (${JSON.stringify(exited)}); output:\n${output}`);
    }
    try {
      const res = await fetch(`http://127.0.0.1:${serverPort}/health`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`gatehouse did not answer GET /health with 200 within 60 s; output:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  return {
    baseUrl,
    port,
    serverPort,
    /** Every request that reached Gatehouse through the proxy: `{at, method, path, status, grantType}`. */
    requests: proxy.requests,
    clientId: init.client_id,
    apiKey: init.api_key,
    issuer: init.issuer,
    jwksUrl: init.jwks_url,
    dataDir,
    init,
    smtp: sink ?? undefined,
    log: () => output,
    printLog(why = 'a test failed') {
      process.stderr.write(`\n===== gatehouse server output (${baseUrl}; ${why}) =====\n${output}\n===== end of server output =====\n`);
    },
    stop,
  };
}

/** Throws (failing the current test or hook) when the proxy saw answers that do not match WorkOS's document. */
function failOnWireViolations(onFail) {
  const seen = takeWireViolations();
  if (seen.length === 0) return;
  onFail();
  throw new Error(`${seen.length} answer(s) from Gatehouse do not match WorkOS's OpenAPI document (e2e/lib/schema-exceptions.mjs lists the accepted differences):\n  ${seen.join('\n  ')}`);
}

/**
 * Registers node:test hooks that start one Gatehouse for the current test file and stop it at the end,
 * printing the server output if any test failed. Returns an object filled in by the `before` hook.
 * Root-level `before` hooks run concurrently in node:test, so other hooks must `await gh.ready`.
 */
export function useGatehouse(options = {}) {
  let markReady;
  let markFailed;
  const gh = {
    ready: new Promise((res, rej) => {
      markReady = res;
      markFailed = rej;
    }),
  };
  gh.ready.catch(() => {});
  let failed = false;
  before(async () => {
    try {
      Object.assign(gh, await startGatehouse(options));
      markReady(gh);
    } catch (err) {
      markFailed(err);
      throw err;
    }
  });
  afterEach((t) => {
    if (!t.passed) failed = true;
    failOnWireViolations(() => (failed = true));
  });
  after(async () => {
    if (gh.stop) {
      if (failed) gh.printLog();
      await gh.stop();
    }
    process.stderr.write(`# ${wireSummary()}\n`);
    failOnWireViolations(() => {});
  });
  return gh;
}
