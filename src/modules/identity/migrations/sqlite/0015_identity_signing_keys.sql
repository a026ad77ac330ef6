-- The provider's token signing keys (EdDSA, ES256, RS256), each private JWK sealed with the secrets key. The
-- newest unretired key of an algorithm signs; a retired one stays published in the JWKS until every token
-- it signed has expired (drop_after_ms), then a leased job deletes it.
CREATE TABLE identity_signing_keys (
	kid TEXT PRIMARY KEY,
	alg TEXT NOT NULL CHECK (alg IN ('EdDSA', 'ES256', 'RS256')),
	sealed_jwk BLOB NOT NULL,
	created_at_ms INTEGER NOT NULL,
	retired_at_ms INTEGER,
	drop_after_ms INTEGER
);
