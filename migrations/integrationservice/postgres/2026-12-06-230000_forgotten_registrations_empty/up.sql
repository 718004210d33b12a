-- A forgotten registration keeps no email: NULL, which the unique key (tenant, webinar_id,
-- email) treats as distinct, so any number of FORGOTTEN rows share a webinar while live
-- registrations stay unique by address. Its ON24 link (eventuserid, delivery time) goes too.
ALTER TABLE registrations ALTER COLUMN email DROP NOT NULL;
UPDATE registrations
   SET email = NULL, eventuserid = NULL, delivered_at = NULL, next_attempt_at = NULL
 WHERE status = 'FORGOTTEN';
-- A forget job that ON24 refused for good keeps no address.
UPDATE outbox_jobs SET payload = NULL WHERE kind = 'forget' AND state = 'FAILED';
