//! The ON24 implementation of `WebinarProvider`, on the ON24 REST client (the `on24_client` crate).
//! One pooled HTTP client per API root is reused for every tenant (`with_credentials`), and
//! ON24's error classes become the provider's: quota 403 slows the tenant down, 401/403
//! stop it, 5xx/timeouts retry, the rest are permanent.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use futures::FutureExt;
use futures::future::BoxFuture;
use secrecy::ExposeSecret;

use super::{
    ActivityWindow, AttendeeActivity, AttendeeInteraction, AttendeeReport, CredentialProblem,
    EventDetails, EventInfo, EventSpec, InteractionKind, PastEvent, ProviderCredentials,
    ProviderError, ProviderRegistrant, RegistrantSpec, RegistrationQuestion, WebinarProvider,
};
use crate::registrant_fields::{RegistrantField, RegistrantFields};
use on24_client::{
    BaseUrl, DateFilterMode, DateRange, EgressPolicy, EventUpdate, NewEvent, On24Client,
    On24ClientConfig, On24Credentials, On24Error, PermanentKind, Region, RegistrantForm,
    RegistrantUpdate,
};

/// ON24 behind the provider seam.
#[derive(Debug, Default)]
pub struct On24Provider {
    /// One client (one connection pool) per origin; origins are the operator's ON24 hosts
    /// (plus loopback ports under the development flag), and the map is capped anyway.
    clients: Mutex<HashMap<String, On24Client>>,
    request_timeout: Option<Duration>,
    egress: EgressPolicy,
}

/// The most clients kept; past it the map starts again (only loopback ports under the
/// development flag can make more origins than the operator's host list).
const MAX_CLIENTS: usize = 16;

impl On24Provider {
    /// A provider with the client's default timeouts.
    pub fn new() -> Self {
        Self::default()
    }

    /// A provider whose calls give up after `timeout` (tests use short ones).
    pub fn with_request_timeout(timeout: Duration) -> Self {
        Self {
            request_timeout: Some(timeout),
            ..Self::default()
        }
    }

    /// The same provider under the operator's egress rule (the default allows only
    /// `api.on24.com` and `api.eu.on24.com`, no loopback).
    pub fn with_egress(mut self, egress: EgressPolicy) -> Self {
        self.egress = egress;
        self
    }

    /// How many HTTP clients (connection pools) are kept (for tests).
    pub fn client_count(&self) -> usize {
        self.clients.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// The client for these credentials, sharing the pool of their API host.
    fn client(&self, c: &ProviderCredentials) -> Result<On24Client, ProviderError> {
        let root = match &c.base_url {
            Some(url) => {
                self.egress
                    .check_base_url(url)
                    .map_err(|rule| ProviderError::Permanent {
                        message: format!("ON24 base URL {rule}"),
                    })?
            }
            None => BaseUrl::for_region(match c.region.as_str() {
                "EU" => Region::Europe,
                _ => Region::NorthAmerica,
            }),
        };
        let credentials = On24Credentials::new(
            c.client_id,
            c.token_key.expose_secret(),
            c.token_secret.expose_secret(),
        );
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        let origin = origin(&root);
        if let Some(base) = clients.get(&origin) {
            return base
                .with_base_url(root)
                .and_then(|c| c.with_credentials(credentials))
                .map_err(map_error);
        }
        let mut config = On24ClientConfig::with_base_url(root.clone());
        config.egress = self.egress.clone();
        if let Some(t) = self.request_timeout {
            config.request_timeout = t;
            config.connect_timeout = t;
        }
        let client = On24Client::new(config, credentials).map_err(map_error)?;
        if clients.len() >= MAX_CLIENTS {
            clients.clear();
        }
        clients.insert(origin, client.clone());
        Ok(client)
    }
}

/// `scheme://host:port` of an API root: what a connection pool is for.
fn origin(root: &BaseUrl) -> String {
    let s = root.as_str();
    let after_scheme = s.find("://").map(|i| i + 3).unwrap_or(0);
    let end = s[after_scheme..]
        .find('/')
        .map(|i| after_scheme + i)
        .unwrap_or(s.len());
    s[..end].to_ascii_lowercase()
}

/// ON24's error classes as the provider seam's.
pub(crate) fn map_error(e: On24Error) -> ProviderError {
    let message = e.to_string();
    if e.is_quota() {
        return ProviderError::Quota { message };
    }
    if e.is_retryable() {
        return ProviderError::Retryable {
            class: e.class(),
            message,
        };
    }
    let problem = match e.permanent_kind() {
        Some(PermanentKind::InvalidCredentials) => Some(CredentialProblem::NotAuthenticated),
        Some(PermanentKind::DeactivatedToken) => Some(CredentialProblem::TokenExpired),
        Some(PermanentKind::Inactive) => Some(CredentialProblem::Forbidden),
        _ => None,
    };
    match problem {
        Some(problem) => ProviderError::Credentials { problem, message },
        None => ProviderError::Permanent { message },
    }
}

fn start_time(ms: i64) -> DateTime<FixedOffset> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or_default()
        .fixed_offset()
}

