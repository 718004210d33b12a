//! The operations the product needs, each turned into a transport-free `RequestSpec`
//! (method, path template, concrete path segments, query and form fields).
//!
//! Keeping this step free of I/O lets the contract test check every request the client
//! can build against ON24's OpenAPI document without sending anything.

use reqwest::Method;

use super::forms::{self, EventUpdate, FormFields, NewEvent, RegistrantForm, RegistrantUpdate};

/// Offset pagination as ON24 does it: `pageoffset` is zero-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub offset: u32,
    pub items_per_page: u32,
}

/// Date window for list reads (`startdate`/`enddate`, ON24 accepts ISO-8601 dates).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DateRange {
    pub start: Option<String>,
    pub end: Option<String>,
    /// Which date the window applies to (`datefiltermode`); `None`: ON24's default for the
    /// read (`goodafter` for events, the registration date for registrants, any activity for
    /// attendees).
    pub mode: Option<DateFilterMode>,
}

/// ON24's `datefiltermode` values: the event list's, and `lastActivity` for attendee reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateFilterMode {
    /// When the event is first available to the audience (ON24's default).
    GoodAfter,
    /// When the event was created: finds what a create call made, whatever its start.
    Creation,
    /// When the event's information was last modified.
    Modified,
    /// When the live broadcast starts.
    LiveStart,
    /// The attendee's last activity (attendee reads): an incremental read asks for the
    /// attendees who did something within the window.
    LastActivity,
}

impl DateFilterMode {
    /// The query value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::GoodAfter => "goodafter",
            Self::Creation => "creation",
            Self::Modified => "modified",
            Self::LiveStart => "livestart",
            Self::LastActivity => "lastActivity",
        }
    }
}

/// Every ON24 call this client can make.
#[derive(Debug, Clone)]
pub enum Operation {
    /// `GET /client/{clientId}`: account and sub-accounts.
    GetClient,
    ListEvents {
        page: PageRequest,
        range: DateRange,
    },
    CreateEvent(NewEvent),
    GetEvent {
        event_id: u64,
    },
    UpdateEvent {
        event_id: u64,
        update: EventUpdate,
    },
    DeleteEvent {
        event_id: u64,
    },
    /// Upsert by email within the event; answers with `eventuserid`.
    CreateRegistrant {
        event_id: u64,
        registrant: RegistrantForm,
    },
    UpdateRegistrant {
        event_id: u64,
        update: RegistrantUpdate,
    },
    /// The registration POST with `isDeleted=Y` (refused by ON24 once the event started).
    SoftDeleteRegistrant {
        event_id: u64,
        email: String,
    },
    /// The event's registration fields: standard ones and custom questions.
    ListRegistrationFields {
        event_id: u64,
    },
    /// `GET /client/{clientId}/registrant/{email}`, optionally for one event.
    GetRegistrant {
        email: String,
        event_id: Option<u64>,
    },
    /// Event registrants, optionally only those registered within `range` (ON24's
    /// `startdate`/`enddate` on the registration date); the contract gives this operation no
    /// pagination.
    ListEventRegistrants {
        event_id: u64,
        range: DateRange,
    },
    ListClientRegistrants {
        page: PageRequest,
        range: DateRange,
    },
    /// Client-level forget (GDPR) of up to 100,000 emails, optionally in one event only.
    Forget {
        emails: Vec<String>,
        event_id: Option<u64>,
    },
    /// Event-level `forgetall`: every registrant of the event.
    ForgetAllInEvent {
        event_id: u64,
    },
    /// Event attendee analytics, optionally only attendees active within `range` (with
    /// `DateFilterMode::LastActivity`: whose last activity falls in it); the contract gives
    /// this operation no pagination.
    ListEventAttendees {
        event_id: u64,
        range: DateRange,
    },
    /// Client-level attendee analytics, paginated.
    ListClientAttendees {
        page: PageRequest,
        range: DateRange,
    },
    ListAttendeeSessions {
        event_id: u64,
        page: PageRequest,
    },
}

