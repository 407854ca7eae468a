-- Expiry indexes, so the housekeeping purge (store/housekeeping.rs) finds what has expired
-- without scanning each table while it holds SQLite's only writer.
CREATE INDEX authorization_requests_by_expiry ON authorization_requests (expires_at);
CREATE INDEX authorization_codes_by_expiry ON authorization_codes (expires_at);
CREATE INDEX throttle_by_window ON throttle (window_start);
CREATE INDEX pending_authentications_by_expiry ON pending_authentications (expires_at);
CREATE INDEX one_time_codes_by_expiry ON one_time_codes (expires_at);
CREATE INDEX social_logins_by_expiry ON social_logins (expires_at);
CREATE INDEX webauthn_ceremonies_by_expiry ON webauthn_ceremonies (expires_at);
CREATE INDEX auth_challenges_by_expiry ON auth_challenges (expires_at);
CREATE INDEX security_sessions_by_expiry ON security_sessions (expires_at);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
CREATE INDEX sessions_by_end ON sessions (ended_at);
