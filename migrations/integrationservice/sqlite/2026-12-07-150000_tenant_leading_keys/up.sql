-- Nothing to change on SQLite: PostgreSQL's keys of `outbox_jobs`, `changes` and
-- `changes_pending` now lead with `tenant` (for a tenant-distributed PostgreSQL), but SQLite
-- assigns an autoincrement number only to a single-column `INTEGER PRIMARY KEY` (the rowid),
-- and an SQLite database is never distributed. Its keys stay `id` / `seq`, still unique across
-- tenants; the queries name the tenant as on PostgreSQL, and `changes_tenant (tenant, seq)`
-- and `outbox_tenant (tenant, state)` serve the per-tenant reads.
SELECT 1;
