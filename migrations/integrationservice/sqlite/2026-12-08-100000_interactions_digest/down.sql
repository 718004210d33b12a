ALTER TABLE attendee_metrics DROP COLUMN interactions_digest;
