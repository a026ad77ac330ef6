-- What the account pages need: which account each stored provider model (session, grant, token) belongs
-- to, so a user can list and end them and a deleted account leaves none behind; the consent a user gave
-- a client (remembered per client and scope); and the passkeys (WebAuthn credentials) of each account.
ALTER TABLE identity_oidc_models ADD COLUMN account_id TEXT;
CREATE INDEX identity_oidc_models_account ON identity_oidc_models (account_id) WHERE account_id IS NOT NULL;

CREATE TABLE identity_consents (
	user_id TEXT NOT NULL REFERENCES identity_users (id) ON DELETE CASCADE,
	client_id TEXT NOT NULL,
	-- The granted scopes, space-separated; an API's as `<scope>@<resource indicator>`.
	scopes TEXT NOT NULL,
	updated_at_ms BIGINT NOT NULL,
	PRIMARY KEY (user_id, client_id)
);

CREATE TABLE identity_passkeys (
	-- The credential id, base64url.
	id TEXT PRIMARY KEY,
	user_id TEXT NOT NULL REFERENCES identity_users (id) ON DELETE CASCADE,
	public_key BYTEA NOT NULL,
	sign_count BIGINT NOT NULL,
	-- Space-separated WebAuthn transports (usb, internal, hybrid…), as the browser reported them.
	transports TEXT NOT NULL,
	-- singleDevice (a hardware key: amr hwk) or multiDevice (a synced passkey: amr swk).
	device_type TEXT NOT NULL,
	name TEXT NOT NULL,
	created_at_ms BIGINT NOT NULL,
	last_used_at_ms BIGINT
);
CREATE INDEX identity_passkeys_user ON identity_passkeys (user_id);
