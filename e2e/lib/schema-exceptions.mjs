// The one list of where Gatehouse's JSON answers may differ from WorkOS's OpenAPI document
// (@workos/openapi-spec), each with its reason. lib/wire-schema.mjs reads it; every other answer the
// e2e suite receives must validate against the document's schema for its operation and status.
//
// - OWN_ENDPOINTS: Gatehouse's own endpoints, which WorkOS's document does not have. Not checked.
// - DIFFERENCES: a `patch(body)` that turns what Gatehouse sends into what the document wants, applied
//   before validation, so everything else in the same answer is still checked. An entry marked
//   `drift: true` (and `TODO(drift)` in its reason) is a bug in Gatehouse, listed in e2e/KNOWN-DRIFT.md,
//   tolerated only to keep CI green until the server is fixed: each use is reported, and with
//   `E2E_DRIFT=fail` it fails the test like any other mismatch. Remove the entry with the fix.
//
// - UNDEFINED_STATUSES: 4xx statuses (with their codes) that Gatehouse answers on an operation whose
//   document defines no such status. Any other undefined 4xx fails like a mismatch.
//
// - KNOWN_DRIFT: drift a test asserts directly (e.g. an SDK release that needs a claim Gatehouse does not
//   mint yet), used through `expectDrift` (lib/drift.mjs).