/// ON24 writes times as RFC 3339 or as `yyyy-MM-dd HH:mm:ss` (Pacific by default).
fn parse_time(raw: Option<&str>) -> Option<i64> {
    let raw = raw?.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some(t.timestamp_millis());
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S%.f%z"] {
        if let Ok(t) = DateTime::parse_from_str(raw, fmt) {
            return Some(t.timestamp_millis());
        }
    }
    None
}

fn to_i64(v: Option<u64>) -> i64 {
    v.map(|v| i64::try_from(v).unwrap_or(i64::MAX)).unwrap_or(0)
}

fn registrant_form(r: &RegistrantSpec) -> RegistrantForm {
    let f = &r.fields;
    let mut form = RegistrantForm::new(r.email.clone());
    form.first_name = Some(r.first_name.clone());
    form.last_name = Some(r.last_name.clone());
    form.company = r.company.clone();
    form.job_title = r.job_title.clone();
    form.ext_event_user_cd = r.crm_reference_id.clone();
    form.job_function = f.job_function.clone();
    form.company_industry = f.company_industry.clone();
    form.company_size = f.company_size.clone();
    form.address_street1 = f.address_street1.clone();
    form.address_street2 = f.address_street2.clone();
    form.notes = f.notes.clone();
    form.city = f.city.clone();
    form.state = f.state.clone();
    form.zip = f.zip.clone();
    form.country = f.country.clone();
    form.work_phone = f.work_phone.clone();
    form.partner_ref = f.partner_ref.clone();
    // ON24 keeps the answers to an event's custom questions in its custom fields: an answer
    // travels under its question's id (`std1` to `std10`) unless `standard_fields` gave
    // that field (the API refuses both at once).
    let custom: Vec<Option<String>> = RegistrantField::ALL
        .iter()
        .filter(|field| field.is_standard())
        .map(|&field| f.standard_or_answer(field))
        .collect();
    for (slot, value) in form.std.iter_mut().zip(custom) {
        *slot = value;
    }
    form
}

/// ON24's registration fields as the webinar's custom questions: those a registrant form
/// can answer (its custom fields `std1` to `std10`); the standard fields (`firstname`,
/// `company`, ...) travel by name and are left out.
fn custom_questions(fields: Vec<on24_client::RegistrationField>) -> Vec<RegistrationQuestion> {
    fields
        .into_iter()
        .filter_map(|f| {
            let id = f.fieldid?.trim().to_ascii_lowercase();
            RegistrantField::standard(&id)?;
            Some(RegistrationQuestion {
                caption: f.fieldcaption.unwrap_or_default().trim().to_owned(),
                field_type: f.fieldtype.unwrap_or_default().trim().to_owned(),
                required: f.required.unwrap_or(false),
                options: f.options,
                validation: f
                    .validationtype
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase(),
                id,
            })
        })
        .collect()
}

/// The registration-date window of an incremental registrant read: from the day before
/// `since_ms` (ON24 filters by whole days, possibly in the account's time zone, and shows new
/// registrants only after about 15 minutes) to the day after now. None reads every registrant.
fn registration_window(since_ms: Option<i64>, now: DateTime<Utc>) -> DateRange {
    let Some(since) = since_ms.and_then(|ms| Utc.timestamp_millis_opt(ms).single()) else {
        return DateRange::default();
    };
    let start = since.min(now) - chrono::Duration::days(1);
    let end = now + chrono::Duration::days(1);
    DateRange {
        start: Some(start.format("%Y-%m-%d").to_string()),
        end: Some(end.format("%Y-%m-%d").to_string()),
        mode: None,
    }
}

/// ON24's attendee date filter for an activity window: exact times (ON24 reads a time with its
/// offset to the second; a bare date would widen the window to whole days, so consecutive
/// windows would read the same attendees again), on the attendee's last activity.
fn activity_range(window: Option<ActivityWindow>) -> DateRange {
    let Some(w) = window else {
        return DateRange::default();
    };
    let at = |ms: i64| {
        Utc.timestamp_millis_opt(ms)
            .single()
            .map(|t| t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string())
    };
    DateRange {
        start: at(w.from_ms),
        end: at(w.until_ms),
        mode: Some(DateFilterMode::LastActivity),
    }
}

