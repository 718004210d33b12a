ALTER TABLE tenant_keys DROP COLUMN kek;
