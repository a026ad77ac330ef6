-- The legacy v0 protocol names a generation by BLAKE2b(salt, u64le(generation id)): the salt keeps the
-- sequential ids out of sight. Written once, on first use (or by an import from the Python backend).
CREATE TABLE pro_legacy_runtime (
	singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
	gen_index_salt BYTEA NOT NULL CHECK (length(gen_index_salt) = 16)
);
