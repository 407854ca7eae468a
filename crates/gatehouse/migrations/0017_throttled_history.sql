-- The console's 30-day history of throttled attempts (issue 16): refusals per environment and
-- UTC day (`day` = days since 1970-01-01). Each process tallies refusals in memory and adds its
-- tallies here about once a minute (`service::throttle_history`), so an attacker's refusals
-- cost no write each; rows older than the home page's window are purged. `id` is
-- "environment_id:day" (one text key, as `gatehouse migrate-store` copies tables by one key);
-- the table holds at most 31 rows per environment, so it needs no other index.
CREATE TABLE throttled_daily (
    id TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL,
    day BIGINT NOT NULL,
    count BIGINT NOT NULL
);
