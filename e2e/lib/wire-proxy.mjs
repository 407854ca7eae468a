// A small recording proxy in front of every Gatehouse the suite starts: the public URL (the one the
// SDKs, raw fetch, Chromium, the example apps and convex-numbers use) is the proxy's, so every answer
// Gatehouse gives on any channel passes through here. Each JSON answer is checked against WorkOS's
// OpenAPI document (lib/wire-schema.mjs); mismatches are collected for `takeWireViolations()`, which the
// `useGatehouse` hooks call after every test so that the test fails with the operation, the path and
// ajv's message. `E2E_WIRE_CHECK=off` turns the checking off (the proxy still forwards).

import http from 'node:http';
import { checkAnswer } from './wire-schema.mjs';

const CHECK = process.env.E2E_WIRE_CHECK !== 'off';
/** With `E2E_DRIFT=fail`, known drift (TODO(drift) entries) fails like any other mismatch. */
export const DRIFT_FAILS = process.env.E2E_DRIFT === 'fail';

const violations = [];
const driftSeen = new Map();
const stats = { checked: 0, own: 0, unchecked: 0, excused: 0, undefined: 0 };

/** The mismatches seen since the last call (and forgets them). */
export function takeWireViolations() {
  return violations.splice(0);
}

/**
 * Counts of the JSON answers seen: validated (`checked`, mismatches included), own endpoints, no JSON
 * body defined for the status (`unchecked`), excused whole by a DIFFERENCES entry, listed undefined
 * 4xx statuses (`undefined`); the drift entries used.
 */
export function wireStats() {
  return { ...stats, drift: [...driftSeen.values()] };
}

/** wireStats() as one line for the test output. */
export function wireSummary() {
  const s = wireStats();
  return `wire check: ${s.checked} answers validated against WorkOS's OpenAPI document, ${s.own} from Gatehouse's own endpoints, ` +
    `${s.unchecked} with no JSON body defined for their status, ${s.undefined} listed undefined 4xx, ${s.excused} excused, ${s.drift.length} drift entries used`;
}

/** Token values are not needed to read a mismatch. */
const redact = (text) => text.replace(/"(access_token|refresh_token|id_token|sealed_session|pending_authentication_token|n)":"[^"]{12,}"/g, '"$1":"…"');

function record(method, url, status, headers, buf) {
  if (!CHECK || !/\bjson\b/i.test(headers['content-type'] ?? '') || buf.length === 0) return;
  const path = new URL(url, 'http://x').pathname;
  let body;
  try {
    body = JSON.parse(buf.toString('utf8'));
  } catch (e) {
    violations.push(`${method} ${path} → ${status}: a JSON content type with a body that does not parse (${e.message})`);
    return;
  }
  const result = checkAnswer({ method, path, status, body });
  if (['own', 'unchecked', 'excused', 'undefined'].includes(result.verdict)) stats[result.verdict] += 1;
  else stats.checked += 1;
  for (const d of result.notes.filter((n) => typeof n === 'object' && n.drift)) {
    const key = `${d.method} ${d.path} ${d.reason}`;
    if (!driftSeen.has(key)) {
      driftSeen.set(key, d);
      process.stderr.write(`# known drift (TODO(drift) in e2e/lib/schema-exceptions.mjs): ${d.method} ${d.path}: ${d.reason}\n`);
    }
    if (DRIFT_FAILS) violations.push(`${result.operation} (${method} ${path}) → ${status}: known drift: ${d.reason}`);
  }
  if (result.verdict === 'mismatch') {
    violations.push(
      `${result.operation} (${method} ${path}) → ${status} does not match WorkOS's OpenAPI document:\n    ` +
        `${result.errors.join('\n    ')}\n    body: ${redact(buf.toString('utf8')).slice(0, 600)}`,
    );
  }
}

/** The `grant_type` of an authenticate request body (JSON or form), or null. */
function grantType(buf) {
  const text = buf.toString('utf8');
  try {
    return JSON.parse(text).grant_type ?? null;
  } catch {
    return new URLSearchParams(text).get('grant_type');
  }
}

/**
 * Listens on 127.0.0.1 (a free port) and forwards everything to 127.0.0.1:`targetPort`, headers and
 * bodies unchanged. Resolves `{port, requests, retarget(port), close()}`; `requests` lists every exchange
 * as `{at, method, path, status, grantType}` (grantType for POST /user_management/authenticate).
 */
export async function startWireProxy(targetPort) {
  const agent = new http.Agent({ keepAlive: true });
  const requests = [];
  const server = http.createServer((req, res) => {
    const sent = [];
    req.on('data', (c) => sent.push(c));
    const upstream = http.request(
      { host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers, agent },
      (up) => {
        const chunks = [];
        up.on('data', (c) => chunks.push(c));
        up.on('end', () => {
          const buf = Buffer.concat(chunks);
          const headers = { ...up.headers };
          delete headers['transfer-encoding'];
          delete headers.connection;
          delete headers['keep-alive'];
          if (req.method !== 'HEAD') headers['content-length'] = buf.length;
          res.writeHead(up.statusCode, up.statusMessage, headers);
          res.end(buf);
          const path = new URL(req.url, 'http://x').pathname;
          const grant = req.method === 'POST' && path === '/user_management/authenticate' ? grantType(Buffer.concat(sent)) : null;
          requests.push({ at: Date.now(), method: req.method, path, status: up.statusCode, grantType: grant });
          record(req.method, req.url, up.statusCode, up.headers, buf);
        });
        up.on('error', () => res.destroy());
      },
    );
    upstream.on('error', (e) => {
      if (!res.headersSent) {
        res.writeHead(502, { 'Content-Type': 'text/plain' });
        res.end(`wire proxy: ${e.message}`);
      } else res.destroy();
    });
    req.pipe(upstream);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: server.address().port,
    requests,
    /** Forwards to another port from now on (the server had to start on another one). */
    retarget: (port) => {
      targetPort = port;
    },
    close: () =>
      new Promise((r) => {
        agent.destroy();
        server.closeAllConnections?.();
        server.close(() => r());
      }),
  };
}
