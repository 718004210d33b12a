-- Emails sealed at rest in the per-attendee tables (issue #17). Their key becomes the keyed
-- hash of the email (HMAC-SHA-256 under the tenant's `email_hash` key), the email itself
-- being stored sealed. A key column cannot be NULL, so rows written before this are keyed
-- 'clear:' || email (their email still clear) until the sealing worker hashes and seals
-- them; reads match a person by both keys meanwhile. SQLite cannot change a primary key in
-- place: each table is rebuilt.
CREATE TABLE attendee_metrics_rebuilt (
    tenant TEXT NOT NULL,
    webinar_id TEXT NOT NULL,
    email TEXT NOT NULL,
    eventuserid BIGINT,
    live_minutes BIGINT NOT NULL,
    archive_minutes BIGINT NOT NULL,
    cumulative_live_minutes BIGINT NOT NULL,
    cumulative_archive_minutes BIGINT NOT NULL,
    engagement_score DOUBLE NOT NULL,
    questions_asked BIGINT NOT NULL,
    polls_answered BIGINT NOT NULL,
    surveys_answered BIGINT NOT NULL,
    resources_downloaded BIGINT NOT NULL,
    first_live_activity_at BIGINT,
    last_live_activity_at BIGINT,
    updated_at BIGINT NOT NULL,
    first_archive_activity_at BIGINT,
    last_archive_activity_at BIGINT,
    email_hash TEXT NOT NULL,
    PRIMARY KEY (tenant, webinar_id, email_hash)
);
INSERT INTO attendee_metrics_rebuilt (tenant, webinar_id, email, eventuserid, live_minutes,
    archive_minutes, cumulative_live_minutes, cumulative_archive_minutes, engagement_score,
    questions_asked, polls_answered, surveys_answered, resources_downloaded,
    first_live_activity_at, last_live_activity_at, updated_at, first_archive_activity_at,
    last_archive_activity_at, email_hash)
SELECT tenant, webinar_id, email, eventuserid, live_minutes, archive_minutes,
    cumulative_live_minutes, cumulative_archive_minutes, engagement_score, questions_asked,
    polls_answered, surveys_answered, resources_downloaded, first_live_activity_at,
    last_live_activity_at, updated_at, first_archive_activity_at, last_archive_activity_at,
    'clear:' || email
FROM attendee_metrics;
DROP TABLE attendee_metrics;
ALTER TABLE attendee_metrics_rebuilt RENAME TO attendee_metrics;
-- Forget and access requests find a person across the tenant's webinars.
CREATE INDEX attendee_metrics_person ON attendee_metrics (tenant, email_hash);

CREATE TABLE attendee_interactions_rebuilt (
    tenant TEXT NOT NULL,
    webinar_id TEXT NOT NULL,
    email TEXT NOT NULL,
    position INTEGER NOT NULL,
    kind TEXT NOT NULL,
    occurred_at BIGINT,
    reference TEXT NOT NULL,
    prompt TEXT NOT NULL,
    response TEXT NOT NULL,
    responded_at BIGINT,
    email_hash TEXT NOT NULL,
    PRIMARY KEY (tenant, webinar_id, email_hash, position)
);
INSERT INTO attendee_interactions_rebuilt (tenant, webinar_id, email, position, kind,
    occurred_at, reference, prompt, response, responded_at, email_hash)
SELECT tenant, webinar_id, email, position, kind, occurred_at, reference, prompt, response,
    responded_at, 'clear:' || email
FROM attendee_interactions;
DROP TABLE attendee_interactions;
ALTER TABLE attendee_interactions_rebuilt RENAME TO attendee_interactions;
CREATE INDEX attendee_interactions_person ON attendee_interactions (tenant, email_hash);
