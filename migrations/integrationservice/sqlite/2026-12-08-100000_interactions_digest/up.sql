-- A keyed digest of each attendee's interactions (issue #17): HMAC-SHA-256 under the
-- tenant's `email_hash` key, over the attendee's interaction list, so a sync that finds the
-- same digest knows the interactions are unchanged without reading and decrypting them.
-- NULL on rows written before this (and on a row whose interactions could not be digested):
-- the next sync compares those the long way and fills it in.
ALTER TABLE attendee_metrics ADD COLUMN interactions_digest TEXT;
