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
// - KNOWN_DRIFT: drift a test asserts directly (e.g. an SDK release that needs a claim Gatehouse does not
//   mint yet), used through `expectDrift` (lib/drift.mjs).

import { sdkMajor } from './sdk.mjs';

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
  {
    drift: true, method: 'POST', path: '/user_management/authenticate', status: 200,
    when: (b) => b?.organization_id === null,
    patch: ({ organization_id: _, ...rest }) => rest,
    reason: 'TODO(drift) `"organization_id": null` in an unscoped session; the schema allows only a string or no field',
  },
  {
    drift: true, method: 'GET', path: '/sso/jwks/{clientId}', status: 200,
    when: (b) => Array.isArray(b?.keys) && b.keys.some((k) => !('x5c' in k) || !('x5t#S256' in k)),
    patch: (b) => ({ ...b, keys: b.keys.map((k) => ({ 'x5c': ['(missing)'], 'x5t#S256': '(missing)', ...k })) }),
    reason: 'TODO(drift) JWKS keys without `x5c` (a certificate chain) and `x5t#S256` (its SHA-256 thumbprint), which the schema requires',
  },
  {
    drift: true, method: 'POST', path: '/user_management/password_reset/confirm', status: 400,
    when: (b) => b?.code === 'password_strength_error',
    patch: (b) => ({ ...b, code: 'password_reset_error' }),
    reason: 'TODO(drift) a weak new password answers `password_strength_error`; the document\'s only 400 code here is `password_reset_error` (with the reasons in `errors[]`)',
  },
  {
    drift: true, method: 'POST', path: '/user_management/password_reset/confirm', status: 400,
    when: (b) => b?.code === 'password_reset_error' && !Array.isArray(b.errors),
    patch: (b) => ({ ...b, errors: [] }),
    reason: 'TODO(drift) `password_reset_error` (invalid, used or expired token) without the `errors` array the schema requires',
  },
  {
    drift: true, method: 'POST', path: '/user_management/authenticate', status: 400,
    when: (b) => b?.code === 'email_verification_code_incorrect',
    patch: (b) => ({ ...b, code: 'invalid_one_time_code' }),
    reason: 'TODO(drift) a wrong code on the email-verification grant answers `email_verification_code_incorrect`, which the document lists only for POST /user_management/users/{id}/email_verification/confirm; for authenticate it documents `invalid_one_time_code`',
  },
  {
    drift: true, method: 'POST', path: '/user_management/authenticate', status: 400,
    when: (b) => b?.code === 'authentication_challenge_previously_verified',
    patch: (b) => ({ ...b, code: 'one_time_code_previously_used' }),
    reason: 'TODO(drift) a reused challenge on the mfa-totp grant answers `authentication_challenge_previously_verified`, which the document does not list for authenticate (nearest documented: `one_time_code_previously_used`)',
  },
  {
    drift: true, method: 'GET', path: '/user_management/users/{id}/identities', status: 200,
    when: (b) => Array.isArray(b) && b.some((i) => i?.provider === 'GitHubOAuth'),
    patch: (b) => b.map((i) => (i?.provider === 'GitHubOAuth' ? { ...i, provider: 'GithubOAuth' } : i)),
    reason: 'TODO(drift) identities name GitHub `GitHubOAuth`; WorkOS\'s identities answer spells it `GithubOAuth` (the document\'s enum, and @workos-inc/node\'s deserializer maps `GithubOAuth` → `GitHubOAuth` for its callers)',
  },
  {
    drift: true, method: 'POST', path: '/user_management/cors_origins', status: 409,
    when: (b) => b?.code === 'cors_origin_already_exists',
    patch: (b) => ({ ...b, code: 'duplicate_cors_origin' }),
    reason: 'TODO(drift) a duplicate CORS origin answers `cors_origin_already_exists`; WorkOS documents `duplicate_cors_origin`',
  },
  {
    drift: true, method: '*', path: '*', status: 400,
    when: (b) => typeof b?.error === 'string' && typeof b?.error_description === 'string' && /not valid JSON/.test(b.error_description),
    reason: 'TODO(drift) a malformed JSON body on a management endpoint answers the OAuth shape `{error: "invalid_request", error_description}`; the document\'s management errors are `{code, message}` (422 `invalid_request_parameters` for invalid input)',
  },
];

/**
 * Known drift that a test asserts directly (what WorkOS or the SDK wants), wrapped in
 * `expectDrift(id, …)` (lib/drift.mjs): while the entry is here the assertion is expected to fail and
 * is reported as known drift; once it passes, the test fails until the entry is removed.
 * `applies()` limits an entry to the SDK releases that show it.
 * @type {Record<string, {reason: string, applies?: () => boolean}>}
 */
export const KNOWN_DRIFT = {
  'node12-auth-time': {
    applies: () => sdkMajor('@workos-inc/node') >= 12,
    reason: 'TODO(drift) @workos-inc/node 12 refuses access tokens without an `auth_time` claim (besides `sid`): sealed sessions authenticate() → {authenticated: false, reason: "invalid_jwt"}; Gatehouse does not mint `auth_time`',
  },
  'auth-time-claim': {
    reason: 'TODO(drift) access tokens carry no `auth_time` (the time of the sign-in that started the session, kept across refreshes), which @workos-inc/node 12 requires and authkit-nextjs\'s checkRecentAuth reads',
  },
  'duplicate-cors-origin-code': {
    reason: 'TODO(drift) a duplicate CORS origin answers 409 `cors_origin_already_exists`; WorkOS documents `duplicate_cors_origin`',
  },
};
