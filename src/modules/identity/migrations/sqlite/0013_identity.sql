-- Identity accounts (specs/identity-dodeka.md): users by normalised e-mail, their roles (matched as whole
-- tokens), the OPAQUE registration record that stands in for a password (the server never sees one), and
-- the module's own secrets (the OPAQUE server setup, later the signing keys), sealed with the
-- configured secrets key. Times are epoch milliseconds.
CREATE TABLE identity_users (
	id TEXT PRIMARY KEY,
	email TEXT NOT NULL UNIQUE,
	email_verified INTEGER NOT NULL,
	display_name TEXT,
	disabled_at_ms INTEGER,
	created_at_ms INTEGER NOT NULL,
	updated_at_ms INTEGER NOT NULL
);

CREATE TABLE identity_user_roles (
	user_id TEXT NOT NULL REFERENCES identity_users (id) ON DELETE CASCADE,
	role TEXT NOT NULL,
	PRIMARY KEY (user_id, role)
);

CREATE TABLE identity_password_records (
	user_id TEXT PRIMARY KEY REFERENCES identity_users (id) ON DELETE CASCADE,
	registration_record TEXT NOT NULL,
	updated_at_ms INTEGER NOT NULL
);

CREATE TABLE identity_sealed_secrets (
	name TEXT PRIMARY KEY,
	sealed BLOB NOT NULL,
	created_at_ms INTEGER NOT NULL
);
