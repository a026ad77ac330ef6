-- Blobs no files row points at yet, or any more: an upload notes its blob key here before writing the
-- bytes and clears it in the transaction that records the file; an expiry or a redundant copy notes it
-- (abandoned) before its bytes are deleted. After a crash, a key left here names bytes to delete, so no
-- blob is ever orphaned. abandoned_at_ms is NULL while an upload may still record the blob.
CREATE TABLE file_pending_blobs (
	blob_key TEXT PRIMARY KEY,
	noted_at_ms INTEGER NOT NULL,
	abandoned_at_ms INTEGER
);

CREATE INDEX file_pending_blobs_noted_at ON file_pending_blobs (noted_at_ms);

CREATE INDEX files_blob_key ON files (blob_key);
