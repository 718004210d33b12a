DROP INDEX registrations_unhashed;
ALTER TABLE registrations ADD CONSTRAINT registrations_tenant_webinar_id_email_key
    UNIQUE (tenant, webinar_id, email);
