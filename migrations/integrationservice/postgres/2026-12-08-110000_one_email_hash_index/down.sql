DROP INDEX registrations_email_hash;
CREATE UNIQUE INDEX registrations_email_hash ON registrations (tenant, webinar_id, email_hash);
CREATE INDEX registrations_tenant_email_hash ON registrations (tenant, email_hash);
