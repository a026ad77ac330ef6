-- Small files keep their bytes in their row (inline_data) instead of the blob store: one indexed read
-- serves them and one insert stores them. Exactly one of blob_key and inline_data is set. SQLite cannot
-- drop a NOT NULL constraint, so the table is rebuilt.
CREATE TABLE files_with_inline_data (
	id TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 44),
	blob_key TEXT,
	inline_data BLOB,
	size_bytes INTEGER NOT NULL,
	uploaded_at_ms INTEGER NOT NULL,
	expires_at_ms INTEGER NOT NULL,
	CHECK ((blob_key IS NULL) <> (inline_data IS NULL))
);

INSERT INTO files_with_inline_data (id, blob_key, size_bytes, uploaded_at_ms, expires_at_ms)
SELECT id, blob_key, size_bytes, uploaded_at_ms, expires_at_ms FROM files;

DROP TABLE files;

ALTER TABLE files_with_inline_data RENAME TO files;

CREATE INDEX files_expires_at ON files (expires_at_ms);

CREATE INDEX files_blob_key ON files (blob_key);