/// One of ON24's registrants as the provider's; None without a usable email (ON24's
/// anonymous registrants).
fn provider_registrant(r: on24_client::Registrant) -> Option<ProviderRegistrant> {
    let email = r.email.as_deref()?.trim().to_lowercase();
    if !email.contains('@') || email.ends_with(".invalid") {
        return None;
    }
    let text = |v: Option<String>| v.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let fields = RegistrantFields {
        job_function: text(r.jobfunction),
        company_industry: text(r.companyindustry),
        company_size: text(r.companysize),
        address_street1: text(r.addressstreet1),
        address_street2: text(r.addressstreet2),
        city: text(r.city),
        state: text(r.state),
        zip: text(r.zip),
        country: text(r.country),
        work_phone: text(r.workphone),
        partner_ref: text(r.partnerref),
        notes: text(r.notes),
        std1: text(r.std1),
        std2: text(r.std2),
        std3: text(r.std3),
        std4: text(r.std4),
        std5: text(r.std5),
        std6: text(r.std6),
        std7: text(r.std7),
        std8: text(r.std8),
        std9: text(r.std9),
        std10: text(r.std10),
        // ON24's custom fields carry the custom questions' answers: the import files those
        // of the webinar's questions as answers (`RegistrantFields::file_answers`).
        answers: Default::default(),
        choices: Default::default(),
    };
    Some(ProviderRegistrant {
        email,
        eventuserid: r.eventuserid.map(|v| to_i64(Some(v))),
        first_name: text(r.firstname).unwrap_or_default(),
        last_name: text(r.lastname).unwrap_or_default(),
        company: text(r.company),
        job_title: text(r.jobtitle),
        crm_reference_id: text(r.exteventusercd),
        fields,
    })
}

/// ON24 accepts at most six months between `startdate` and `enddate`.
const MAX_WINDOW_DAYS: i64 = 180;

/// The event-creation window to search for webinars created since `since_ms`: whole days, a
/// day wider on each side because ON24 may read the dates in the account's time zone, and
/// never more than ON24's six months (a job older than that searches its last six months).
fn creation_window(since_ms: i64, now: DateTime<Utc>) -> DateRange {
    let end = now + chrono::Duration::days(1);
    let since = Utc
        .timestamp_millis_opt(since_ms)
        .single()
        .unwrap_or(now)
        .min(now)
        - chrono::Duration::days(1);
    let start = since.max(end - chrono::Duration::days(MAX_WINDOW_DAYS));
    DateRange {
        start: Some(start.format("%Y-%m-%d").to_string()),
        end: Some(end.format("%Y-%m-%d").to_string()),
        mode: Some(DateFilterMode::Creation),
    }
}

/// The event-list windows (ON24's default filter, on when the audience may join) covering
/// `from_ms..=until_ms`: whole days, a day wider on each side because ON24 may read the dates
/// in the account's time zone, each within ON24's six months. Callers filter exactly.
fn start_windows(from_ms: i64, until_ms: i64) -> Vec<DateRange> {
    let day = |ms: i64| Utc.timestamp_millis_opt(ms).single().unwrap_or_default();
    let (mut start, end) = (
        day(from_ms) - chrono::Duration::days(1),
        day(until_ms) + chrono::Duration::days(1),
    );
    let mut out = Vec::new();
    while start < end {
        let stop = (start + chrono::Duration::days(MAX_WINDOW_DAYS - 1)).min(end);
        out.push(DateRange {
            start: Some(start.format("%Y-%m-%d").to_string()),
            end: Some(stop.format("%Y-%m-%d").to_string()),
            mode: None,
        });
        start = stop + chrono::Duration::days(1);
    }
    out
}

