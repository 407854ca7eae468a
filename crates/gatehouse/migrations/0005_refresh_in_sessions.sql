-- Refresh tokens move into their session's row: the current generation of the session's token
-- chain, the hash of that token's secret, when it was issued and the access-token claims issued
-- with it (returned again when the previous token is retried within the grace window). A
-- rotation is one conditional UPDATE of one row, where it used to insert a row into a table with
-- three indexes on random keys; the write-ahead log now grows by a page per rotation, not five.
-- Tokens issued before this change can no longer be refreshed (their form is gone): their users
-- sign in again.
ALTER TABLE sessions ADD COLUMN refresh_generation BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN refresh_hash TEXT;
ALTER TABLE sessions ADD COLUMN refreshed_at BIGINT;
ALTER TABLE sessions ADD COLUMN refresh_claims TEXT;
DROP TABLE refresh_tokens;

-- A counter bumped by every change to a user row. A refresh that skips the read (using the
-- context this server kept when it issued the token) checks it in the rotation's UPDATE, so
-- claims are never built from a user that has changed since.
ALTER TABLE users ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
