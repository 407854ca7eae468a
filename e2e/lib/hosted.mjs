// Drives Gatehouse's server-rendered hosted UI (sign-in / sign-up) with plain fetch: manual redirects,
// a tiny cookie jar, and a small HTML form parser. No JavaScript is needed by the pages.

import assert from 'node:assert/strict';

/** A minimal single-host cookie jar (name → value), fed from `Set-Cookie` headers. */
export class CookieJar {
  #cookies = new Map();

  store(res) {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq < 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => {
        const [k, v = ''] = a.split('=');
        const key = k.trim().toLowerCase();
        if (key === 'max-age') return Number(v.trim()) <= 0;
        if (key === 'expires') return Date.parse(v.trim()) < Date.now();
        return false;
      });
      if (expired) this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }

  header() {
    return [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  get size() {
    return this.#cookies.size;
  }

  clear() {
    this.#cookies.clear();
  }
}

/** One HTTP request without following redirects; cookies are sent from and stored into `jar`. */
export async function request(url, { method = 'GET', form, jar, headers = {} } = {}) {
  const h = { ...headers };
  if (jar && jar.size) h.Cookie = jar.header();
  let body;
  if (form) {
    h['Content-Type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(form).toString();
  }
  const res = await fetch(url, { method, headers: h, body, redirect: 'manual' });
  if (jar) jar.store(res);
  const text = await res.text();
  const location = res.headers.get('location');
  return {
    status: res.status,
    headers: res.headers,
    text,
    location,
    /** The Location resolved against the request URL (or null). */
    locationUrl: location ? new URL(location, url) : null,
    url,
  };
}

const ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };
export function decodeEntities(s) {
  return s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, e) => {
    if (e[0] === '#') {
      const cp = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return String.fromCodePoint(cp);
    }
    return ENTITIES[e.toLowerCase()] ?? m;
  });
}