/// An event of ON24's list as a past event; None without an id or a start.
fn past_event(e: on24_client::Event) -> Option<PastEvent> {
    let event_id = to_i64(Some(e.eventid?));
    let start_ms = parse_time(e.goodafter.as_deref().or(e.livestart.as_deref()))?;
    let live_end_ms = parse_time(e.liveend.as_deref());
    let duration_minutes = e
        .scheduledeventduration
        .and_then(|m| i32::try_from(m).ok())
        .or_else(|| live_end_ms.and_then(|end| i32::try_from((end - start_ms) / 60_000).ok()))
        .unwrap_or(0);
    let text = |v: Option<String>| v.map(|v| v.trim().to_owned()).unwrap_or_default();
    Some(PastEvent {
        title: text(e.description.or(e.eventname)),
        start_ms,
        duration_minutes,
        time_zone: text(e.displaytimezonecd),
        language: text(e.localelanguagecd),
        event_type: text(e.eventtype),
        info: EventInfo {
            event_id,
            audience_url: e.audienceurl,
            report_url: e.reporturl,
            preview_url: e.previewurl,
            live_end_ms,
            live_start_ms: Some(start_ms),
            details: None,
        },
    })
}

fn event_id(id: i64) -> Result<u64, ProviderError> {
    u64::try_from(id).map_err(|_| ProviderError::Permanent {
        message: "invalid ON24 event id".into(),
    })
}