/// A request ready to be turned into HTTP: path segments are raw (the client
/// percent-encodes them), fields carry the contract's names.
#[derive(Clone)]
pub struct RequestSpec {
    /// Short stable name for logs, metrics and errors (no personal data).
    pub operation: &'static str,
    pub method: Method,
    /// The OpenAPI path template, e.g. `/client/{clientId}/event/{eventId}`.
    pub path_template: &'static str,
    pub segments: Vec<String>,
    pub query: Vec<(&'static str, String)>,
    /// `application/x-www-form-urlencoded` body, when the operation has one.
    pub form: Option<FormFields>,
}

impl std::fmt::Debug for RequestSpec {
    // Path segments and form values can hold emails: show names only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestSpec")
            .field("operation", &self.operation)
            .field("method", &self.method)
            .field("path_template", &self.path_template)
            .field(
                "query",
                &self.query.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
            )
            .field(
                "form",
                &self
                    .form
                    .as_ref()
                    .map(|f| f.iter().map(|(k, _)| *k).collect::<Vec<_>>()),
            )
            .finish()
    }
}

fn page_query(page: &PageRequest, range: &DateRange) -> Vec<(&'static str, String)> {
    let mut q = vec![
        ("pageoffset", page.offset.to_string()),
        ("itemsperpage", page.items_per_page.to_string()),
    ];
    q.extend(date_query(range));
    q
}

/// `startdate`, `enddate` and `datefiltermode`, those that are set.
fn date_query(range: &DateRange) -> Vec<(&'static str, String)> {
    let mut q = Vec::new();
    if let Some(s) = &range.start {
        q.push(("startdate", s.clone()));
    }
    if let Some(e) = &range.end {
        q.push(("enddate", e.clone()));
    }
    if let Some(m) = range.mode {
        q.push(("datefiltermode", m.as_str().to_owned()));
    }
    q
}

