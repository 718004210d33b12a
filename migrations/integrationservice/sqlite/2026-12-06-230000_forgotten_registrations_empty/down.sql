CREATE TABLE registrations_rebuilt (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    webinar_id TEXT NOT NULL,
    email TEXT NOT NULL,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    company TEXT,
    job_title TEXT,
    crm_reference_id TEXT,
    extra TEXT NOT NULL,
    status TEXT NOT NULL,
    eventuserid BIGINT,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    next_attempt_at BIGINT,
    request_id TEXT,
    delivered_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, id),
    UNIQUE (tenant, webinar_id, email)
);
INSERT INTO registrations_rebuilt (tenant, id, webinar_id, email, first_name, last_name, company,
    job_title, crm_reference_id, extra, status, eventuserid, attempts, last_error,
    next_attempt_at, request_id, delivered_at, created_at, updated_at)
SELECT tenant, id, webinar_id, COALESCE(email, 'forgotten:' || id), first_name, last_name,
    company, job_title, crm_reference_id, extra, status, eventuserid, attempts, last_error,
    next_attempt_at, request_id, delivered_at, created_at, updated_at
FROM registrations;
DROP TABLE registrations;
ALTER TABLE registrations_rebuilt RENAME TO registrations;
CREATE INDEX registrations_list ON registrations (tenant, webinar_id, id);
CREATE UNIQUE INDEX registrations_request ON registrations (tenant, webinar_id, request_id) WHERE request_id IS NOT NULL;
