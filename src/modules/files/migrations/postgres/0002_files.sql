-- Session file server: one row per stored file; the bytes live in the blob store under blob_key.
CREATE TABLE files (
	id TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 44),
	blob_key TEXT NOT NULL,
	size_bytes BIGINT NOT NULL,
	uploaded_at_ms BIGINT NOT NULL,
	expires_at_ms BIGINT NOT NULL
);

CREATE INDEX files_expires_at ON files (expires_at_ms);
