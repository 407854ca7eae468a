-- One schema for SQLite and PostgreSQL: only TEXT and BIGINT columns, timestamps in Unix
-- milliseconds, secrets only as hex SHA-256 hashes.

CREATE TABLE server_secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE environments (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    client_id TEXT NOT NULL UNIQUE,
    settings TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments(id),
    key_hash TEXT NOT NULL UNIQUE,
    key_hint TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments(id),
    private_key TEXT NOT NULL,
    published_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE redirect_uris (
    id TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments(id),
    uri TEXT NOT NULL,
    is_default BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (environment_id, uri)
);

CREATE TABLE cors_origins (
    id TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments(id),
    origin TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (environment_id, origin)
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments(id),
    email TEXT NOT NULL,
    email_verified BIGINT NOT NULL,
    first_name TEXT,
    last_name TEXT,
    profile_picture_url TEXT,
    external_id TEXT,
    metadata TEXT NOT NULL,
    locale TEXT,
    password_hash TEXT,
    last_sign_in_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (environment_id, email),
    UNIQUE (environment_id, external_id)
);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments(id),
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    auth_method TEXT NOT NULL,
    ip_address TEXT,
    user_agent TEXT,
    expires_at BIGINT NOT NULL,
    ended_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id, id);

-- A session's refresh tokens form a chain: each rotation inserts the successor with its
-- parent's hash. A token is spent exactly when a row names it as parent (the unique index makes
-- the rotation one atomic INSERT). `claims` are the access-token claims issued with the token,
-- kept so that a retry of the parent within the grace window can get the same pair again.
CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    parent_hash TEXT UNIQUE,
    claims TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX refresh_tokens_by_session ON refresh_tokens (session_id);

CREATE TABLE authorization_requests (
    id TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments(id),
    params TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE authorization_codes (
    code_hash TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments(id),
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    redirect_uri TEXT NOT NULL,
    code_challenge TEXT,
    auth_method TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    session_id TEXT,
    created_at BIGINT NOT NULL
);

CREATE TABLE throttle (
    key TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    count BIGINT NOT NULL
);

-- A first factor succeeded but a step-up (email verification, two-factor) is still needed.
-- The token goes to the client once; it is single use and short-lived.
CREATE TABLE pending_authentications (
    token_hash TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments(id),
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    auth_method TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    created_at BIGINT NOT NULL
);