impl Operation {
    /// The stable operation name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::GetClient => "get_client",
            Self::ListEvents { .. } => "list_events",
            Self::CreateEvent(_) => "create_event",
            Self::GetEvent { .. } => "get_event",
            Self::UpdateEvent { .. } => "update_event",
            Self::DeleteEvent { .. } => "delete_event",
            Self::CreateRegistrant { .. } => "create_registrant",
            Self::UpdateRegistrant { .. } => "update_registrant",
            Self::SoftDeleteRegistrant { .. } => "soft_delete_registrant",
            Self::ListRegistrationFields { .. } => "list_registration_fields",
            Self::GetRegistrant { .. } => "get_registrant",
            Self::ListEventRegistrants { .. } => "list_event_registrants",
            Self::ListClientRegistrants { .. } => "list_client_registrants",
            Self::Forget { .. } => "forget",
            Self::ForgetAllInEvent { .. } => "forget_all_in_event",
            Self::ListEventAttendees { .. } => "list_event_attendees",
            Self::ListClientAttendees { .. } => "list_client_attendees",
            Self::ListAttendeeSessions { .. } => "list_attendee_sessions",
        }
    }

    /// Whether sending this operation twice has the effect of sending it once, so a
    /// retryable error may be retried blindly. Only event creation is not: ON24 has no
    /// idempotency keys, and a create whose answer was lost (timeout, reset) may already
    /// exist — retrying makes a duplicate webinar. Callers should look the event up (e.g.
    /// by `campaignCode`) before creating again. Registration is an upsert by email, and
    /// a repeated forget or soft delete changes nothing more.
    pub fn is_retry_safe(&self) -> bool {
        !matches!(self, Self::CreateEvent(_))
    }

    /// Builds the transport-free request for `client_id`. Fails (before any I/O) on
    /// values ON24 would refuse; the error names the field, never its value.
    pub fn spec(&self, client_id: u64) -> Result<RequestSpec, String> {
        use Method as M;
        let c = client_id.to_string();
        let ev = |id: &u64| vec![c.clone(), "event".into(), id.to_string()];
        let (method, path_template, segments, query, form): (_, _, Vec<String>, _, _) = match self {
            Self::GetClient => (M::GET, "/client/{clientId}", vec![c.clone()], vec![], None),
            Self::ListEvents { page, range } => (
                M::GET,
                "/client/{clientId}/event",
                vec![c.clone(), "event".into()],
                page_query(page, range),
                None,
            ),
            Self::CreateEvent(new) => (
                M::POST,
                "/client/{clientId}/event",
                vec![c.clone(), "event".into()],
                vec![],
                Some(new.to_form()?),
            ),
            Self::GetEvent { event_id } => (
                M::GET,
                "/client/{clientId}/event/{eventId}",
                ev(event_id),
                vec![],
                None,
            ),
            Self::UpdateEvent { event_id, update } => (
                M::PUT,
                "/client/{clientId}/event/{eventId}",
                ev(event_id),
                vec![],
                Some(update.to_form()?),
            ),
            Self::DeleteEvent { event_id } => (
                M::DELETE,
                "/client/{clientId}/event/{eventId}",
                ev(event_id),
                vec![],
                None,
            ),
            Self::CreateRegistrant {
                event_id,
                registrant,
            } => (
                M::POST,
                "/client/{clientId}/event/{eventId}/registrant",
                [ev(event_id), vec!["registrant".into()]].concat(),
                vec![],
                Some(registrant.to_form()?),
            ),
            Self::UpdateRegistrant { event_id, update } => (
                M::PATCH,
                "/client/{clientId}/event/{eventId}/registrant",
                [ev(event_id), vec!["registrant".into()]].concat(),
                vec![],
                Some(update.to_form()?),
            ),
            Self::SoftDeleteRegistrant { event_id, email } => (
                M::POST,
                "/client/{clientId}/event/{eventId}/registrant",
                [ev(event_id), vec!["registrant".into()]].concat(),
                vec![],
                Some(vec![
                    ("email", forms::checked_email(email)?),
                    ("isDeleted", "Y".into()),
                ]),
            ),
            Self::ListRegistrationFields { event_id } => (
                M::GET,
                "/client/{clientId}/event/{eventId}/regfield",
                [ev(event_id), vec!["regfield".into()]].concat(),
                vec![],
                None,
            ),
            Self::GetRegistrant { email, event_id } => (
                M::GET,
                "/client/{clientId}/registrant/{email}",
                vec![c.clone(), "registrant".into(), forms::checked_email(email)?],
                event_id
                    .iter()
                    .map(|id| ("eventid", id.to_string()))
                    .collect(),
                None,
            ),
            Self::ListEventRegistrants { event_id, range } => (
                M::GET,
                "/client/{clientId}/event/{eventId}/registrant",
                [ev(event_id), vec!["registrant".into()]].concat(),
                date_query(range),
                None,
            ),
            Self::ListClientRegistrants { page, range } => (
                M::GET,
                "/client/{clientId}/registrant",
                vec![c.clone(), "registrant".into()],
                page_query(page, range),
                None,
            ),
            Self::Forget { emails, event_id } => (
                M::POST,
                "/client/{clientId}/forget",
                vec![c.clone(), "forget".into()],
                vec![],
                Some(forms::forget_form(emails, *event_id)?),
            ),
            Self::ForgetAllInEvent { event_id } => (
                M::POST,
                "/client/{clientId}/event/{eventId}/forgetall",
                [ev(event_id), vec!["forgetall".into()]].concat(),
                vec![],
                // The contract declares a form content type but no fields: send an empty form.
                Some(vec![]),
            ),
            Self::ListEventAttendees { event_id, range } => (
                M::GET,
                "/client/{clientId}/event/{eventId}/attendee",
                [ev(event_id), vec!["attendee".into()]].concat(),
                date_query(range),
                None,
            ),
            Self::ListClientAttendees { page, range } => (
                M::GET,
                "/client/{clientId}/attendee",
                vec![c.clone(), "attendee".into()],
                page_query(page, range),
                None,
            ),
            Self::ListAttendeeSessions { event_id, page } => (
                M::GET,
                "/client/{clientId}/event/{eventId}/attendeesession",
                [ev(event_id), vec!["attendeesession".into()]].concat(),
                page_query(page, &DateRange::default()),
                None,
            ),
        };
        Ok(RequestSpec {
            operation: self.name(),
            method,
            path_template,
            segments,
            query,
            form,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_event_creation_is_unsafe_to_retry() {
        let start = chrono::DateTime::parse_from_rfc3339("2026-12-01T17:00:00Z").expect("date");
        assert!(!Operation::CreateEvent(NewEvent::new("t", start, 60)).is_retry_safe());
        assert!(Operation::GetClient.is_retry_safe());
        assert!(
            Operation::CreateRegistrant {
                event_id: 1,
                registrant: RegistrantForm::new("a@example.com"),
            }
            .is_retry_safe()
        );
    }

    #[test]
    fn invalid_values_fail_before_any_request_and_name_no_value() {
        let op = Operation::GetRegistrant {
            email: "not-an-email".into(),
            event_id: None,
        };
        let err = op.spec(1).expect_err("refused");
        assert!(!err.contains("not-an-email"), "{err}");
    }
}
