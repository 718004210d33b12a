-- The keyed hash of the forgotten person's email (HMAC under the tenant's email-hash key, as
-- in suppressions), never the email: it finds the requests that concern a person for
-- ExportPersonData and checks the address given to RetryErasureRequest.
ALTER TABLE erasure_requests ADD COLUMN email_hash TEXT;
CREATE INDEX erasure_requests_email_hash ON erasure_requests (tenant, email_hash);