impl WebinarProvider for On24Provider {
    fn name(&self) -> &'static str {
        "on24"
    }

    fn check_credentials<'a>(
        &'a self,
        c: &'a ProviderCredentials,
    ) -> BoxFuture<'a, Result<(), ProviderError>> {
        async move { self.client(c)?.check_credentials().await.map_err(map_error) }.boxed()
    }

    fn create_event<'a>(
        &'a self,
        c: &'a ProviderCredentials,
        spec: &'a EventSpec,
    ) -> BoxFuture<'a, Result<EventInfo, ProviderError>> {
        async move {
            let mut ev = NewEvent::new(
                spec.title.clone(),
                start_time(spec.start_at_ms),
                spec.duration_minutes,
            );
            ev.time_zone = spec.time_zone.clone();
            ev.language_cd = spec.language.clone();
            if !spec.event_type.is_empty() {
                ev.event_type = Some(spec.event_type.clone());
            }
            if !spec.description.is_empty() {
                ev.event_abstract = Some(spec.description.clone());
            }
            if !spec.marker.is_empty() {
                ev.campaign_code = Some(spec.marker.clone());
            }
            let created = self.client(c)?.create_event(&ev).await.map_err(map_error)?;
            Ok(EventInfo {
                event_id: to_i64(created.event_id),
                audience_url: created.audience_url,
                report_url: created.reports_url,
                preview_url: created.preview_url,
                live_end_ms: parse_time(created.live_end.as_deref()),
                live_start_ms: None,
                details: None,
            })
        }
        .boxed()
    }

    fn find_event<'a>(
        &'a self,
        c: &'a ProviderCredentials,
        spec: &'a EventSpec,
        created_after_ms: i64,
    ) -> BoxFuture<'a, Result<Option<EventInfo>, ProviderError>> {
        async move {
            if spec.marker.is_empty() {
                return Ok(None);
            }
            let events = self
                .client(c)?
                .list_events(creation_window(created_after_ms, Utc::now()))
                .await
                .map_err(map_error)?;
            // The campaign code is ours (see `EventSpec::marker`); should two ever carry it,
            // the first created is the one kept.
            Ok(events
                .into_iter()
                .filter(|e| e.campaigncode.as_deref() == Some(spec.marker.as_str()))
                .filter_map(|e| Some((e.eventid?, e)))
                .min_by_key(|(id, _)| *id)
                .map(|(id, e)| EventInfo {
                    event_id: to_i64(Some(id)),
                    audience_url: e.audienceurl,
                    report_url: e.reporturl,
                    preview_url: e.previewurl,
                    live_end_ms: parse_time(e.liveend.as_deref()),
                    live_start_ms: parse_time(e.goodafter.as_deref().or(e.livestart.as_deref())),
                    details: None,
                }))
        }
        .boxed()
    }

    fn get_event<'a>(
        &'a self,
        c: &'a ProviderCredentials,
        id: i64,
    ) -> BoxFuture<'a, Result<EventInfo, ProviderError>> {
        async move {
            let ev = self
                .client(c)?
                .get_event(event_id(id)?)
                .await
                .map_err(map_error)?;
            let text = |v: Option<String>| v.map(|v| v.trim().to_owned()).unwrap_or_default();
            Ok(EventInfo {
                event_id: ev.eventid.map(|v| to_i64(Some(v))).unwrap_or(id),
                audience_url: ev.audienceurl,
                report_url: ev.reporturl,
                preview_url: ev.previewurl,
                live_end_ms: parse_time(ev.liveend.as_deref()),
                // `goodafter` is the scheduled start (ON24's `livestart` opens the
                // presenters' pre-show a little earlier), as the backfill reads it too.
                live_start_ms: parse_time(ev.goodafter.as_deref().or(ev.livestart.as_deref())),
                // ON24's event read names the title `description` (its `eventname` is
                // the abstract in the contract's example), as the backfill reads it too.
                details: Some(Box::new(EventDetails {
                    title: text(ev.description.or(ev.eventname)),
                    time_zone: text(ev.displaytimezonecd),
                    language: text(ev.localelanguagecd),
                })),
            })
        }
        .boxed()
    }

    fn registration_questions<'a>(
        &'a self,
        c: &'a ProviderCredentials,
        id: i64,
    ) -> BoxFuture<'a, Result<Vec<RegistrationQuestion>, ProviderError>> {
        async move {
            let fields = self
                .client(c)?
                .list_registration_fields(event_id(id)?)
                .await
                .map_err(map_error)?;
            Ok(custom_questions(fields))
        }
        .boxed()
    }

    fn update_event<'a>(
        &'a self,
        c: &'a ProviderCredentials,
        id: i64,
        spec: &'a EventSpec,
    ) -> BoxFuture<'a, Result<(), ProviderError>> {
        async move {
            let update = EventUpdate {
                title: Some(spec.title.clone()),
                live_start: Some(start_time(spec.start_at_ms)),
                live_duration_minutes: Some(spec.duration_minutes),
                time_zone: Some(spec.time_zone.clone()),
                // Linked events may carry no language of ours: leave ON24's as it is.
                language_cd: (!spec.language.is_empty()).then(|| spec.language.clone()),
                ..EventUpdate::default()
            };
            self.client(c)?
                .update_event(event_id(id)?, &update)
                .await
                .map_err(map_error)?;
            Ok(())
        }
        .boxed()
    }

    fn delete_event<'a>(
        &'a self,
        c: &'a ProviderCredentials,
        id: i64,
    ) -> BoxFuture<'a, Result<(), ProviderError>> {
        async move {
            self.client(c)?
                .delete_event(event_id(id)?)
                .await
                .map_err(map_error)?;
            Ok(())
        }
        .boxed()
    }

    fn past_events<'a>(
        &'a self,
        c: &'a ProviderCredentials,
        from_ms: i64,
        until_ms: i64,
    ) -> BoxFuture<'a, Result<Vec<PastEvent>, ProviderError>> {
        async move {
            let client = self.client(c)?;
            let mut found = std::collections::BTreeMap::new();
            for range in start_windows(from_ms, until_ms) {
                for e in client.list_events(range).await.map_err(map_error)? {
                    if let Some(past) = past_event(e).filter(|p| {
                        p.start_ms >= from_ms
                            && p.info.live_end_ms.is_some_and(|end| end <= until_ms)
                    }) {
                        found.insert(past.info.event_id, past);
                    }
                }
            }
            Ok(found.into_values().collect())
        }
        .boxed()
    }

    fn register<'a>(
        &'a self,
        c: &'a ProviderCredentials,
        id: i64,
        r: &'a RegistrantSpec,
    ) -> BoxFuture<'a, Result<i64, ProviderError>> {
        async move {
            let created = self
                .client(c)?
                .create_registrant(event_id(id)?, &registrant_form(r))
                .await
                .map_err(map_error)?;
            Ok(to_i64(created.eventuserid))
        }
        .boxed()
    }

    fn update_registrant<'a>(
        &'a self,
        c: &'a ProviderCredentials,
        id: i64,
        r: &'a RegistrantSpec,
    ) -> BoxFuture<'a, Result<(), ProviderError>> {
        async move {
            let update = RegistrantUpdate {
                registrant: registrant_form(r),
                is_blocked: None,
            };
            self.client(c)?
                .update_registrant(event_id(id)?, &update)
                .await
                .map_err(map_error)?;
            Ok(())
        }
        .boxed()
    }

    fn cancel_registrant<'a>(
        &'a self,
        c: &'a ProviderCredentials,
        id: i64,
        email: &'a str,
    ) -> BoxFuture<'a, Result<(), ProviderError>> {
        async move {
            self.client(c)?
                .soft_delete_registrant(event_id(id)?, email)
                .await
                .map_err(map_error)
        }
        .boxed()
    }

    fn forget<'a>(
        &'a self,
        c: &'a ProviderCredentials,
        emails: &'a [String],
    ) -> BoxFuture<'a, Result<(), ProviderError>> {
        async move {
            match self.client(c)?.forget(emails, None).await {
                // "No registrant found": none of them is at ON24 (never delivered, or
                // forgotten already), which is what a forget asks for.
                Err(e) if e.permanent_kind() == Some(PermanentKind::NotFound) => Ok(()),
                other => other.map(|_| ()).map_err(map_error),
            }
        }
        .boxed()
    }

    fn registrant_chunks<'a>(
        &'a self,
        c: &'a ProviderCredentials,
        id: i64,
        since_ms: Option<i64>,
        chunk: usize,
        tx: tokio::sync::mpsc::Sender<Vec<ProviderRegistrant>>,
    ) -> BoxFuture<'a, Result<(), ProviderError>> {
        async move {
            // Streamed: a 100,000-registrant event's list is one body of tens of megabytes;
            // each registrant is reduced as it is read and handed over in chunks.
            let chunks = Chunker::new(chunk, tx);
            let each = chunks.clone();
            self.client(c)?
                .each_event_registrant(
                    event_id(id)?,
                    registration_window(since_ms, Utc::now()),
                    move |r| {
                        // Soft-deleted (cancelled) registrations are not people to bring in.
                        let deleted = r
                            .userstatus
                            .as_deref()
                            .is_some_and(|s| s.eq_ignore_ascii_case("deleted"));
                        if !deleted && let Some(r) = provider_registrant(r) {
                            each.push(r);
                        }
                        None::<()>
                    },
                )
                .await
                .map_err(map_error)?;
            chunks.finish().await;
            Ok(())
        }
        .boxed()
    }

    fn attendee_chunks<'a>(
        &'a self,
        c: &'a ProviderCredentials,
        id: i64,
        window: Option<ActivityWindow>,
        chunk: usize,
        tx: tokio::sync::mpsc::Sender<Vec<AttendeeReport>>,
    ) -> BoxFuture<'a, Result<(), ProviderError>> {
        async move {
            // Streamed: each attendee becomes a compact report as the body is read, so a
            // 100,000-attendee event never sits in memory as ON24's JSON.
            let chunks = Chunker::new(chunk, tx);
            let each = chunks.clone();
            self.client(c)?
                .each_event_attendee(event_id(id)?, activity_range(window), move |a| {
                    if let Some(report) = attendee_report(a) {
                        each.push(report);
                    }
                    None::<()>
                })
                .await
                .map_err(map_error)?;
            chunks.finish().await;
            Ok(())
        }
        .boxed()
    }
}

