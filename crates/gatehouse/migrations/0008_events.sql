-- The event log (issue 10): every state change and sign-in outcome, written in the transaction
-- of the change. `seq` orders an environment's events in commit order: each writing
-- transaction takes the next value from its environment's `event_counters` row, whose row lock
-- (PostgreSQL) or the single writer (SQLite) keeps it until commit, so a reader that has seen
-- `seq` N has seen every event numbered below N (store/events.rs).
CREATE TABLE events (
    id TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    event TEXT NOT NULL,
    data TEXT NOT NULL,
    organization_id TEXT,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX events_by_seq ON events (environment_id, seq);
CREATE INDEX events_by_creation ON events (created_at);
CREATE TABLE event_counters (
    environment_id TEXT PRIMARY KEY,
    seq BIGINT NOT NULL
);

-- Webhook endpoints: each walks the event log with its own cursor (`cursor_seq`, the last
-- position handled), so deliveries go out in log order per endpoint and nothing is queued on
-- the sign-in path. The secret is sealed (the API shows it). A process delivering to an
-- endpoint holds it with a lease (`lease_until`, `lease_owner`), so two processes never work
-- one endpoint at once. `failing_since` is when the event at the head first failed; after
-- three days of failures the endpoint is disabled.
CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL,
    endpoint_url TEXT NOT NULL,
    sealed_secret TEXT NOT NULL,
    events TEXT NOT NULL,
    status TEXT NOT NULL,
    cursor_seq BIGINT NOT NULL,
    attempts BIGINT NOT NULL,
    failing_since BIGINT,
    next_attempt_at BIGINT NOT NULL,
    lease_until BIGINT NOT NULL,
    lease_owner TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX webhook_endpoints_by_url ON webhook_endpoints (environment_id, endpoint_url);
CREATE INDEX webhook_endpoints_by_due ON webhook_endpoints (next_attempt_at);

-- The delivery log: one row per attempt, with the receiver's status code or the error.
CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    event TEXT NOT NULL,
    attempt BIGINT NOT NULL,
    status_code BIGINT,
    error TEXT,
    succeeded BIGINT NOT NULL,
    duration_ms BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, created_at);
CREATE INDEX webhook_deliveries_by_creation ON webhook_deliveries (created_at);
