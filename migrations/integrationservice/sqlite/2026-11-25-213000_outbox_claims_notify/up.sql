-- How many times a worker leased the job (see the PostgreSQL migration of the same name).
-- SQLite has one consumer per database and wakes it in-process, so no trigger here.
ALTER TABLE outbox_jobs ADD COLUMN claims INTEGER NOT NULL DEFAULT 0;
CREATE INDEX outbox_leased ON outbox_jobs (tenant, lease_until) WHERE state = 'RUNNING';
