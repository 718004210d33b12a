//! Forget (GDPR): client-level `forget` by email and event-level `forgetall`, with the field
//! rewrites ON24's contract lists (email `{eventuserid}-deleted`, names `deleted`, opt-ins `N`,
//! every other registration field NULL).

use chrono::{DateTime, Utc};

use super::registrants::{NOT_FOUND_EMAIL, REG_FIELDS};
use super::{Store, UserStatus};
use crate::api::error::{ApiError, ApiResult};

/// Fields a forget keeps with a value (everything else becomes NULL).
const FORGET_VALUES: &[(&str, &str)] = &[
    ("firstname", "deleted"),
    ("lastname", "deleted"),
    ("eventemail", "N"),
    ("marketingemail", "N"),
];

/// ON24's limit on users forgotten by one request.
const FORGET_LIMIT: usize = 100_000;

impl Store {
    /// Applies ON24's forget rewrites to registrations.
    fn forget_ids(&mut self, ids: &[i64], now: DateTime<Utc>) {
        for id in ids {
            let Some(r) = self.registrants.get_mut(id) else {
                continue;
            };
            let old = Self::key(r.event_id, &r.email);
            r.email = format!("{}-deleted", r.eventuserid);
            for name in REG_FIELDS {
                r.fields.insert((*name).to_string(), None);
            }
            for (name, v) in FORGET_VALUES {
                r.fields.insert((*name).to_string(), Some((*v).to_string()));
            }
            r.status = UserStatus::Forgotten;
            r.last_activity = now;
            let new = Self::key(r.event_id, &r.email);
            let rid = r.eventuserid;
            self.by_email.remove(&old);
            self.by_email.insert(new, rid);
        }
    }

    /// `POST /client/{clientId}/forget`: `email` is one address or a comma-separated list.
    pub fn forget(
        &mut self,
        client_id: i64,
        emails: &str,
        event_id: Option<i64>,
        now: DateTime<Utc>,
    ) -> ApiResult<Vec<i64>> {
        let list: Vec<&str> = emails
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .collect();
        if list.len() > FORGET_LIMIT {
            return Err(ApiError::bad_request(
                "You have exceeded the maximum number of user to be deleted (100,000)",
            ));
        }
        let mut ids: Vec<i64> = list
            .iter()
            .flat_map(|e| self.ids_for_email(client_id, e, event_id))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            return Err(ApiError::new(404, NOT_FOUND_EMAIL));
        }
        self.forget_ids(&ids, now);
        Ok(ids)
    }

    /// `POST .../event/{eventId}/forgetall`: every registration of the event.
    pub fn forget_all(
        &mut self,
        client_id: i64,
        event_id: i64,
        now: DateTime<Utc>,
    ) -> ApiResult<Vec<i64>> {
        self.event(client_id, event_id)?;
        let ids: Vec<i64> = self
            .registrants_where(Some(event_id), |_| true, Some("all"))
            .map(|r| r.eventuserid)
            .collect();
        if ids.len() > FORGET_LIMIT {
            return Err(ApiError::bad_request(
                "You have exceeded the maximum number of user to be deleted (100,000)",
            ));
        }
        self.forget_ids(&ids, now);
        Ok(ids)
    }
}
