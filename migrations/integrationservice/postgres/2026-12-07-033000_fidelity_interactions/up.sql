-- What each attendee asked, answered, viewed, clicked and earned in a webinar, item by item,
-- as ON24's attendee report last listed it (personal data: erased by ForgetPerson with the
-- person's metrics). `position` is the item's place in the report's order for that attendee.
CREATE TABLE attendee_interactions (
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
-- Forget erases a person across the tenant's webinars.
CREATE INDEX attendee_interactions_person ON attendee_interactions (tenant, email);
