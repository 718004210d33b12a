-- How many times a worker leased the job. More than one lease means an earlier run may have
-- reached the provider without its result being recorded (lease expired, paused mid-call,
-- replica crashed), so work that is not idempotent at ON24 (creating a webinar) looks for
-- what that run may have left before doing it again.
ALTER TABLE outbox_jobs ADD COLUMN claims INTEGER NOT NULL DEFAULT 0;

-- Wakes the workers of every replica when jobs are enqueued: the notification is sent when
-- the enqueuing transaction commits (and only then), once per transaction however many rows
-- it inserted (PostgreSQL folds identical notifications). Workers LISTEN on `outbox_jobs` and
-- still poll as a fallback.
CREATE FUNCTION outbox_jobs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('outbox_jobs', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER outbox_jobs_enqueued AFTER INSERT ON outbox_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_jobs_notify();

-- Held jobs released (credentials put back) are new work for every replica too.
CREATE TRIGGER outbox_jobs_released AFTER UPDATE OF state ON outbox_jobs
    FOR EACH ROW WHEN (OLD.state = 'PAUSED' AND NEW.state = 'READY')
    EXECUTE FUNCTION outbox_jobs_notify();

-- The claim counts each tenant's unexpired leases to hold its limit across replicas.
CREATE INDEX outbox_leased ON outbox_jobs (tenant, lease_until) WHERE state = 'RUNNING';
