-- Email: one-time codes and tokens (Magic Auth, email verification, password reset) and the
-- durable outbox the delivery worker drains.

CREATE TABLE one_time_codes (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    environment_id TEXT NOT NULL REFERENCES environments(id),
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    sealed_code TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX one_time_codes_by_email ON one_time_codes (environment_id, kind, email, created_at);
CREATE INDEX one_time_codes_by_hash ON one_time_codes (code_hash);

CREATE TABLE email_outbox (
    id TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments(id),
    kind TEXT NOT NULL,
    to_address TEXT NOT NULL,
    subject TEXT NOT NULL,
    sealed_body TEXT,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    sent_at BIGINT
);
CREATE INDEX email_outbox_due ON email_outbox (status, next_attempt_at);