/** Parses the attributes of one start tag (`<input a="b" c>`) into an object (lower-case names). */
export function parseAttrs(tag) {
  const attrs = {};
  const inner = tag.replace(/^<\s*[a-z0-9-]+/i, '').replace(/\/?>$/, '');
  const re = /([^\s=/>"']+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+)))?/g;
  let m;
  while ((m = re.exec(inner))) {
    const v = m[2] ?? m[3] ?? m[4];
    attrs[m[1].toLowerCase()] = v === undefined ? '' : decodeEntities(v);
  }
  return attrs;
}

/** All start tags of one element type, each as `{attrs, raw, index}`. */
export function findTags(html, tagName) {
  const out = [];
  const re = new RegExp(`<${tagName}\\b[^>]*>`, 'gi');
  let m;
  while ((m = re.exec(html))) out.push({ attrs: parseAttrs(m[0]), raw: m[0], index: m.index });
  return out;
}

/** Plain text of an HTML fragment (tags stripped, entities decoded, whitespace collapsed). */
export function textOf(html) {
  return decodeEntities(html.replace(/<script[\s\S]*?<\/script>/gi, '').replace(/<[^>]+>/g, ' '))
    .replace(/\s+/g, ' ')
    .trim();
}

/**
 * Finds the form whose `action` path is `actionPath` and returns its method, action, inputs and buttons.
 * Inputs are `{name → attrs}`; `hidden` holds the hidden inputs' values.
 */
export function parseForm(html, actionPath) {
  const forms = [];
  const re = /<form\b[^>]*>([\s\S]*?)<\/form>/gi;
  let m;
  while ((m = re.exec(html))) {
    const open = m[0].match(/^<form\b[^>]*>/i)[0];
    forms.push({ attrs: parseAttrs(open), body: m[1] });
  }
  const form = forms.find((f) => {
    try {
      return new URL(f.attrs.action ?? '', 'http://x.invalid').pathname === actionPath;
    } catch {
      return false;
    }
  });
  assert.ok(form, `no <form action="${actionPath}"> in page; forms found: ${JSON.stringify(forms.map((f) => f.attrs))}\n${html.slice(0, 3000)}`);
  const inputs = {};
  const hidden = {};
  for (const { attrs } of findTags(form.body, 'input')) {
    if (!attrs.name) continue;
    inputs[attrs.name] = attrs;
    if ((attrs.type ?? '').toLowerCase() === 'hidden') hidden[attrs.name] = attrs.value ?? '';
  }
  const buttons = findTags(form.body, 'button').map((b) => b.attrs);
  const submitInputs = findTags(form.body, 'input').filter((i) => (i.attrs.type ?? '').toLowerCase() === 'submit').map((b) => b.attrs);
  return { method: (form.attrs.method ?? 'get').toLowerCase(), action: form.attrs.action, inputs, hidden, buttons, submitInputs, body: form.body };
}

/** Text of every element with `role="alert"`. */
export function alerts(html) {
  const out = [];
  const re = /<([a-z0-9]+)\b[^>]*\brole\s*=\s*["']?alert["']?[^>]*>([\s\S]*?)<\/\1>/gi;
  let m;
  while ((m = re.exec(html))) out.push(textOf(m[2]));
  return out;
}

/**
 * Starts at an authorize URL and follows redirects until the hosted page (`/authkit/...`) is rendered.
 * Returns `{page, pageUrl, jar, hops}`.
 */
export async function openHostedPage(authorizeUrl, { jar = new CookieJar() } = {}) {
  let url = authorizeUrl;
  const hops = [];
  for (let i = 0; i < 5; i++) {
    const res = await request(url, { jar });
    hops.push(res);
    if (res.status >= 300 && res.status < 400 && res.locationUrl) {
      url = res.locationUrl.href;
      continue;
    }
    return { page: res, pageUrl: new URL(url), jar, hops };
  }
  throw new Error(`too many redirects starting at ${authorizeUrl}`);
}

/** Fills and POSTs the hosted form on `page` (sign-in or sign-up). Returns the raw POST response. */
export async function submitHostedForm(page, pageUrl, actionPath, fields, jar) {
  const form = parseForm(page.text, actionPath);
  const action = new URL(form.action, pageUrl).href;
  return request(action, { method: 'POST', form: { ...form.hidden, ...fields }, jar });
}

/**
 * Whole hosted sign-in over HTTP: authorize URL → sign-in page → POST credentials → 303 to redirect_uri.
 * Returns `{code, state, location, post}`; asserts the redirect happened.
 */
export async function signInViaHostedUi(authorizeUrl, { email, password }) {
  const { page, pageUrl, jar } = await openHostedPage(authorizeUrl);
  assert.equal(page.status, 200, `sign-in page: ${page.status} ${page.text.slice(0, 500)}`);
  assert.equal(pageUrl.pathname, '/authkit/sign-in');
  const post = await submitHostedForm(page, pageUrl, '/authkit/sign-in', { email, password }, jar);
  assert.equal(post.status, 303, `POST /authkit/sign-in should 303; got ${post.status}: alerts=${JSON.stringify(alerts(post.text))} ${post.text.slice(0, 300)}`);
  const location = post.locationUrl;
  return { code: location.searchParams.get('code'), state: location.searchParams.get('state'), location, post };
}

/** Whole hosted sign-up over HTTP (authorize URL must carry `screen_hint=sign-up`). */
export async function signUpViaHostedUi(authorizeUrl, { email, password, firstName, lastName }) {
  const { page, pageUrl, jar } = await openHostedPage(authorizeUrl);
  assert.equal(page.status, 200, `sign-up page: ${page.status} ${page.text.slice(0, 500)}`);
  assert.equal(pageUrl.pathname, '/authkit/sign-up');
  const post = await submitHostedForm(
    page,
    pageUrl,
    '/authkit/sign-up',
    { email, password, first_name: firstName, last_name: lastName },
    jar,
  );
  assert.equal(post.status, 303, `POST /authkit/sign-up should 303; got ${post.status}: alerts=${JSON.stringify(alerts(post.text))} ${post.text.slice(0, 300)}`);
  const location = post.locationUrl;
  return { code: location.searchParams.get('code'), state: location.searchParams.get('state'), location, post };
}
