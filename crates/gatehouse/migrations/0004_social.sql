-- Social login (issue 6): upstream OAuth 2.0 / OpenID Connect providers per environment, the
-- identities they link to users, and the short-lived state of a sign-in in flight.

-- One upstream provider of an environment. `name` is what apps pass as `provider=` and what
-- `authentication_method` reports (GoogleOAuth, …, or an operator-chosen name for a custom
-- OpenID Connect provider). The client secret is sealed with the server key (AES-256-GCM).
-- Empty endpoint columns mean the preset's (or the issuer's discovery document's) value.
CREATE TABLE oauth_providers (
    id TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments(id),
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    client_id TEXT NOT NULL,
    client_secret_sealed TEXT NOT NULL,
    scopes TEXT NOT NULL,
    display_name TEXT,
    icon_url TEXT,
    issuer TEXT,
    authorize_url TEXT,
    token_url TEXT,
    userinfo_url TEXT,
    emails_url TEXT,
    jwks_url TEXT,
    is_enabled BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (environment_id, name)
);

-- A user's account at an upstream provider: `idp_id` is the provider's stable subject.
CREATE TABLE user_identities (
    id TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments(id),
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    provider TEXT NOT NULL,
    idp_id TEXT NOT NULL,
    email TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (environment_id, provider, idp_id)
);
CREATE INDEX user_identities_by_user ON user_identities (user_id, id);

-- A redirect to an upstream provider awaiting its callback. Keyed by the hash of the `state`
-- sent upstream; bound to the browser by the hash of an HttpOnly cookie; single use.
CREATE TABLE social_logins (
    state_hash TEXT PRIMARY KEY,
    browser_hash TEXT NOT NULL,
    environment_id TEXT NOT NULL REFERENCES environments(id),
    provider_id TEXT NOT NULL,
    request_id TEXT NOT NULL,
    nonce TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    created_at BIGINT NOT NULL
)
