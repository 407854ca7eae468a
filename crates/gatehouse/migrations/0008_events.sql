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
