-- Which key service key wraps a tenant key (issue #17): '' for the deployment's credentials
-- key (keys made before per-tenant KEKs), else the tenant's own KEK id (`tenant-…`, see
-- docs/keyservice-crypto.md). The rewrap pass moves only the credentials key's ones.
ALTER TABLE tenant_keys ADD COLUMN kek TEXT NOT NULL DEFAULT '';
