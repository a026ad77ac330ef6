-- The connect token vault: one row per connect session, its upstream tokens sealed (AES-256-GCM) under the
-- key named by key_id. A row lives as long as its session: logout deletes it, the purge job deletes those
-- whose session expired.
CREATE TABLE connect_grants (
	session_id TEXT PRIMARY KEY,
	hub TEXT NOT NULL,
	-- The user's `sub` at the hub.
	subject TEXT NOT NULL,
	key_id TEXT NOT NULL,
	sealed BYTEA NOT NULL,
	-- Bumped by every change of the tokens; writes compare it.
	version BIGINT NOT NULL,
	access_expires_at_ms BIGINT,
	created_at_ms BIGINT NOT NULL
);
