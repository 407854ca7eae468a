-- Each user's email skeleton (UTS #39, `domain::user::email_skeleton`), so a new address that
-- looks like an existing one is found with one indexed lookup. Rows from before are filled in
-- by the server at start-up (`Store::backfill_email_skeletons`: SQL cannot compute skeletons).
ALTER TABLE users ADD COLUMN email_skeleton TEXT;
CREATE INDEX users_by_email_skeleton ON users (environment_id, email_skeleton);
-- A hosted sign-up waiting for its emailed code (`service::sign_up`): for a new address its
-- (unverified) user; for an address that already has an account, or looks like one that has,
-- no user: a decoy that the code page shows the same way and on which every code is wrong.
-- Kept apart from `pending_authentications`, so no other step-up page or API grant can tell
-- the two apart or use either before the address is proved.
CREATE TABLE hosted_sign_ups (
    token_hash TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments(id),
    email TEXT NOT NULL,
    user_id TEXT,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX hosted_sign_ups_by_expiry ON hosted_sign_ups (expires_at);
