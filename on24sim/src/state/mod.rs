//! The simulator's in-memory world: webinars, registrants and simulated viewing, with ids handed
//! out the way ON24 does (numeric, increasing). Operations live in the submodules; rendering to
//! ON24's JSON lives in `api`.

pub mod events;
pub mod forget;
pub mod persist;
pub mod regfields;
pub mod registrants;
pub mod seed;
pub mod time;
pub mod viewing;

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A webinar.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Event {
    /// ON24's event id.
    pub id: i64,
    /// The client that owns it.
    pub client_id: i64,
    /// Title (`eventName`).
    pub title: String,
    /// Description (`eventAbstract`).
    pub event_abstract: String,
    /// Short promotional text.
    pub promotional_summary: String,
    /// ON24's event type code.
    pub event_type: String,
    /// Language code (`languageCd`).
    pub language_cd: String,
    /// Country code.
    pub country_cd: String,
    /// Time zone name.
    pub time_zone: String,
    /// Campaign code, where a caller puts its own marker.
    pub campaign_code: String,
    /// Free tags.
    pub tags: Vec<String>,
    /// Whether it is a hybrid (venue) event.
    pub hybrid: bool,
    /// Venue name.
    pub venue: String,
    /// Venue address.
    pub address: String,
    /// A test event (not shown to the public).
    pub test_event: bool,
    /// Whether on-demand viewing is offered.
    pub archive_available: bool,
    /// Whether registration is open.
    pub registration_enabled: bool,
    /// When the audience may join: the `liveStart` the caller gave.
    pub good_after: DateTime<Utc>,
    /// Scheduled length in minutes (`liveDuration`).
    pub duration_min: i64,
    /// When it was created.
    pub created: DateTime<Utc>,
    /// When it was last changed.
    pub modified: DateTime<Utc>,
    /// Soft-deleted: gone from lists and reads.
    pub deleted: bool,
    /// Stands in for ON24's audience key in URLs.
    pub audience_key: String,
    /// The registration page's fields (`GET /event/{eventId}/regfield`).
    #[serde(default = "regfields::default_fields")]
    pub registration_fields: Vec<regfields::RegField>,
}

impl Event {
    /// ON24 opens the console 15 minutes before the audience may join.
    pub fn live_start(&self) -> DateTime<Utc> {
        self.good_after - chrono::Duration::minutes(15)
    }

    /// When the live broadcast ends.
    pub fn live_end(&self) -> DateTime<Utc> {
        self.good_after + chrono::Duration::minutes(self.duration_min)
    }

    /// When on-demand viewing opens (30 minutes after the live end).
    pub fn archive_start(&self) -> DateTime<Utc> {
        self.live_end() + chrono::Duration::minutes(30)
    }

    /// When on-demand viewing closes (a year later).
    pub fn archive_end(&self) -> DateTime<Utc> {
        self.archive_start() + chrono::Duration::days(365)
    }

    /// Soft deletes are refused from this moment on.
    pub fn has_started(&self, now: DateTime<Utc>) -> bool {
        now >= self.good_after
    }
}

/// ON24's three registrant states (`userstatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UserStatus {
    /// Registered.
    Active,
    /// Soft-deleted by the client.
    Deleted,
    /// Erased (GDPR): fields are NULL.
    Forgotten,
}

impl UserStatus {
    /// ON24's spelling in answers.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Deleted => "deleted",
            Self::Forgotten => "forgotten",
        }
    }
}

/// One registration of one email for one event.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Registrant {
    /// ON24's registrant id.
    pub eventuserid: i64,
    /// The event registered to.
    pub event_id: i64,
    /// The client that owns the event.
    pub client_id: i64,
    /// The email, as registered.
    pub email: String,
    /// Registration fields by ON24's lower-case response name (`firstname`, `std1`, ...);
    /// `None` is a field ON24 has set to NULL (after a forget).
    pub fields: BTreeMap<String, Option<String>>,
    /// `userstatus`.
    pub status: UserStatus,
    /// Whether ON24 blocks the registrant from joining.
    pub blocked: bool,
    /// When they registered.
    pub created: DateTime<Utc>,
    /// Their last registration change or viewing.
    pub last_activity: DateTime<Utc>,
}

/// Whether a session was watched live or on demand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Usage {
    /// Watched during the broadcast.
    Live,
    /// Watched on demand.
    Archived,
}

/// One viewing session of an attendee.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    /// Session id.
    pub id: i64,
    /// Whose session.
    pub eventuserid: i64,
    /// When it started.
    pub start: DateTime<Utc>,
    /// How long it lasted, in seconds.
    pub secs: i64,
    /// Live or on demand.
    pub usage: Usage,
}

/// What an attendee did besides watching.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Activity {
    /// Questions asked.
    pub questions: u32,
    /// Polls answered.
    pub polls: u32,
    /// Surveys answered.
    pub surveys: u32,
    /// Resources downloaded.
    pub resources: u32,
    /// Engagement score, if ON24 has one.
    pub engagement: Option<f64>,
    /// What the attendee asked, answered, downloaded, clicked and earned, item by item.
    #[serde(default)]
    pub interactions: viewing::Interactions,
}

/// The whole world. Guarded by one mutex in `Sim`: every operation is short and in memory.
#[derive(Debug, Serialize, Deserialize)]
pub struct Store {
    next_event: i64,
    next_user: i64,
    next_session: i64,
    /// Events by id.
    pub events: BTreeMap<i64, Event>,
    /// Registrations by eventuserid.
    pub registrants: BTreeMap<i64, Registrant>,
    /// (event id, lower-case email) to eventuserid: the upsert key. Rebuilt on load (JSON
    /// maps cannot have tuple keys).
    #[serde(skip)]
    pub by_email: HashMap<(i64, String), i64>,
    /// Registrations of each event, oldest first (registrations are never removed).
    pub by_event: HashMap<i64, Vec<i64>>,
    /// Viewing sessions by eventuserid.
    pub sessions: HashMap<i64, Vec<Session>>,
    /// Questions, polls and the like, by eventuserid.
    pub activity: HashMap<i64, Activity>,
}

impl Default for Store {
    fn default() -> Self {
        Self {
            next_event: 4_000_000,
            next_user: 150_000_000,
            next_session: 900_000_000,
            events: BTreeMap::new(),
            registrants: BTreeMap::new(),
            by_email: HashMap::new(),
            by_event: HashMap::new(),
            sessions: HashMap::new(),
            activity: HashMap::new(),
        }
    }
}

impl Store {
    fn new_event_id(&mut self) -> i64 {
        self.next_event += 1;
        self.next_event
    }

    fn new_user_id(&mut self) -> i64 {
        self.next_user += 1;
        self.next_user
    }

    fn new_session_id(&mut self) -> i64 {
        self.next_session += 1;
        self.next_session
    }
}
