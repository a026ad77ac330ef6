-- App API keys made by `tollgate sessions keys add` (besides those in sessions.app_api_keys). A key is
-- `<id>.<secret>`, the secret 32 random bytes; only SHA-256 of the whole key is kept, printed nowhere, so a
-- copy of the database lets no one call the sessions API. The id is public: `keys list` shows it.
CREATE TABLE sessions_app_api_keys (
	id TEXT PRIMARY KEY,
	key_sha256 BLOB NOT NULL,
	-- The operator's note of which app holds the key (`--label`).
	label TEXT,
	created_at_ms INTEGER NOT NULL
);
