-- Two-factor authentication (TOTP) and passkeys (WebAuthn).

-- A TOTP authenticator. The secret must stay usable, so it is encrypted (AES-256-GCM under the
-- server key, bound to the factor ID), never hashed.
-- A factor enrolled through the hosted pages counts only once `verified_at` is set (the first
-- code was confirmed); one enrolled through the API is verified at once, as in WorkOS.
-- `last_used_step` is the RFC 6238 time step of the last accepted code: a code is accepted only
-- for a later step, so each code works once.
CREATE TABLE auth_factors (
    id TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments(id),
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    factor_type TEXT NOT NULL,
    secret_sealed TEXT NOT NULL,
    issuer TEXT NOT NULL,
    account TEXT NOT NULL,
    verified_at BIGINT,
    last_used_step BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX auth_factors_by_user ON auth_factors (user_id, id);

-- A challenge of a factor (`POST /auth/factors/{id}/challenge`): single use and short-lived.
CREATE TABLE auth_challenges (
    id TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments(id),
    factor_id TEXT NOT NULL REFERENCES auth_factors(id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL,
    verified_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- One-time recovery codes, stored only as SHA-256 hashes (salted with the user ID).
CREATE TABLE recovery_codes (
    code_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    used_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX recovery_codes_by_user ON recovery_codes (user_id);

-- Passkeys: the webauthn-rs credential (public key, counter, flags) as JSON. Nothing secret.
CREATE TABLE passkeys (
    id TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments(id),
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    credential_id TEXT NOT NULL,
    name TEXT NOT NULL,
    credential TEXT NOT NULL,
    last_used_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (environment_id, credential_id)
);
CREATE INDEX passkeys_by_user ON passkeys (user_id, id);

-- WebAuthn ceremony state between the options request and the browser's answer: single use
-- (deleted when read) and short-lived. `user_id` is empty for a discoverable sign-in.
CREATE TABLE webauthn_ceremonies (
    id_hash TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments(id),
    user_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

-- A completed hosted sign-in parked on the account-security page (add a passkey, set up an
-- authenticator app) before it returns to the app. The token is in an HttpOnly cookie.
CREATE TABLE security_sessions (
    token_hash TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments(id),
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    auth_method TEXT NOT NULL,
    request_id TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    created_at BIGINT NOT NULL
);
