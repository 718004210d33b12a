//! Bulk seeding for benchmarks and large tests: many registrants of one event, each with the
//! same simulated viewing, in one control call. Registering 100,000 people through ON24's own
//! endpoint and booking their viewing one by one would take minutes of HTTP round trips; this
//! builds the same state directly (the same registrant, session and activity records).

use serde::{Deserialize, Serialize};

use super::Store;
use super::viewing::ViewingRequest;
use crate::api::error::{ApiError, ApiResult};
use crate::api::form::FormFields;

/// Most registrants one call may seed (keeps one call's lock on the store bounded).
pub const MAX_SEED: u32 = 1_000_000;

/// Body of `POST /_sim/events/{eventId}/attendees`: registers `count` people
/// `{email_prefix}{n}@{email_domain}` for `n` in `first..first + count` (first name `First{n}`,
/// last name `Seeded`) and books `viewing` to each (its `email` is ignored). An email already
/// registered for the event keeps its registration and gets the viewing added.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SeedAttendees {
    /// How many registrants to create.
    pub count: u32,
    /// Number of the first (emails are numbered from it).
    pub first: u64,
    /// Local part before the number.
    pub email_prefix: String,
    /// Domain of the generated emails.
    pub email_domain: String,
    /// Viewing booked to each registrant.
    pub viewing: ViewingRequest,
}

impl Default for SeedAttendees {
    fn default() -> Self {
        Self {
            count: 0,
            first: 0,
            email_prefix: "attendee".into(),
            email_domain: "example.com".into(),
            viewing: ViewingRequest {
                live_minutes: Some(30.0),
                ..ViewingRequest::default()
            },
        }
    }
}

/// The answer: how many were seeded and the eventuserid range they got.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeedResult {
    /// How many registrants were created.
    pub seeded: u32,
    /// The first one's `eventuserid`.
    pub first_eventuserid: i64,
    /// The last one's `eventuserid`.
    pub last_eventuserid: i64,
}

impl Store {
    /// Seeds `req.count` attendees of an event (see [`SeedAttendees`]).
    pub fn seed_attendees(&mut self, event_id: i64, req: &SeedAttendees) -> ApiResult<SeedResult> {
        if req.count == 0 || req.count > MAX_SEED {
            return Err(ApiError::bad_request(format!(
                "count must be 1 to {MAX_SEED}"
            )));
        }
        if req.email_prefix.contains('@') || req.email_domain.is_empty() {
            return Err(ApiError::bad_request(
                "emailPrefix must not hold '@' and emailDomain must be set",
            ));
        }
        let (client_id, now) = {
            let ev = self
                .events
                .get(&event_id)
                .filter(|e| !e.deleted)
                .ok_or_else(|| ApiError::event_not_found(event_id))?;
            (ev.client_id, chrono::Utc::now())
        };
        let mut out = SeedResult::default();
        for n in req.first..req.first + u64::from(req.count) {
            let email = format!("{}{n}@{}", req.email_prefix, req.email_domain);
            if self.find_registrant(event_id, &email).is_none() {
                let form = FormFields(vec![
                    ("firstName".into(), format!("First{n}")),
                    ("lastName".into(), "Seeded".into()),
                ]);
                self.insert_registrant(client_id, event_id, &email, &form, now)?;
            }
            let viewing = ViewingRequest {
                email,
                ..req.viewing.clone()
            };
            let id = self.add_viewing(event_id, &viewing)?;
            if out.seeded == 0 {
                out.first_eventuserid = id;
            }
            out.last_eventuserid = id;
            out.seeded += 1;
        }
        Ok(out)
    }
}
