-- What an import from the Python Session Pro backend brings that Tollgate's own tables cannot hold.
--
-- Generation ids are the legacy gen_index: an import keeps the Python backend's, and later ones must
-- never reuse an index it handed out (its proofs and revocations name them). AUTOINCREMENT keeps SQLite
-- from reusing a pruned or skipped id; the import raises sqlite_sequence to the backend's next index.
CREATE TABLE pro_generations_numbered (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	user_id INTEGER NOT NULL REFERENCES pro_users (id) ON DELETE CASCADE,
	token BLOB NOT NULL UNIQUE,
	issued_at_ms INTEGER NOT NULL,
	revoked_at_ms INTEGER
);

INSERT INTO pro_generations_numbered (id, user_id, token, issued_at_ms, revoked_at_ms)
SELECT id, user_id, token, issued_at_ms, revoked_at_ms FROM pro_generations;

DROP TABLE pro_generations;

ALTER TABLE pro_generations_numbered RENAME TO pro_generations;

CREATE INDEX pro_generations_revoked_at ON pro_generations (revoked_at_ms);

-- The Python backend's revocations, by gen_index: listed on the legacy list beside Tollgate's own, until
-- listed_until_ms (no earlier than every proof of that generation has expired). created_at_ms is the
-- backend's creation time (0 on rows older than its schema 9), from which a revocation takes effect.
CREATE TABLE pro_legacy_revocations (
	gen_index INTEGER PRIMARY KEY,
	created_at_ms INTEGER NOT NULL,
	listed_until_ms INTEGER NOT NULL
);

-- The import itself: the backend's signing key (its clients pin the public key; proofs of both protocols
-- are signed with it from then on, and onion requests may be encrypted to its X25519 key), and what was
-- imported, so that a second run can say it changes nothing.
CREATE TABLE pro_legacy_import (
	singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
	backend_seed BLOB NOT NULL CHECK (length(backend_seed) = 32),
	imported_at_ms INTEGER NOT NULL,
	summary TEXT NOT NULL
);
