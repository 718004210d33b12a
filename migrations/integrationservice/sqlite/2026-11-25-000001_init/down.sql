DROP TABLE changes;
DROP TABLE attendee_metrics;
DROP TABLE outbox_jobs;
DROP TABLE registrations;
DROP TABLE webinars;
DROP TABLE provider_configs;
