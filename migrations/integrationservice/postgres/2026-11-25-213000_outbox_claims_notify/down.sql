DROP INDEX outbox_leased;
DROP TRIGGER outbox_jobs_released ON outbox_jobs;
DROP TRIGGER outbox_jobs_enqueued ON outbox_jobs;
DROP FUNCTION outbox_jobs_notify();
ALTER TABLE outbox_jobs DROP COLUMN claims;
