DROP TABLE suppressions;
DROP TABLE tenant_keys;
