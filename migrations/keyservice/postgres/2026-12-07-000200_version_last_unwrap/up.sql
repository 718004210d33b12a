-- When the version last unwrapped a data key (microseconds since the epoch; NULL: never
-- seen), flushed from each replica every refresh interval. SetMinDecryptionVersion refuses
-- to raise the minimum above a version that unwrapped recently: data keys wrapped under it
-- are still in use somewhere.
ALTER TABLE key_versions ADD COLUMN last_unwrap_at BIGINT;
