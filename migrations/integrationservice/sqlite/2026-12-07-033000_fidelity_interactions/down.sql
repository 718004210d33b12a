DROP TABLE attendee_interactions;
