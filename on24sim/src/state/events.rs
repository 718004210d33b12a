//! Webinar operations: create from `AddEventForm`, update from `UpdateEventForm`, delete, and
//! the client-scoped look-ups and listing.

use chrono::{DateTime, Utc};

use super::time::parse_live_start;
use super::{Event, Store};
use crate::api::error::{ApiError, ApiResult};
use crate::api::form::FormFields;

const CREATE_FAILED: &str = "Webinar was not created due to errors in the parameters";

/// `liveDuration` rules: 15-minute steps up to 120, then 30-minute steps up to 480.
fn parse_duration(v: &str) -> Result<i64, String> {
    let m: i64 = v
        .trim()
        .parse()
        .map_err(|_| "liveDuration must be a number of minutes".to_string())?;
    let ok = (15..=120).contains(&m) && m % 15 == 0 || (120..=480).contains(&m) && m % 30 == 0;
    if ok {
        Ok(m)
    } else {
        Err("liveDuration must be 15-120 in steps of 15 or up to 480 in steps of 30".into())
    }
}

fn yn(v: Option<&str>, default: bool) -> bool {
    v.map_or(default, |v| {
        v.eq_ignore_ascii_case("y") || v.eq_ignore_ascii_case("true")
    })
}

fn invalid(detail: &str) -> ApiError {
    ApiError::bad_request(format!("{CREATE_FAILED}: {detail}"))
}

/// Applies the fields both create and update accept.
fn apply(ev: &mut Event, f: &FormFields) -> ApiResult<()> {
    if let Some(v) = f.get("liveStart") {
        ev.good_after =
            parse_live_start(v).ok_or_else(|| invalid("liveStart has an unsupported format"))?;
    }
    if let Some(v) = f.get("liveDuration") {
        ev.duration_min = parse_duration(v).map_err(|d| invalid(&d))?;
    }
    if let Some(v) = f.get("title") {
        if v.chars().count() > 250 {
            return Err(invalid("title must be shorter than 251 characters"));
        }
        ev.title = v.to_string();
    }
    let text = |name: &str, slot: &mut String| {
        if let Some(v) = f.get(name) {
            *slot = v.to_string();
        }
    };
    text("promotionalSummary", &mut ev.promotional_summary);
    text("eventType", &mut ev.event_type);
    text("languageCd", &mut ev.language_cd);
    text("countryCd", &mut ev.country_cd);
    text("timeZone", &mut ev.time_zone);
    text("campaignCode", &mut ev.campaign_code);
    text("venue", &mut ev.venue);
    text("address", &mut ev.address);
    ev.archive_available = yn(f.get("archiveAvailable"), ev.archive_available);
    ev.registration_enabled = yn(f.get("enableRegistration"), ev.registration_enabled);
    let tags = f.all("tagCampaign");
    if !tags.is_empty() {
        if tags.len() > 10 {
            return Err(invalid("at most 10 tagCampaign values"));
        }
        ev.tags = tags;
    }
    Ok(())
}

/// Which date of an event `startDate`/`endDate` filter on (`dateFilterMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateFilterMode {
    /// When the audience may join.
    GoodAfter,
    /// When the event was created.
    Creation,
    /// When the event was last changed.
    Modified,
    /// When the console opens (15 minutes before the audience may join).
    LiveStart,
    /// When the live broadcast ends.
    LiveEnd,
    /// When on-demand viewing opens.
    ArchiveStart,
    /// When on-demand viewing closes.
    ArchiveEnd,
}

impl DateFilterMode {
    /// ON24's values, not case-sensitive; `updated` uses the modification time here because
    /// the simulator has no separate audience-activity clock.
    pub fn parse(v: Option<&str>) -> Option<Self> {
        Some(match v.map(str::to_ascii_lowercase).as_deref() {
            None | Some("goodafter") => Self::GoodAfter,
            Some("creation") => Self::Creation,
            Some("modified" | "updated") => Self::Modified,
            Some("livestart") => Self::LiveStart,
            Some("liveend") => Self::LiveEnd,
            Some("archivestart") => Self::ArchiveStart,
            Some("archiveend") => Self::ArchiveEnd,
            Some(_) => return None,
        })
    }

