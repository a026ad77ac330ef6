-- App Store Server Notifications already handled, by notificationUUID, kept as long as Apple may resend.
CREATE TABLE pro_apple_notifications (
	uuid TEXT PRIMARY KEY,
	expires_at_ms INTEGER NOT NULL
);

CREATE INDEX pro_apple_notifications_expires_at ON pro_apple_notifications (expires_at_ms);
