-- Each user's email skeleton (UTS #39, `domain::user::email_skeleton`), so a new address that
-- looks like an existing one is found with one indexed lookup. Rows from before are filled in
-- by the server at start-up (`Store::backfill_email_skeletons`: SQL cannot compute skeletons).
ALTER TABLE users ADD COLUMN email_skeleton TEXT;
CREATE INDEX users_by_email_skeleton ON users (environment_id, email_skeleton);
-- A hosted sign-up for an address that already has an account answers like any other sign-up
-- (on to the email-code page) without creating anything: this row stands in for the pending
-- sign-in, so the code page can be shown and refuses every code.
CREATE TABLE sign_up_decoys (
    token_hash TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments(id),
    email TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX sign_up_decoys_by_expiry ON sign_up_decoys (expires_at);
