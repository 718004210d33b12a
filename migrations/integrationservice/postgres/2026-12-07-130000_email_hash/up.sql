-- Emails sealed at rest (issue #17): a registration's email is stored sealed under the
-- tenant's personal-data key, beside its keyed hash (HMAC-SHA-256 under the tenant's
-- `email_hash` key, the suppression list's), which lookups and uniqueness use. NULL on rows
-- written before this (their email still clear until the sealing worker seals it; reads
-- match those by the clear email) and on forgotten ones. The old unique constraint on the
-- email stays: sealed values never repeat, and it still guards the clear rows.
ALTER TABLE registrations ADD COLUMN email_hash TEXT;
CREATE UNIQUE INDEX registrations_email_hash ON registrations (tenant, webinar_id, email_hash);
CREATE INDEX registrations_tenant_email_hash ON registrations (tenant, email_hash);
