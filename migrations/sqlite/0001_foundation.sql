-- Foundation: the service key, cluster-wide job leases, and blobs kept in the database.
CREATE TABLE service_keys (
	key_name TEXT PRIMARY KEY,
	secret BLOB NOT NULL,
	created_at_ms INTEGER NOT NULL
);

CREATE TABLE job_leases (
	job_name TEXT PRIMARY KEY,
	holder TEXT,
	lease_until_ms INTEGER NOT NULL DEFAULT 0,
	next_run_at_ms INTEGER NOT NULL DEFAULT 0,
	last_started_at_ms INTEGER,
	last_finished_at_ms INTEGER,
	last_error TEXT
);

CREATE TABLE blobs (
	blob_key TEXT PRIMARY KEY,
	upload_id TEXT NOT NULL,
	size_bytes INTEGER NOT NULL,
	created_at_ms INTEGER NOT NULL
);

-- Chunks are written before their blobs row points at them, so a half-written upload is never visible;
-- chunks no row points at are swept after a grace period.
CREATE TABLE blob_chunks (
	upload_id TEXT NOT NULL,
	chunk_index INTEGER NOT NULL,
	data BLOB NOT NULL,
	created_at_ms INTEGER NOT NULL,
	PRIMARY KEY (upload_id, chunk_index)
);

CREATE INDEX blob_chunks_created_at ON blob_chunks (created_at_ms);
