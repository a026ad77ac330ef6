-- What the OpenID Connect provider stores (oidc-provider's models: sessions, grants, codes, tokens,
-- interactions…), one row per model instance with its JSON payload and the indexes oidc-provider looks
-- up by. consumed_at_s is set once, atomically: a code or refresh token is spent by exactly one request.
CREATE TABLE identity_oidc_models (
	model TEXT NOT NULL,
	id TEXT NOT NULL,
	payload TEXT NOT NULL,
	grant_id TEXT,
	uid TEXT,
	user_code TEXT,
	expires_at_ms BIGINT,
	consumed_at_s BIGINT,
	PRIMARY KEY (model, id)
);

CREATE INDEX identity_oidc_models_grant ON identity_oidc_models (grant_id) WHERE grant_id IS NOT NULL;
CREATE INDEX identity_oidc_models_uid ON identity_oidc_models (model, uid) WHERE uid IS NOT NULL;
CREATE INDEX identity_oidc_models_user_code ON identity_oidc_models (model, user_code) WHERE user_code IS NOT NULL;
CREATE INDEX identity_oidc_models_expires ON identity_oidc_models (expires_at_ms) WHERE expires_at_ms IS NOT NULL;
