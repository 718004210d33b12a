DROP INDEX registrations_email_hash;
CREATE UNIQUE INDEX registrations_email_hash ON registrations (tenant, email_hash, webinar_id);
