DROP INDEX outbox_registration;
