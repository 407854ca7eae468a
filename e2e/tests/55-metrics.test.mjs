// Issue 13.3: `/metrics` on `--metrics-listen` (no token), scraped while the official node SDK signs in,
// rotates refresh tokens and redeems magic-auth codes. Every scrape must parse strictly as the Prometheus
// text exposition format (0.0.4), no counter may go back between scrapes, and at the end the sign-in and
// refresh counters have moved by exactly what the SDK did.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useGatehouse, freePort } from '../lib/server.mjs';
import { confidentialClient, createPasswordUser, uniqueEmail, wrongCode, STRONG_PASSWORD } from '../lib/api.mjs';

const metricsPort = await freePort();
const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
const gh = useGatehouse({ serveArgs: ['--metrics-listen', `127.0.0.1:${metricsPort}`] });

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function parseValue(text) {
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`bad value ${JSON.stringify(text)}`);
  return Number(text);
}

/** `a="x",b="y"` → {a: 'x', b: 'y'}, allowing only the escapes \\ \" \n. */
function parseLabels(text) {
  const labels = {};
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf('="', i);
    if (eq < 0) throw new Error(`label without ="…": ${text}`);
    const name = text.slice(i, eq);
    if (!LABEL_NAME.test(name) || name.startsWith('__')) throw new Error(`bad label name ${name}`);
    if (name in labels) throw new Error(`label ${name} twice`);
    let value = '';
    let j = eq + 2;
    for (;;) {
      if (j >= text.length) throw new Error(`unterminated label value: ${text}`);
      const c = text[j];
      if (c === '"') break;
      if (c === '\n') throw new Error('raw newline in a label value');
      if (c === '\\') {
        const next = text[j + 1];
        if (next === '\\') value += '\\';
        else if (next === '"') value += '"';
        else if (next === 'n') value += '\n';
        else throw new Error(`bad escape \\${next} in ${text}`);
        j += 2;
      } else {
        value += c;
        j += 1;
      }
    }
    labels[name] = value;
    i = j + 1;
    if (i < text.length) {
      if (text[i] !== ',') throw new Error(`expected , between labels: ${text.slice(i)}`);
      i += 1;
    }
  }
  return labels;
}

/** Parses the text format strictly; returns {types, samples: [{name, labels, value}]}. */
function parseStrict(text) {
  if (!text.endsWith('\n')) throw new Error('the exposition must end with a newline');
  const types = new Map();
  const helped = new Set();
  const finished = new Set();
  const series = new Set();
  const samples = [];
  let current = null;
  const familyOf = (name) => {
    if (types.has(name)) return name;
    for (const suffix of ['_bucket', '_sum', '_count']) {
      const base = name.endsWith(suffix) ? name.slice(0, -suffix.length) : null;
      if (base && ['histogram', 'summary'].includes(types.get(base))) return base;
    }
    return name;
  };
  const enter = (family) => {
    if (current === family) return;
    if (finished.has(family)) throw new Error(`the lines of ${family} are not together`);
    if (current !== null) finished.add(current);
    current = family;
  };
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = /^#\s*(HELP|TYPE) (\S+) (.*)$/.exec(line);
      if (!m) continue; // other comments are allowed
      const [, keyword, name, rest] = m;
      if (!METRIC_NAME.test(name)) throw new Error(`bad name: ${line}`);
      if (keyword === 'HELP') {
        if (helped.has(name)) throw new Error(`repeated HELP: ${line}`);
        if (/\\[^\\n]/.test(rest.replaceAll('\\\\', ''))) throw new Error(`bad escape in HELP: ${line}`);
        helped.add(name);
      } else {
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest)) throw new Error(`bad TYPE: ${line}`);
        if (types.has(name)) throw new Error(`repeated TYPE: ${line}`);
        if (samples.some((s) => familyOf(s.name) === name)) throw new Error(`TYPE after samples: ${line}`);
        types.set(name, rest);
      }
      enter(name);
      continue;
    }
    const m = /^([^{\s]+)(?:\{(.*)\})? (\S+)(?: (-?\d+))?$/.exec(line);
    if (!m) throw new Error(`not a sample: ${line}`);
    const [, name, labelText, valueText] = m;
    if (!METRIC_NAME.test(name)) throw new Error(`bad metric name: ${line}`);
    const labels = labelText ? parseLabels(labelText) : {};
    const value = parseValue(valueText);
    const family = familyOf(name);
    enter(family);
    const key = name + JSON.stringify(Object.entries(labels).sort());
    if (series.has(key)) throw new Error(`duplicate series: ${line}`);
    series.add(key);
    if (types.get(family) === 'counter' && !(value >= 0)) throw new Error(`negative counter: ${line}`);
    samples.push({ name, labels, value });
  }
  for (const [family, type] of types) {
    if (type !== 'histogram') continue;
    const groups = new Map();
    for (const s of samples.filter((s) => s.name === `${family}_bucket`)) {
      if (!('le' in s.labels)) throw new Error(`${family}: bucket without le`);
      const { le, ...rest } = s.labels;
      const key = JSON.stringify(Object.entries(rest).sort());
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push([parseValue(le), s.value]);
    }
    for (const [key, buckets] of groups) {
      let [lastLe, lastN] = [-Infinity, 0];
      for (const [le, n] of buckets) {
        if (le <= lastLe || n < lastN) throw new Error(`${family}${key}: buckets out of order or not cumulative`);
        [lastLe, lastN] = [le, n];
      }
      if (lastLe !== Infinity) throw new Error(`${family}${key}: no le="+Inf" bucket`);
      const find = (suffix) => samples.find((s) => s.name === family + suffix && JSON.stringify(Object.entries(s.labels).sort()) === key);
      const count = find('_count');
      if (!count) throw new Error(`${family}${key}: no _count`);
      if (count.value !== lastN) throw new Error(`${family}${key}: +Inf ${lastN} != _count ${count.value}`);
      if (!find('_sum')) throw new Error(`${family}${key}: no _sum`);
    }
  }
  return { types, samples };
}

