-- Back to keys on the email column (sealed values are unique, so the keys still hold; the
-- sealed emails stay sealed).
DROP INDEX attendee_interactions_person;
CREATE INDEX attendee_interactions_person ON attendee_interactions (tenant, email);
ALTER TABLE attendee_interactions DROP CONSTRAINT attendee_interactions_pkey;
ALTER TABLE attendee_interactions ADD PRIMARY KEY (tenant, webinar_id, email, position);
ALTER TABLE attendee_interactions DROP COLUMN email_hash;

DROP INDEX attendee_metrics_person;
ALTER TABLE attendee_metrics DROP CONSTRAINT attendee_metrics_pkey;
ALTER TABLE attendee_metrics ADD PRIMARY KEY (tenant, webinar_id, email);
ALTER TABLE attendee_metrics DROP COLUMN email_hash;
