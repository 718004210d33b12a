DROP INDEX registrations_tenant_email_hash;
DROP INDEX registrations_email_hash;
ALTER TABLE registrations DROP COLUMN email_hash;
