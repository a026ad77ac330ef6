-- Small files keep their bytes in their row (inline_data) instead of the blob store: one indexed read
-- serves them and one insert stores them. Exactly one of blob_key and inline_data is set.
ALTER TABLE files ALTER COLUMN blob_key DROP NOT NULL;

ALTER TABLE files ADD COLUMN inline_data BYTEA;

ALTER TABLE files ADD CONSTRAINT files_content_in_one_place
	CHECK ((blob_key IS NULL) <> (inline_data IS NULL));
