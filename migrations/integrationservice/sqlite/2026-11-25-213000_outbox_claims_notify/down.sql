DROP INDEX outbox_leased;
ALTER TABLE outbox_jobs DROP COLUMN claims;
