-- The audit trail (issue 10.4): configuration changes are events too (`gatehouse.*` types), and
-- each records who made it: the API key's ID, `cli`, an operator's ID or `system`
-- (`domain::audit::Actor::key`), so `gatehouse events --actor` is one indexed lookup.
ALTER TABLE events ADD COLUMN actor TEXT;
-- Led by `actor`, so listings by environment alone keep walking `events_by_seq` in order
-- (an index led by `environment_id` tempted SQLite into sorting every page).
CREATE INDEX events_by_actor ON events (actor, environment_id, seq);
-- Impersonation (issue 10.3): a session an operator started as a user carries who and why
-- (WorkOS's `impersonator: {email, reason}`), as does the authorization code that starts it.
ALTER TABLE sessions ADD COLUMN impersonator_email TEXT;
ALTER TABLE sessions ADD COLUMN impersonator_reason TEXT;
ALTER TABLE authorization_codes ADD COLUMN impersonator_email TEXT;
ALTER TABLE authorization_codes ADD COLUMN impersonator_reason TEXT;
-- A one-time impersonation link (`gatehouse impersonate`): only its token's hash is kept. Opening
-- it spends the token and hands the browser a grant (a cookie; its hash in `grant_hash`) that
-- the app's next `/user_management/authorize` spends for an authorization code as the user.
CREATE TABLE impersonations (
    token_hash TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments(id),
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    operator_email TEXT NOT NULL,
    reason TEXT,
    expires_at BIGINT NOT NULL,
    opened_at BIGINT,
    grant_hash TEXT,
    grant_used_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX impersonations_by_grant ON impersonations (grant_hash);
CREATE INDEX impersonations_by_expiry ON impersonations (expires_at);
