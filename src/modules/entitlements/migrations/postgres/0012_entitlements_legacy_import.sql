-- What an import from the Python Session Pro backend brings that Tollgate's own tables cannot hold.
-- Generation ids are the legacy gen_index: the import restarts pro_generations' identity past the
-- backend's next index, so no later generation reuses one its proofs or revocations name.

-- The Python backend's revocations, by gen_index: listed on the legacy list beside Tollgate's own, until
-- listed_until_ms (no earlier than every proof of that generation has expired). created_at_ms is the
-- backend's creation time (0 on rows older than its schema 9), from which a revocation takes effect.
CREATE TABLE pro_legacy_revocations (
	gen_index BIGINT PRIMARY KEY,
	created_at_ms BIGINT NOT NULL,
	listed_until_ms BIGINT NOT NULL
);

-- The import itself: the backend's signing key (its clients pin the public key; proofs of both protocols
-- are signed with it from then on, and onion requests may be encrypted to its X25519 key), and what was
-- imported, so that a second run can say it changes nothing.
CREATE TABLE pro_legacy_import (
	singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
	backend_seed BYTEA NOT NULL CHECK (length(backend_seed) = 32),
	imported_at_ms BIGINT NOT NULL,
	summary TEXT NOT NULL
);
