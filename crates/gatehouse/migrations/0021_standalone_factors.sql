-- Factors without a user: the older MFA API (`POST /auth/factors/enroll`, the SDKs'
-- `mfa.enrollFactor`) enrols a TOTP factor that belongs to no user, as WorkOS does; the app
-- challenges and verifies it itself. So `auth_factors.user_id` may be NULL. SQLite cannot drop
-- a NOT NULL, so the table is rebuilt, and with it `auth_challenges`, which references it (the
-- same statements run on PostgreSQL). Rows are copied unchanged.
CREATE TABLE auth_factors_v21 (
    id TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments(id),
    user_id TEXT REFERENCES users(id) ON DELETE CASCADE,
    factor_type TEXT NOT NULL,
    secret_sealed TEXT NOT NULL,
    issuer TEXT NOT NULL,
    account TEXT NOT NULL,
    verified_at BIGINT,
    last_used_step BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
INSERT INTO auth_factors_v21 (id, environment_id, user_id, factor_type, secret_sealed, issuer, account, verified_at,
    last_used_step, created_at, updated_at)
SELECT id, environment_id, user_id, factor_type, secret_sealed, issuer, account, verified_at, last_used_step,
    created_at, updated_at FROM auth_factors;

CREATE TABLE auth_challenges_v21 (
    id TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments(id),
    factor_id TEXT NOT NULL REFERENCES auth_factors_v21(id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL,
    verified_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
INSERT INTO auth_challenges_v21 (id, environment_id, factor_id, expires_at, verified_at, created_at, updated_at)
SELECT id, environment_id, factor_id, expires_at, verified_at, created_at, updated_at FROM auth_challenges;

DROP TABLE auth_challenges;
DROP TABLE auth_factors;
-- SQLite renames the reference in auth_challenges_v21 with the table; PostgreSQL keeps it by OID.
ALTER TABLE auth_factors_v21 RENAME TO auth_factors;
ALTER TABLE auth_challenges_v21 RENAME TO auth_challenges;
CREATE INDEX auth_factors_by_user ON auth_factors (user_id, id);
CREATE INDEX auth_challenges_by_expiry ON auth_challenges (expires_at);
