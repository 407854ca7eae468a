-- When the user signed in to start each session (the access token's `auth_time`, kept across
-- refreshes). Sessions started before this change take their creation time, at most a code
-- exchange later than the sign-in.
ALTER TABLE sessions ADD COLUMN auth_time BIGINT NOT NULL DEFAULT 0;
UPDATE sessions SET auth_time = created_at;

-- Each signing key's self-signed X.509 certificate (DER, base64), published in the JWKS as
-- `x5c`. Keys made before this change get theirs when the server next loads them.
ALTER TABLE signing_keys ADD COLUMN certificate TEXT;