/// Hands the items of a streamed read to a channel in chunks. The parser calls back on a
/// blocking thread for each item; a full chunk is sent from there (waiting while the channel
/// is full, which slows the read of the body: memory stays bounded by the channel), the rest
/// after the end ([`Chunker::finish`]). A closed receiver means the caller stopped and drops
/// the read; items are then discarded.
struct Chunker<T> {
    pending: std::sync::Arc<Mutex<Vec<T>>>,
    chunk: usize,
    tx: tokio::sync::mpsc::Sender<Vec<T>>,
}

impl<T> Clone for Chunker<T> {
    fn clone(&self) -> Self {
        Self {
            pending: self.pending.clone(),
            chunk: self.chunk,
            tx: self.tx.clone(),
        }
    }
}

impl<T> Chunker<T> {
    fn new(chunk: usize, tx: tokio::sync::mpsc::Sender<Vec<T>>) -> Self {
        let chunk = chunk.max(1);
        Self {
            pending: std::sync::Arc::new(Mutex::new(Vec::with_capacity(chunk))),
            chunk,
            tx,
        }
    }

    /// Adds one item; sends the chunk when it is full. On the parser's blocking thread.
    fn push(&self, item: T) {
        let full = {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            pending.push(item);
            (pending.len() >= self.chunk).then(|| std::mem::take(&mut *pending))
        };
        if let Some(full) = full {
            let _ = self.tx.blocking_send(full);
        }
    }

    /// Sends what is left after the read ended.
    async fn finish(self) {
        let rest = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        if !rest.is_empty() {
            let _ = self.tx.send(rest).await;
        }
    }
}

