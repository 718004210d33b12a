-- Before a registration's delivery runs, the worker checks that no older job of the same
-- registration is still pending (workers/execute.rs, older_job_pending). Without this index
-- that check walks all of the tenant's jobs, finished ones included, for every delivery.
CREATE INDEX outbox_registration ON outbox_jobs (tenant, registration_id, id)
    WHERE registration_id IS NOT NULL;
