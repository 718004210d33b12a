-- Emails sealed at rest in the per-attendee tables (issue #17). Their key becomes the keyed
-- hash of the email (HMAC-SHA-256 under the tenant's `email_hash` key), the email itself
-- being stored sealed. A key column cannot be NULL, so rows written before this are keyed
-- 'clear:' || email (their email still clear) until the sealing worker hashes and seals
-- them; reads match a person by both keys meanwhile.
ALTER TABLE attendee_metrics ADD COLUMN email_hash TEXT;
UPDATE attendee_metrics SET email_hash = 'clear:' || email;
ALTER TABLE attendee_metrics ALTER COLUMN email_hash SET NOT NULL;
ALTER TABLE attendee_metrics DROP CONSTRAINT attendee_metrics_pkey;
ALTER TABLE attendee_metrics ADD PRIMARY KEY (tenant, webinar_id, email_hash);
-- Forget and access requests find a person across the tenant's webinars.
CREATE INDEX attendee_metrics_person ON attendee_metrics (tenant, email_hash);

ALTER TABLE attendee_interactions ADD COLUMN email_hash TEXT;
UPDATE attendee_interactions SET email_hash = 'clear:' || email;
ALTER TABLE attendee_interactions ALTER COLUMN email_hash SET NOT NULL;
ALTER TABLE attendee_interactions DROP CONSTRAINT attendee_interactions_pkey;
ALTER TABLE attendee_interactions ADD PRIMARY KEY (tenant, webinar_id, email_hash, position);
DROP INDEX attendee_interactions_person;
CREATE INDEX attendee_interactions_person ON attendee_interactions (tenant, email_hash);