async function scrape() {
  const res = await fetch(metricsUrl);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  try {
    return parseStrict(text);
  } catch (e) {
    throw new Error(`${e.message}\n${text}`);
  }
}

const value = (e, name, labels) =>
  e.samples.find((s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === JSON.stringify(Object.entries(labels).sort()))
    ?.value ?? 0;
const signIns = (e, method, outcome) => value(e, 'gatehouse_sign_ins_total', { method, outcome });
const refreshes = (e, outcome) => value(e, 'gatehouse_refreshes_total', { outcome });

test('the strict parser refuses what Prometheus refuses', () => {
  parseStrict('# HELP a_total A.\n# TYPE a_total counter\na_total{x="q\\"\\\\\\n"} 1\n# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 3\nh_count 2\n');
  for (const bad of [
    'a 1',
    '# TYPE a counter\na{x="\\t"} 1\n',
    '# TYPE a counter\na -1\n',
    '# TYPE a counter\na 1\n# TYPE b gauge\nb 1\na{y="1"} 2\n',
    '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n',
    '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 1\n',
    'a 1\na 2\n',
  ]) {
    assert.throws(() => parseStrict(bad), undefined, JSON.stringify(bad));
  }
});

test('metrics on --metrics-listen parse strictly while the SDK runs, and the counters move as it did', async () => {
  await gh.ready;
  const workos = confidentialClient(gh);
  const before = await scrape();

  // Scrape continuously while the flows run: every scrape parses, no counter goes back.
  let stop = false;
  let scrapes = 0;
  const scraper = (async () => {
    const last = new Map();
    while (!stop || scrapes < 3) {
      const e = await scrape();
      for (const s of e.samples.filter((s) => e.types.get(s.name) === 'counter')) {
        const key = s.name + JSON.stringify(s.labels);
        assert.ok(s.value >= (last.get(key) ?? 0), `${key} went back`);
        last.set(key, s.value);
      }
      scrapes += 1;
      await new Promise((r) => setTimeout(r, 10));
    }
  })();

  const { email } = await createPasswordUser(workos, 'metrics');
  const auth = await workos.userManagement.authenticateWithPassword({ email, password: STRONG_PASSWORD });
  await assert.rejects(workos.userManagement.authenticateWithPassword({ email, password: `${STRONG_PASSWORD}-wrong` }));

  const rt1 = auth.refreshToken;
  const r2 = await workos.userManagement.authenticateWithRefreshToken({ refreshToken: rt1 });
  await workos.userManagement.authenticateWithRefreshToken({ refreshToken: rt1 }); // grace retry
  await workos.userManagement.authenticateWithRefreshToken({ refreshToken: r2.refreshToken }); // rotated
  await assert.rejects(workos.userManagement.authenticateWithRefreshToken({ refreshToken: rt1 })); // reuse: revoked
  await assert.rejects(workos.userManagement.authenticateWithRefreshToken({ refreshToken: 'not-a-token' }));

  const magicEmail = uniqueEmail('metrics-magic');
  const magic = await workos.userManagement.createMagicAuth({ email: magicEmail });
  assert.match(magic.code, /^\d{6}$/, 'development environments return the code');
  await assert.rejects(workos.userManagement.authenticateWithMagicAuth({ email: magicEmail, code: wrongCode(magic.code) }));
  await workos.userManagement.authenticateWithMagicAuth({ email: magicEmail, code: magic.code });

  stop = true;
  await scraper;
  const after = await scrape();
  const moved = (f) => f(after) - f(before);
  assert.deepEqual(
    {
      password: [moved((e) => signIns(e, 'password', 'succeeded')), moved((e) => signIns(e, 'password', 'failed'))],
      magic_auth: [moved((e) => signIns(e, 'magic_auth', 'succeeded')), moved((e) => signIns(e, 'magic_auth', 'failed'))],
      refresh: [moved((e) => signIns(e, 'refresh', 'succeeded')), moved((e) => signIns(e, 'refresh', 'failed'))],
      refreshes: ['rotated', 'grace_retry', 'reuse_detected', 'rejected'].map((o) => moved((e) => refreshes(e, o))),
    },
    { password: [1, 1], magic_auth: [1, 1], refresh: [3, 2], refreshes: [2, 1, 1, 1] },
  );
  assert.ok(scrapes >= 3, `scraped ${scrapes} times`);
  const authenticate200 = { route: '/user_management/authenticate', status: '200' };
  assert.ok(value(after, 'gatehouse_http_request_duration_seconds_count', authenticate200) >= 5);
  assert.equal(after.types.get('gatehouse_http_request_duration_seconds'), 'histogram');
  // The main address has no /metrics without --metrics-token.
  assert.equal((await fetch(`http://127.0.0.1:${gh.serverPort}/metrics`)).status, 404);
});
