-- When the account holder asked Apple for a refund of this payment (legacy v0 set_payment_refund_requested);
-- null when they have not, or withdrew the request.
ALTER TABLE pro_payments ADD COLUMN refund_requested_at_ms INTEGER;
