-- Session Pro entitlements (specs/session-pro.md, upstream 0.3.0): store payments bound to master keys,
-- accounts with one current generation whose random token is the proofs' revocation tag, and the ticket
-- clients poll revocations with. Times are epoch milliseconds.
CREATE TABLE pro_users (
	id INTEGER PRIMARY KEY,
	master_pkey BLOB NOT NULL UNIQUE,
	current_generation_id INTEGER,
	expiry_at_ms INTEGER NOT NULL,
	grace_period_ms INTEGER,
	auto_renewing INTEGER NOT NULL,
	proof_expiry_offset_s INTEGER NOT NULL CHECK (proof_expiry_offset_s >= 0 AND proof_expiry_offset_s < 86400)
);

CREATE TABLE pro_generations (
	id INTEGER PRIMARY KEY,
	user_id INTEGER NOT NULL REFERENCES pro_users (id) ON DELETE CASCADE,
	token BLOB NOT NULL UNIQUE,
	issued_at_ms INTEGER NOT NULL,
	revoked_at_ms INTEGER
);

CREATE INDEX pro_generations_revoked_at ON pro_generations (revoked_at_ms);

-- One row per store payment. external_id is the wire payment_id (Google "token|orderId", Apple
-- transactionId, stf order id); lineage groups a subscription's renewals (Google token, Apple original
-- transaction, stf order); claim_key is what binds an unclaimed payment to a master key (Google: the
-- obfuscated account id, hex of the master key; Apple: the appAccountToken UUID derived from it).
CREATE TABLE pro_payments (
	id INTEGER PRIMARY KEY,
	user_id INTEGER REFERENCES pro_users (id) ON DELETE CASCADE,
	provider TEXT NOT NULL CHECK (provider IN ('google_play', 'app_store', 'stf')),
	plan TEXT NOT NULL CHECK (plan IN ('1m', '3m', '1y')),
	external_id TEXT NOT NULL,
	lineage TEXT NOT NULL,
	claim_key TEXT,
	auto_renewing INTEGER NOT NULL,
	purchased_at_ms INTEGER NOT NULL,
	redeemed_at_ms INTEGER,
	expiry_at_ms INTEGER NOT NULL,
	grace_period_ms INTEGER,
	platform_refund_expiry_at_ms INTEGER NOT NULL,
	revoked_at_ms INTEGER,
	UNIQUE (provider, external_id)
);

CREATE INDEX pro_payments_user ON pro_payments (user_id, id);
CREATE INDEX pro_payments_lineage ON pro_payments (provider, lineage);
CREATE INDEX pro_payments_unclaimed ON pro_payments (claim_key) WHERE user_id IS NULL;

-- Bumped in the transaction that revokes a generation; pruning never bumps it.
CREATE TABLE pro_revocation_ticket (
	singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
	ticket INTEGER NOT NULL
);

INSERT INTO pro_revocation_ticket (singleton, ticket) VALUES (1, 0);
