-- Chunks of ARCmanager uploads (/fnf/uploadFile), each one blob of the blob store. A row is written before
-- its blob (`pending`: no project yet), so a crash mid-chunk leaves a row the purge job finds and deletes
-- with its blob; once the chunk's fields are read it names the session, project, branch, path and number
-- it belongs to. A re-sent chunk turns the row it replaces back into a pending one (received_at_ms 0),
-- which the purge job removes blob first.
CREATE TABLE arcs_upload_chunks (
	blob_key TEXT PRIMARY KEY,
	session_id TEXT NOT NULL,
	hub TEXT NOT NULL,
	project_id INTEGER,
	branch TEXT,
	path TEXT,
	chunk_number INTEGER,
	total_chunks INTEGER,
	size_bytes INTEGER NOT NULL,
	received_at_ms INTEGER NOT NULL
);
CREATE UNIQUE INDEX arcs_upload_chunks_identity
	ON arcs_upload_chunks (session_id, project_id, branch, path, chunk_number);
CREATE INDEX arcs_upload_chunks_received ON arcs_upload_chunks (received_at_ms);
