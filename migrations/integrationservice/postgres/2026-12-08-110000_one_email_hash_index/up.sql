-- One index on a registration's keyed email hash serves both its uses: uniqueness of a
-- person per webinar, and finding a person across the tenant's webinars (forget and access
-- requests). Every lookup is by equality, so the webinar can come last; the unique key is
-- the same set of columns. Each registration written then updates one index on a long random
-- key, not two (the larger part of what sealing emails cost a batch of registrations).
DROP INDEX registrations_tenant_email_hash;
DROP INDEX registrations_email_hash;
CREATE UNIQUE INDEX registrations_email_hash ON registrations (tenant, email_hash, webinar_id);
