-- The console (issue 16). Each user's search keys (`domain::user_search`): their email address,
-- full name and last name, lower-cased and hex-encoded so a prefix is one index range on both
-- databases whatever PostgreSQL's collation. Rows from before are filled in by the server at
-- start-up (`Store::backfill_search_keys`: SQL cannot compute the keys).
ALTER TABLE users ADD COLUMN search_email TEXT;
ALTER TABLE users ADD COLUMN search_name TEXT;
ALTER TABLE users ADD COLUMN search_last TEXT;
CREATE INDEX users_by_search_email ON users (environment_id, search_email, id);
CREATE INDEX users_by_search_name ON users (environment_id, search_name, id);
CREATE INDEX users_by_search_last ON users (environment_id, search_last, id);
-- The home page's counts per event type and day over the last 30 days, read from this index
-- alone.
CREATE INDEX events_by_type ON events (environment_id, event, created_at);
-- An environment's users newest first (the console's list, broad searches, the API's list):
-- without it SQLite picks the (environment_id, email) index and sorts every user.
CREATE INDEX users_by_environment ON users (environment_id, id);
