-- Google Play real-time developer notifications (upstream 0.3.0 providers/google_play): a notification
-- only says "look at this purchase token again", so intake records its Pub/Sub message id (a redelivery is
-- answered without a second effect) and queues the token; a leased drain fetches the subscription
-- resource and converges the token's payments on it. Times are epoch milliseconds.
CREATE TABLE pro_google_notifications (
	message_id TEXT PRIMARY KEY,
	event_at_ms BIGINT NOT NULL
);

CREATE INDEX pro_google_notifications_event_at ON pro_google_notifications (event_at_ms);

-- One row per token owing a look. revision grows with every notification for the token, so a drain that
-- fetched before the newest one does not remove it. A token that keeps failing backs off and, after
-- enough attempts, is parked for an operator.
CREATE TABLE pro_google_reconciles (
	purchase_token TEXT PRIMARY KEY,
	revision BIGINT NOT NULL,
	eligible_at_ms BIGINT NOT NULL,
	lease_until_ms BIGINT NOT NULL,
	attempts INTEGER NOT NULL,
	last_error TEXT,
	parked_at_ms BIGINT
);

CREATE INDEX pro_google_reconciles_due ON pro_google_reconciles (eligible_at_ms) WHERE parked_at_ms IS NULL;

-- Purchases Google has not been told we received: Google refunds one left unacknowledged for three days.
CREATE TABLE pro_google_acks (
	purchase_token TEXT PRIMARY KEY,
	product_id TEXT NOT NULL,
	purchased_at_ms BIGINT NOT NULL
);
