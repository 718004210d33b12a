-- Tenant-leading primary keys for the three tables that were keyed by a bare serial number, so
-- that a tenant-distributed PostgreSQL (Citus, distributed by `tenant`, which requires the
-- distribution column in every unique constraint) can hold them as it holds the other tenant
-- tables. `id` and `seq` keep their sequences, so they stay unique across tenants, and every
-- query that addresses one row now names its tenant too (see store/outbox.rs, store/changes.rs).
-- Rebuilding a primary key locks the table while its index builds: on a large `changes` table
-- run this migration in a quiet window.
ALTER TABLE outbox_jobs DROP CONSTRAINT outbox_jobs_pkey;
ALTER TABLE outbox_jobs ADD PRIMARY KEY (tenant, id);

-- The feed is read per tenant after a cursor: the new key is exactly the old
-- `changes_tenant (tenant, seq)` index, which is dropped as redundant.
ALTER TABLE changes DROP CONSTRAINT changes_pkey;
ALTER TABLE changes ADD PRIMARY KEY (tenant, seq);
DROP INDEX changes_tenant;

ALTER TABLE changes_pending DROP CONSTRAINT changes_pending_pkey;
ALTER TABLE changes_pending ADD PRIMARY KEY (tenant, id);