/// The attendee's interactions, item by item, in the report's order (questions, polls,
/// surveys, resources, calls to action, certifications).
fn interactions(a: &on24_client::Attendee) -> Vec<AttendeeInteraction> {
    let text = |v: &Option<String>| v.as_deref().unwrap_or_default().trim().to_owned();
    let item = |kind, at: &Option<String>, reference: &Option<String>, prompt: &Option<String>| {
        AttendeeInteraction {
            kind,
            occurred_at: parse_time(at.as_deref()),
            reference: text(reference),
            prompt: text(prompt),
            response: String::new(),
            responded_at: None,
        }
    };
    let mut out = Vec::new();
    for q in &a.questions {
        let answer = q.answer.as_ref();
        out.push(AttendeeInteraction {
            response: answer
                .and_then(|a| a.content.as_deref())
                .unwrap_or_default()
                .trim()
                .to_owned(),
            responded_at: parse_time(answer.and_then(|a| a.createtimestamp.as_deref())),
            ..item(
                InteractionKind::Question,
                &q.createtimestamp,
                &q.questionid,
                &q.content,
            )
        });
    }
    for p in &a.polls {
        out.push(AttendeeInteraction {
            response: p.pollanswers.join("; "),
            ..item(
                InteractionKind::Poll,
                &p.pollsubmittedtimestamp,
                &p.pollid,
                &p.pollquestion,
            )
        });
    }
    for s in &a.surveys {
        for q in &s.surveyquestions {
            out.push(AttendeeInteraction {
                response: q.surveyanswers.join("; "),
                ..item(
                    InteractionKind::Survey,
                    &s.surveysubmittedtimestamp,
                    &q.surveyquestionid,
                    &q.surveyquestion,
                )
            });
        }
    }
    for r in &a.resources {
        out.push(item(
            InteractionKind::Resource,
            &r.resourceviewedtimestamp,
            &r.resourceid,
            &r.resourceviewed,
        ));
    }
    for c in &a.calltoactions {
        out.push(AttendeeInteraction {
            response: text(&c.action),
            ..item(InteractionKind::CallToAction, &c.date, &c.ctaid, &c.ctaname)
        });
    }
    for c in &a.certifications {
        out.push(AttendeeInteraction {
            response: text(&c.certificationresult),
            ..item(
                InteractionKind::Certification,
                &c.certificationtimestamp,
                &c.certificationid,
                &c.certificationname,
            )
        });
    }
    out
}

