-- Back to keys on the email column (sealed values are unique, so the keys still hold; the
-- sealed emails stay sealed).
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
    PRIMARY KEY (tenant, webinar_id, email)
);
INSERT INTO attendee_metrics_rebuilt SELECT tenant, webinar_id, email, eventuserid,
    live_minutes, archive_minutes, cumulative_live_minutes, cumulative_archive_minutes,
    engagement_score, questions_asked, polls_answered, surveys_answered, resources_downloaded,
    first_live_activity_at, last_live_activity_at, updated_at, first_archive_activity_at,
    last_archive_activity_at
FROM attendee_metrics;
DROP TABLE attendee_metrics;
ALTER TABLE attendee_metrics_rebuilt RENAME TO attendee_metrics;

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
    PRIMARY KEY (tenant, webinar_id, email, position)
);
INSERT INTO attendee_interactions_rebuilt SELECT tenant, webinar_id, email, position, kind,
    occurred_at, reference, prompt, response, responded_at
FROM attendee_interactions;
DROP TABLE attendee_interactions;
ALTER TABLE attendee_interactions_rebuilt RENAME TO attendee_interactions;
CREATE INDEX attendee_interactions_person ON attendee_interactions (tenant, email);
