-- Where the App Store notification-history catch-up has read up to (epoch milliseconds): the next run
-- re-reads from a little before it, so nothing Apple failed to deliver slips between two runs.
CREATE TABLE pro_apple_catch_up (
	singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
	checkpoint_ms INTEGER NOT NULL
);
