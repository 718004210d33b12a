//! Registrant operations: REST Registration (upsert by email within an event, soft delete with
//! `isDeleted`), PATCH updates at event and client level, and the look-ups behind the
//! registrant listings. Forget lives in `forget`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::{Registrant, Store, UserStatus};
use crate::api::error::{ApiError, ApiResult};
use crate::api::form::FormFields;

/// Registration fields, by ON24's lower-case response name. The request name is the same
/// word in camelCase (`firstName`, `addressStreet1`), which a case-insensitive match covers.
pub const REG_FIELDS: &[&str] = &[
    "firstname",
    "lastname",
    "company",
    "jobtitle",
    "addressstreet1",
    "addressstreet2",
    "city",
    "state",
    "zip",
    "country",
    "homephone",
    "workphone",
    "fax",
    "jobfunction",
    "companyindustry",
    "companysize",
    "partnerref",
    "std1",
    "std2",
    "std3",
    "std4",
    "std5",
    "std6",
    "std7",
    "std8",
    "std9",
    "std10",
    "username",
    "exteventusercd",
    "other",
    "notes",
    "marketingemail",
    "eventemail",
    "emailformat",
];

pub(crate) const NOT_FOUND_EMAIL: &str = "No registrant was found for that email address";

fn apply_fields(fields: &mut BTreeMap<String, Option<String>>, f: &FormFields) {
    for name in REG_FIELDS {
        if let Some(v) = f.get(name) {
            fields.insert((*name).to_string(), Some(v.to_string()));
        }
    }
}

/// The `email` form field, required unless `honorrequired=N`.
fn email_of(f: &FormFields, honor_required: bool) -> ApiResult<Option<String>> {
    match f.get("email") {
        None if honor_required => Err(ApiError::bad_request("The email parameter is missing.")),
        None => Ok(None),
        Some(v) if v.trim().is_empty() => {
            Err(ApiError::bad_request("The email parameter value is blank."))
        }
        Some(v) if !v.contains('@') => Err(ApiError::bad_request(
            "The email parameter value is not valid.",
        )),
        Some(v) => Ok(Some(v.trim().to_string())),
    }
}

fn yes_no(v: &str, param: &str) -> ApiResult<bool> {
    match v.to_ascii_uppercase().as_str() {
        "Y" => Ok(true),
        "N" => Ok(false),
        _ => Err(ApiError::bad_request(format!(
            "Invalid value for the {param} parameter."
        ))),
    }
}

impl Store {
    pub(crate) fn key(event_id: i64, email: &str) -> (i64, String) {
        (event_id, email.to_ascii_lowercase())
    }

    /// The registration of `email` for an event, if any.
    pub fn find_registrant(&self, event_id: i64, email: &str) -> Option<&Registrant> {
        self.by_email
            .get(&Self::key(event_id, email))
            .and_then(|id| self.registrants.get(id))
    }

    /// `POST .../event/{eventId}/registrant`: create or update by email; `isDeleted=Y|N` soft
    /// deletes or restores, refused once the event has started.
    pub fn register(
        &mut self,
        client_id: i64,
        event_id: i64,
        f: &FormFields,
        honor_required: bool,
        now: DateTime<Utc>,
    ) -> ApiResult<Registrant> {
        let started = self.event(client_id, event_id)?.has_started(now);
        let Some(email) = email_of(f, honor_required)? else {
            // honorrequired=N without an email: ON24 registers an anonymous user.
            let anon = format!("anonymous-{}@on24.invalid", self.next_user + 1);
            return self.insert_registrant(client_id, event_id, &anon, f, now);
        };
        let existing = self.by_email.get(&Self::key(event_id, &email)).copied();
        if let Some(flag) = f.get("isDeleted") {
            let delete = yes_no(flag, "isDeleted")?;
            let Some(id) = existing else {
                return Err(ApiError::new(
                    412,
                    "You're trying to soft delete the registrant you're creating.",
                ));
            };
            if started {
                return Err(ApiError::bad_request(
                    "Deleting/Undeleting a registrant is not allowed after the event has started.",
                ));
            }
            let r = self
                .registrants
                .get_mut(&id)
                .ok_or_else(|| ApiError::new(404, NOT_FOUND_EMAIL))?;
            apply_fields(&mut r.fields, f);
            r.status = if delete {
                UserStatus::Deleted
            } else {
                UserStatus::Active
            };
            r.last_activity = now;
            return Ok(r.clone());
        }
        match existing {
            Some(id) => {
                let r = self
                    .registrants
                    .get_mut(&id)
                    .ok_or_else(|| ApiError::new(404, NOT_FOUND_EMAIL))?;
                apply_fields(&mut r.fields, f);
                // Registering again restores a soft-deleted registration.
                r.status = UserStatus::Active;
                r.last_activity = now;
                Ok(r.clone())
            }
            None => self.insert_registrant(client_id, event_id, &email, f, now),
        }
    }

