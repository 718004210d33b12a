DROP INDEX erasure_requests_email_hash;
ALTER TABLE erasure_requests DROP COLUMN email_hash;
