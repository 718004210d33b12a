ALTER TABLE key_versions DROP COLUMN last_unwrap_at;
