DROP INDEX registrations_unhashed;