    pub(super) fn insert_registrant(
        &mut self,
        client_id: i64,
        event_id: i64,
        email: &str,
        f: &FormFields,
        now: DateTime<Utc>,
    ) -> ApiResult<Registrant> {
        let id = self.new_user_id();
        let mut fields = BTreeMap::new();
        apply_fields(&mut fields, f);
        fields
            .entry("eventemail".into())
            .or_insert(Some("Y".into()));
        fields
            .entry("marketingemail".into())
            .or_insert(Some("N".into()));
        fields
            .entry("emailformat".into())
            .or_insert(Some("html".into()));
        let r = Registrant {
            eventuserid: id,
            event_id,
            client_id,
            email: email.to_string(),
            fields,
            status: UserStatus::Active,
            blocked: false,
            created: now,
            last_activity: now,
        };
        self.by_email.insert(Self::key(event_id, email), id);
        self.by_event.entry(event_id).or_default().push(id);
        self.registrants.insert(id, r.clone());
        Ok(r)
    }

    /// `PATCH .../event/{eventId}/registrant`: only the fields sent change; keyed by `email`.
    pub fn patch_registrant(
        &mut self,
        client_id: i64,
        event_id: i64,
        f: &FormFields,
        now: DateTime<Utc>,
    ) -> ApiResult<Registrant> {
        self.event(client_id, event_id)?;
        let email = email_of(f, true)?.unwrap_or_default();
        let blocked = f
            .get("isBlocked")
            .map(|v| yes_no(v, "inBlocked"))
            .transpose()?;
        let id = self
            .by_email
            .get(&Self::key(event_id, &email))
            .copied()
            .ok_or_else(|| ApiError::new(403, "The email provided was not found."))?;
        let r = self
            .registrants
            .get_mut(&id)
            .ok_or_else(|| ApiError::new(403, "The email provided was not found."))?;
        apply_fields(&mut r.fields, f);
        if let Some(b) = blocked {
            r.blocked = b;
        }
        r.last_activity = now;
        Ok(r.clone())
    }

    /// `PATCH /client/{clientId}/registrant/{email}`: every registration of that email in the
    /// client; a new `email` field renames them unless it collides within an event.
    pub fn patch_client_registrant(
        &mut self,
        client_id: i64,
        email: &str,
        f: &FormFields,
        now: DateTime<Utc>,
    ) -> ApiResult<Vec<i64>> {
        let ids = self.ids_for_email(client_id, email, None);
        if ids.is_empty() {
            return Err(ApiError::new(404, NOT_FOUND_EMAIL));
        }
        let new_email = f
            .get("email")
            .map(str::trim)
            .filter(|e| !e.is_empty() && !e.eq_ignore_ascii_case(email));
        if let Some(ne) = new_email {
            for id in &ids {
                let ev = self.registrants[id].event_id;
                if self.by_email.contains_key(&Self::key(ev, ne)) {
                    return Err(ApiError::bad_request(
                        "New email address matches other registant's email address",
                    ));
                }
            }
        }
        for id in &ids {
            let Some(r) = self.registrants.get_mut(id) else {
                continue;
            };
            apply_fields(&mut r.fields, f);
            r.last_activity = now;
            if let Some(ne) = new_email {
                let old = Self::key(r.event_id, &r.email);
                r.email = ne.to_string();
                let (ev, rid) = (r.event_id, r.eventuserid);
                self.by_email.remove(&old);
                self.by_email.insert(Self::key(ev, ne), rid);
            }
        }
        Ok(ids)
    }

    /// Registrations of an email in a client (optionally one event), forgotten ones excluded.
    pub fn ids_for_email(&self, client_id: i64, email: &str, event_id: Option<i64>) -> Vec<i64> {
        self.registrants
            .values()
            .filter(|r| r.client_id == client_id && r.status != UserStatus::Forgotten)
            .filter(|r| {
                r.email.eq_ignore_ascii_case(email) && event_id.is_none_or(|e| r.event_id == e)
            })
            .map(|r| r.eventuserid)
            .collect()
    }

    /// Registrations matching ON24's `userstatus` filter: absent = active only; `any` = all;
    /// `all` (deprecated) = active and soft-deleted; `deleted`/`forgotten` = only those.
    /// `event` limits the walk to one event's registrations (via the index).
    pub fn registrants_where<'a>(
        &'a self,
        event: Option<i64>,
        pred: impl Fn(&Registrant) -> bool + 'a,
        userstatus: Option<&str>,
    ) -> impl Iterator<Item = &'a Registrant> + 'a {
        let filter = userstatus.map(str::to_ascii_lowercase);
        let all: Box<dyn Iterator<Item = &'a Registrant> + 'a> = match event {
            Some(e) => Box::new(
                self.by_event
                    .get(&e)
                    .into_iter()
                    .flatten()
                    .filter_map(|id| self.registrants.get(id)),
            ),
            None => Box::new(self.registrants.values()),
        };
        all.filter(move |r| {
            let status_ok = match filter.as_deref() {
                None | Some("") | Some("active") => r.status == UserStatus::Active,
                Some("any") => true,
                Some("all") => r.status != UserStatus::Forgotten,
                Some("deleted") => r.status == UserStatus::Deleted,
                Some("forgotten") => r.status == UserStatus::Forgotten,
                Some(_) => r.status == UserStatus::Active,
            };
            status_ok && pred(r)
        })
    }
}