/** @type {{method: string, path: string|RegExp, reason: string}[]} */
export const OWN_ENDPOINTS = [
  { method: '*', path: /^\/user_management\/providers(\/[^/]+)?$/, reason: 'social login providers are configured over the API in Gatehouse; WorkOS configures them in its dashboard' },
  { method: 'GET', path: '/user_management/redirect_uris', reason: 'WorkOS documents only POST; Gatehouse also lists redirect URIs (the CLI and console use it)' },
  { method: 'DELETE', path: /^\/user_management\/redirect_uris\/[^/]+$/, reason: 'WorkOS documents only POST; Gatehouse also removes redirect URIs' },
  { method: 'GET', path: '/user_management/cors_origins', reason: 'WorkOS documents only POST; Gatehouse also lists CORS origins' },
  { method: 'DELETE', path: /^\/user_management\/cors_origins\/[^/]+$/, reason: 'WorkOS documents only POST; Gatehouse also removes CORS origins' },
  { method: '*', path: /^\/user_management\/[^/]+\/\.well-known\/openid-configuration$/, reason: 'OpenID Connect discovery (RFC 8414 shape), which WorkOS serves but does not describe in its OpenAPI document' },
  { method: '*', path: /^\/dev\/emails$/, reason: 'Gatehouse\'s development outbox (no SMTP needed on a fresh machine)' },
  { method: '*', path: '/health', reason: 'Gatehouse\'s health check' },
  { method: 'OPTIONS', path: /.*/, reason: 'CORS preflights (e.g. Next.js prefetching a route that redirects to /user_management/authorize) are not operations; the document does not describe them' },
  { method: 'GET', path: /^\/authorization\/(resources\/[^/]+|organizations\/[^/]+\/resources\/[^/]+\/[^/]+)\/role_assignments$/, reason: 'the node SDK\'s `authorization.listRoleAssignmentsForResource` and `listResourceRoleAssignments` call these paths, which WorkOS\'s OpenAPI document does not list; they answer a RoleAssignmentList like GET /authorization/organization_memberships/{id}/role_assignments, which is checked' },
  { method: 'GET', path: /^\/authorization\/resources\/[^/]+\/organization_memberships\/[^/]+\/permissions$/, reason: 'the node SDK\'s `authorization.listEffectivePermissions` calls this path, which WorkOS\'s OpenAPI document does not list; the document\'s own path for it (GET /authorization/organization_memberships/{id}/resources/{resource_id}/permissions) answers the same list and is checked' },
  { method: '*', path: /^\/authkit\//, reason: 'Gatehouse\'s hosted pages (WorkOS hosts AuthKit on its own domain with its own internal API); their JSON endpoints (passkey options) serve only the pages\' own script' },
];

/**
 * @type {{method: string, path: string, status?: number, when: (body: any) => boolean,
 *   patch?: (body: any) => any, reason: string, drift?: boolean}[]}
 * `method` and `path` (the document's path template) may be '*'. When `when(body)` holds, `patch` gets a
 * copy of the body and returns what the document wants there; everything else in the answer is still
 * validated. An entry without `patch` excuses the whole answer (for a shape that cannot be patched).
 */
export const DIFFERENCES = [
  // ---- Deliberate differences -------------------------------------------------------------------
  {
    method: '*', path: '*', status: 429,
    when: (b) => b?.code === 'rate_limit_exceeded',
    patch: (b) => ({ ...b, code: 'daily_quota_exceeded' }),
    reason: 'Gatehouse throttles attempts and sends per address and IP (NIST SP 800-63B, ASVS), which is not a daily quota; WorkOS documents only `daily_quota_exceeded` for these 429s, and its own rate limits answer `rate_limit_exceeded` (POST /audit_logs/events). The SDKs map 429 by status (RateLimitExceededException with Retry-After).',
  },
  {
    method: 'POST', path: '/user_management/users/{id}/email_verification/confirm', status: 400,
    when: (b) => b?.code === 'one_time_code_too_many_attempts',
    reason: 'Gatehouse stops guessing after five wrong codes (ASVS 2.7); WorkOS documents no attempt limit here, so Gatehouse uses the code WorkOS documents for the same case on POST /user_management/authenticate.',
  },

  // ---- TODO(drift): bugs in Gatehouse, listed in e2e/KNOWN-DRIFT.md; remove each entry with its fix ----
  // (none: the drift found by the first schema check was fixed in the server's wire module,
  // crates/gatehouse/src/web/wire/)
];

/**
 * @type {{method: string, path: string, status: number, codes: string[], reason: string}[]}
 * 4xx answers the document does not define for the operation (`path` is its path template; `method` and
 * `path` may be '*'), accepted for the listed `code` (or OAuth `error`) values only. Their bodies are not
 * validated: the document has no schema for them.
 */
export const UNDEFINED_STATUSES = [
  {
    method: '*', path: '*', status: 401, codes: ['unauthorized'],
    reason: 'a missing or wrong API key: WorkOS answers 401 on every API-key operation, and the SDKs map it by status (UnauthorizedException), but the document defines 401 on few operations',
  },
  {
    method: '*', path: '*', status: 404, codes: ['entity_not_found'],
    reason: 'an ID that names nothing: WorkOS answers 404 `entity_not_found` on every operation that takes one (the SDKs map it by status: NotFoundException), but the document defines 404 on some operations only',
  },
  {
    method: '*', path: '*', status: 422, codes: ['invalid_request_parameters'],
    reason: 'a parameter that fails validation (with `errors[]` naming the field): WorkOS\'s general answer to bad input (the SDKs map it by status: UnprocessableEntityException), which the document defines on some operations only (not on POST /organization_domains, for one)',
  },
  {
    method: 'POST', path: '/user_management/users', status: 409, codes: ['user_already_exists', 'email_look_alike'],
    reason: 'an address already in use (`user_already_exists`), or one that differs from an existing user\'s only in characters that look alike (`email_look_alike`, Gatehouse\'s guard against impersonating addresses): WorkOS answers 409 for the first too, which the document does not define for this operation',
  },
];

/**
 * Known drift that a test asserts directly (what WorkOS or the SDK wants), wrapped in
 * `expectDrift(id, …)` (lib/drift.mjs): while the entry is here the assertion is expected to fail and
 * is reported as known drift; once it passes, the test fails until the entry is removed.
 * `applies()` limits an entry to the SDK releases that show it.
 * @type {Record<string, {reason: string, applies?: () => boolean}>}
 */
export const KNOWN_DRIFT = {};
