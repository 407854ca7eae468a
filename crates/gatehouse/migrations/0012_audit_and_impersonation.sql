-- The audit trail (issue 10.4): configuration changes are events too (`gatehouse.*` types), and
-- each records who made it: the API key's ID, `cli`, an operator's ID or `system`
-- (`domain::audit::Actor::key`), so `gatehouse events --actor` is one indexed lookup.
ALTER TABLE events ADD COLUMN actor TEXT;
CREATE INDEX events_by_actor ON events (environment_id, actor, seq);