/// One attendee of ON24's report as the provider's compact report; None without an email.
fn attendee_report(a: on24_client::Attendee) -> Option<AttendeeReport> {
    let email = a.email.as_deref()?.trim().to_lowercase();
    let interactions = interactions(&a);
    Some(AttendeeReport {
        interactions,
        email,
        eventuserid: a.eventuserid.map(|v| to_i64(Some(v))),
        activity: AttendeeActivity {
            live_minutes: to_i64(a.liveminutes),
            archive_minutes: to_i64(a.archiveminutes),
            cumulative_live_minutes: to_i64(a.cumulativeliveminutes),
            cumulative_archive_minutes: to_i64(a.cumulativearchiveminutes),
            engagement_score: a.engagementscore.unwrap_or(0.0),
            questions_asked: to_i64(a.askedquestions),
            polls_answered: to_i64(a.answeredpolls),
            surveys_answered: to_i64(a.answeredsurveys),
            resources_downloaded: to_i64(a.resourcesdownloaded),
            first_live_activity_at: parse_time(a.firstliveactivity.as_deref()),
            last_live_activity_at: parse_time(a.lastliveactivity.as_deref()),
            first_archive_activity_at: parse_time(a.firstarchiveactivity.as_deref()),
            last_archive_activity_at: parse_time(a.lastarchiveactivity.as_deref()),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_accepted_field_and_the_crm_id_are_in_the_form() {
        let spec = RegistrantSpec {
            email: "a@example.com".into(),
            first_name: "A".into(),
            last_name: "B".into(),
            company: Some("C".into()),
            job_title: Some("D".into()),
            crm_reference_id: Some("crm-1".into()),
            fields: RegistrantFields::from_json(
                &serde_json::Value::Object(
                    RegistrantField::ALL
                        .iter()
                        .map(|f| (f.name().to_owned(), format!("v-{}", f.name()).into()))
                        .collect(),
                )
                .to_string(),
            ),
        };
        let form = registrant_form(&spec).to_form().expect("form");
        for k in RegistrantField::ALL.iter().map(|f| f.name()) {
            let value = format!("v-{k}");
            assert!(form.iter().any(|(_, v)| *v == value), "{k} is not sent");
        }
        assert!(form.contains(&("extEventUserCd", "crm-1".to_owned())));
    }

    #[test]
    fn answers_travel_in_their_custom_field_and_only_custom_questions_are_read() {
        let mut fields = RegistrantFields::default();
        fields.set_answer("std3", "Partner").expect("answer");
        fields.set(RegistrantField::Std4, "given").expect("std4");
        fields.set_answer("std4", "ignored").expect("answer");
        let spec = RegistrantSpec {
            email: "a@example.com".into(),
            first_name: "A".into(),
            last_name: "B".into(),
            company: None,
            job_title: None,
            crm_reference_id: None,
            fields,
        };
        let form = registrant_form(&spec).to_form().expect("form");
        assert!(form.contains(&("std3", "Partner".to_owned())));
        assert!(form.contains(&("std4", "given".to_owned())));
        assert!(!form.iter().any(|(_, v)| v == "ignored"));

        let field = |id: &str, required: bool, options: &[&str]| on24_client::RegistrationField {
            fieldid: Some(id.into()),
            fieldcaption: Some(format!("Q {id}")),
            fieldtype: Some("listbox".into()),
            validationtype: Some("none".into()),
            required: Some(required),
            options: options.iter().map(|o| (*o).to_owned()).collect(),
        };
        let questions = custom_questions(vec![
            field("firstname", true, &[]),
            field("job_title", true, &["CEO"]),
            field("STD2", true, &["a", "b"]),
            field("std10", false, &[]),
            field("custom_q", false, &[]),
        ]);
        let ids: Vec<&str> = questions.iter().map(|q| q.id.as_str()).collect();
        assert_eq!(ids, ["std2", "std10"]);
        assert!(questions[0].required && questions[0].options == ["a", "b"]);
    }

    #[test]
    fn live_times_need_both_ends() {
        let info = |start: Option<i64>, end: Option<i64>| EventInfo {
            live_start_ms: start,
            live_end_ms: end,
            ..EventInfo::default()
        };
        assert_eq!(
            info(Some(60_000), Some(3_660_000)).live_times(),
            Some((60_000, 60))
        );
        assert_eq!(info(None, Some(3_660_000)).live_times(), None);
        assert_eq!(info(Some(60_000), None).live_times(), None);
        assert_eq!(info(Some(60_000), Some(60_000)).live_times(), None);
    }

    #[test]
    fn registration_window_is_padded_by_a_day_and_open_without_a_start() {
        let now = DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
            .expect("date")
            .with_timezone(&Utc);
        assert_eq!(registration_window(None, now), DateRange::default());
        let w = registration_window(Some(now.timestamp_millis() - 3_600_000), now);
        assert_eq!(w.start.as_deref(), Some("2026-11-24"));
        assert_eq!(w.end.as_deref(), Some("2026-11-26"));
        assert_eq!(w.mode, None);
    }

    #[test]
    fn activity_window_is_exact_on_the_last_activity() {
        assert_eq!(activity_range(None), DateRange::default());
        let from = DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
            .expect("date")
            .timestamp_millis();
        let w = activity_range(Some(ActivityWindow {
            from_ms: from,
            until_ms: from + 86_400_000 + 1_500,
        }));
        assert_eq!(w.start.as_deref(), Some("2026-11-25T10:00:00+00:00"));
        assert_eq!(w.end.as_deref(), Some("2026-11-26T10:00:01+00:00"));
        assert_eq!(w.mode, Some(DateFilterMode::LastActivity));
    }

    #[test]
    fn start_windows_cover_the_range_in_six_month_steps() {
        let at = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .expect("date")
                .timestamp_millis()
        };
        let w = start_windows(at("2026-11-20T10:00:00Z"), at("2026-11-25T10:00:00Z"));
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].start.as_deref(), Some("2026-11-19"));
        assert_eq!(w[0].end.as_deref(), Some("2026-11-26"));
        let w = start_windows(at("2025-11-25T10:00:00Z"), at("2026-11-25T10:00:00Z"));
        assert_eq!(w.len(), 3);
        assert_eq!(w[0].start.as_deref(), Some("2025-11-24"));
        assert_eq!(w[1].start.as_deref(), Some("2026-05-23"));
        assert_eq!(w[2].end.as_deref(), Some("2026-11-26"));
    }

    #[test]
    fn creation_window_is_padded_and_within_six_months() {
        let now = DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
            .expect("date")
            .with_timezone(&Utc);
        let hour_ago = now.timestamp_millis() - 3_600_000;
        let w = creation_window(hour_ago, now);
        assert_eq!(w.start.as_deref(), Some("2026-11-24"));
        assert_eq!(w.end.as_deref(), Some("2026-11-26"));
        assert_eq!(w.mode, Some(DateFilterMode::Creation));
        let year_ago = now.timestamp_millis() - 365 * 86_400_000;
        let w = creation_window(year_ago, now);
        assert_eq!(w.start.as_deref(), Some("2026-05-30"));
    }
}
