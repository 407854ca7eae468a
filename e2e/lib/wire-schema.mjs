// Checks a JSON answer of Gatehouse against WorkOS's published OpenAPI document (@workos/openapi-spec):
// the request's method and path pick the operation (its path template), the status picks the response,
// and ajv validates the body against that response's `application/json` schema. A 4xx status the
// operation does not define is a mismatch too, unless schema-exceptions.mjs lists it. The places where
// Gatehouse deliberately differs, and the known drift still to be fixed, come from schema-exceptions.mjs.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import YAML from 'yaml';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { OWN_ENDPOINTS, DIFFERENCES, UNDEFINED_STATUSES } from './schema-exceptions.mjs';

const require = createRequire(import.meta.url);
export const SPEC_FILE = join(dirname(require.resolve('@workos/openapi-spec/package.json')), 'open-api-spec.yaml');
export const SPEC_VERSION = require('@workos/openapi-spec/package.json').version;

let loaded;
/** The document, an ajv instance that knows its components, and the path templates as matchers. */
function load() {
  if (loaded) return loaded;
  const spec = YAML.parse(readFileSync(SPEC_FILE, 'utf8'));
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema({ $id: 'workos', components: spec.components });
  const templates = Object.keys(spec.paths).map((template) => {
    const segments = template.split('/');
    const pattern = segments.map((s) => (/^\{.+\}$/.test(s) ? '[^/]+' : s.replace(/[.*+?^$()|[\]\\]/g, '\\$&'))).join('/');
    return { template, regex: new RegExp(`^${pattern}$`), literals: segments.filter((s) => s && !s.startsWith('{')).length };
  });
  // The most specific template first: `/users/external_id/{external_id}` before `/users/{id}/{…}`.
  templates.sort((a, b) => b.literals - a.literals);
  loaded = { spec, ajv, templates, validators: new Map() };
  return loaded;
}

/** The path template of the document that `path` matches, or null. */
export function templateFor(path) {
  return load().templates.find((t) => t.regex.test(path))?.template ?? null;
}

/** `$ref`s inside the document's own schemas point at `#/components/…`; ajv knows them under `workos#`. */
function rebase(schema) {
  return JSON.parse(JSON.stringify(schema).replaceAll('"$ref":"#/components/', '"$ref":"workos#/components/'));
}

/** The document's response of `method template` for `status` (exact, `4XX`-style or `default`), or undefined. */
function responseFor(method, template, status) {
  const responses = load().spec.paths[template]?.[method.toLowerCase()]?.responses ?? {};
  return responses[String(status)] ?? responses[`${String(status)[0]}XX`] ?? responses.default;
}

/** The compiled validator of `method template` for `status`, or null when the document defines no JSON body for it. */
function validatorFor(method, template, status) {
  const { ajv, validators } = load();
  const key = `${method} ${template} ${status}`;
  if (validators.has(key)) return validators.get(key);
  const response = responseFor(method, template, status);
  const schema = response?.content?.['application/json']?.schema;
  const validate = schema ? ajv.compile(rebase(schema)) : null;
  validators.set(key, validate);
  return validate;
}

const matches = (entry, method, path) =>
  (entry.method === '*' || entry.method === method) && (entry.path instanceof RegExp ? entry.path.test(path) : entry.path === path);

/**
 * Checks one answer. `body` is the parsed JSON. Returns
 * `{operation, verdict, errors, notes}`: verdict `ok`, `own` (Gatehouse's own endpoint, not checked),
 * `excused` (a DIFFERENCES entry without a patch), `undefined` (a 4xx status the operation does not
 * define, listed in UNDEFINED_STATUSES), `unchecked` (the document defines no JSON body for this status,
 * and it is not an undefined 4xx), or `mismatch` (with ajv's errors, or an unlisted undefined 4xx);
 * `notes` name the DIFFERENCES or UNDEFINED_STATUSES entries that were applied.
 */
export function checkAnswer({ method, path, status, body }) {
  const own = OWN_ENDPOINTS.find((e) => matches(e, method, path));
  if (own) return { operation: `${method} ${path}`, verdict: 'own', errors: [], notes: [own.reason] };
  const template = templateFor(path);
  const operation = `${method} ${template ?? path}`;
  if (!template && status === 404) {
    // A path that exists nowhere (a browser's /favicon.ico): the document has nothing to say about it.
    return { operation, verdict: 'unchecked', errors: [], notes: [] };
  }
  if (!template || !load().spec.paths[template][method.toLowerCase()]) {
    return { operation, verdict: 'mismatch', errors: [`${method} ${path} is not an operation of WorkOS's OpenAPI document (and not listed in schema-exceptions.mjs)`], notes: [] };
  }
  if (status >= 400 && status < 500 && !responseFor(method, template, status)) {
    // A client error the operation does not define: a typed client has no type for it.
    const listed = UNDEFINED_STATUSES.find((u) => [method, '*'].includes(u.method) && [template, '*'].includes(u.path) &&
      u.status === status && u.codes.includes(body?.code ?? body?.error));
    if (listed) return { operation, verdict: 'undefined', errors: [], notes: [listed] };
    const code = body?.code ?? body?.error;
    return { operation, verdict: 'mismatch', errors: [`status ${status} (code ${JSON.stringify(code)}) is not defined for this operation (and not listed in UNDEFINED_STATUSES in schema-exceptions.mjs)`], notes: [] };
  }
  const validate = validatorFor(method, template, status);
  if (!validate) return { operation, verdict: 'unchecked', errors: [], notes: [] };
  const notes = [];
  let candidate = body;
  for (const d of DIFFERENCES) {
    if (![method, '*'].includes(d.method) || ![template, '*'].includes(d.path) || (d.status !== undefined && d.status !== status)) continue;
    if (!d.when(candidate)) continue;
    notes.push(d);
    if (!d.patch) return { operation, verdict: 'excused', errors: [], notes };
    candidate = d.patch(structuredClone(candidate));
  }
  if (validate(candidate)) return { operation, verdict: 'ok', errors: [], notes };
  return { operation, verdict: 'mismatch', errors: describe(validate, candidate), notes };
}

/**
 * ajv's errors, shortened: an error answer's schema is a `oneOf` with one branch per documented `code`
 * (a `const`), which ajv reports branch by branch; those become one line naming the documented codes.
 */
function describe(validate, body) {
  let errors = validate.errors;
  const codes = [...new Set(errors.filter((e) => e.keyword === 'const' && e.instancePath === '/code').map((e) => e.params.allowedValue))];
  const lines = [];
  if (codes.length && !codes.includes(body?.code)) {
    return [`/code ${JSON.stringify(body?.code)} is none of the codes documented for this status: ${codes.join(', ')}`];
  }
  // The code is documented: only the errors of its own branch matter.
  const branch = validate.schema.oneOf?.findIndex((b) => b?.properties?.code?.const === body?.code) ?? -1;
  if (branch >= 0) errors = errors.filter((e) => e.schemaPath.startsWith(`#/oneOf/${branch}/`));
  for (const e of errors) {
    if (e.keyword === 'oneOf' || e.keyword === 'anyOf' || (e.keyword === 'const' && e.instancePath === '/code')) continue;
    const extra = e.keyword === 'required' ? '' : ` ${JSON.stringify(e.params)}`;
    lines.push(`${e.instancePath || '(root)'} ${e.message}${extra}`);
  }
  return [...new Set(lines)];
}