    /// The date of `e` this mode filters on.
    pub fn of(self, e: &Event) -> DateTime<Utc> {
        match self {
            Self::GoodAfter => e.good_after,
            Self::Creation => e.created,
            Self::Modified => e.modified,
            Self::LiveStart => e.live_start(),
            Self::LiveEnd => e.live_end(),
            Self::ArchiveStart => e.archive_start(),
            Self::ArchiveEnd => e.archive_end(),
        }
    }
}

impl Store {
    /// `POST /client/{clientId}/event`. `liveStart` and `liveDuration` are required.
    pub fn create_event(
        &mut self,
        client_id: i64,
        f: &FormFields,
        now: DateTime<Utc>,
    ) -> ApiResult<Event> {
        if f.get("liveStart").is_none_or(str::is_empty) {
            return Err(invalid("liveStart is required"));
        }
        if f.get("liveDuration").is_none_or(str::is_empty) {
            return Err(invalid("liveDuration is required"));
        }
        let id = self.new_event_id();
        let mut ev = Event {
            id,
            client_id,
            title: "Event created from API".into(),
            event_abstract: f.get("eventAbstract").unwrap_or_default().to_string(),
            promotional_summary: String::new(),
            event_type: "webcam".into(),
            language_cd: "en".into(),
            country_cd: String::new(),
            time_zone: "America/Los_Angeles".into(),
            campaign_code: String::new(),
            tags: Vec::new(),
            hybrid: yn(f.get("hybrid"), false),
            venue: String::new(),
            address: String::new(),
            test_event: yn(f.get("testevent"), false),
            archive_available: true,
            registration_enabled: true,
            good_after: now,
            duration_min: 60,
            created: now,
            modified: now,
            deleted: false,
            audience_key: format!(
                "{:032X}",
                (id as u128).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835)
            ),
            registration_fields: super::regfields::default_fields(),
        };
        apply(&mut ev, f)?;
        self.events.insert(id, ev.clone());
        Ok(ev)
    }

    /// A live (not deleted) event of this client, or ON24's 404.
    pub fn event(&self, client_id: i64, event_id: i64) -> ApiResult<&Event> {
        self.events
            .get(&event_id)
            .filter(|e| e.client_id == client_id && !e.deleted)
            .ok_or_else(|| ApiError::event_not_found(event_id))
    }

    /// `PUT /client/{clientId}/event/{eventId}`.
    pub fn update_event(
        &mut self,
        client_id: i64,
        event_id: i64,
        f: &FormFields,
        now: DateTime<Utc>,
    ) -> ApiResult<Event> {
        self.event(client_id, event_id)?;
        let ev = self
            .events
            .get_mut(&event_id)
            .ok_or_else(|| ApiError::event_not_found(event_id))?;
        let mut next = ev.clone();
        apply(&mut next, f)?;
        next.modified = now;
        *ev = next.clone();
        Ok(next)
    }

    /// `DELETE /client/{clientId}/event/{eventId}`: 410 the second time.
    pub fn delete_event(&mut self, client_id: i64, event_id: i64) -> ApiResult<()> {
        let ev = self
            .events
            .get_mut(&event_id)
            .filter(|e| e.client_id == client_id)
            .ok_or_else(|| ApiError::new(404, "Event not found for this client or its children"))?;
        if ev.deleted {
            return Err(ApiError::new(410, "Event has already been deleted"));
        }
        ev.deleted = true;
        Ok(())
    }

    /// A client's events whose `goodafter` falls in `[from, to]`, ascending or descending.
    pub fn list_events(
        &self,
        client_id: i64,
        mode: DateFilterMode,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        descending: bool,
    ) -> Vec<&Event> {
        let mut v: Vec<&Event> = self
            .events
            .values()
            .filter(|e| e.client_id == client_id && !e.deleted)
            .filter(|e| {
                let t = mode.of(e);
                from.is_none_or(|f| t >= f) && to.is_none_or(|to| t <= to)
            })
            .collect();
        v.sort_by_key(|e| (mode.of(e), e.id));
        if descending {
            v.reverse();
        }
        v
    }
}
