//! The simulator's in-memory world: webinars, registrants and simulated viewing, with ids handed
//! out the way ON24 does (numeric, increasing). Operations live in the submodules; rendering to
//! ON24's JSON lives in `api`.

pub mod events;
pub mod forget;
pub mod persist;
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
    pub id: i64,
    pub client_id: i64,
    pub title: String,
    pub event_abstract: String,
    pub promotional_summary: String,
    pub event_type: String,
    pub language_cd: String,
    pub country_cd: String,
    pub time_zone: String,
    pub campaign_code: String,
    pub tags: Vec<String>,
    pub hybrid: bool,
    pub venue: String,
    pub address: String,
    pub test_event: bool,
    pub archive_available: bool,
    pub registration_enabled: bool,
    /// When the audience may join: the `liveStart` the caller gave.
    pub good_after: DateTime<Utc>,
    /// Scheduled length in minutes (`liveDuration`).
    pub duration_min: i64,
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
    pub deleted: bool,
    /// Stands in for ON24's audience key in URLs.
    pub audience_key: String,
}

impl Event {
    /// ON24 opens the console 15 minutes before the audience may join.
    pub fn live_start(&self) -> DateTime<Utc> {
        self.good_after - chrono::Duration::minutes(15)
    }

    pub fn live_end(&self) -> DateTime<Utc> {
        self.good_after + chrono::Duration::minutes(self.duration_min)
    }

    pub fn archive_start(&self) -> DateTime<Utc> {
        self.live_end() + chrono::Duration::minutes(30)
    }

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
    Active,
    Deleted,
    Forgotten,
}

impl UserStatus {
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
    pub eventuserid: i64,
    pub event_id: i64,
    pub client_id: i64,
    pub email: String,
    /// Registration fields by ON24's lower-case response name (`firstname`, `std1`, ...);
    /// `None` is a field ON24 has set to NULL (after a forget).
    pub fields: BTreeMap<String, Option<String>>,
    pub status: UserStatus,
    pub blocked: bool,
    pub created: DateTime<Utc>,
    pub last_activity: DateTime<Utc>,
}

/// Whether a session was watched live or on demand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Usage {
    Live,
    Archived,
}

/// One viewing session of an attendee.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub id: i64,
    pub eventuserid: i64,
    pub start: DateTime<Utc>,
    pub secs: i64,
    pub usage: Usage,
}

/// What an attendee did besides watching.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Activity {
    pub questions: u32,
    pub polls: u32,
    pub surveys: u32,
    pub resources: u32,
    pub engagement: Option<f64>,
}

/// The whole world. Guarded by one mutex in `Sim`: every operation is short and in memory.
#[derive(Debug, Serialize, Deserialize)]
pub struct Store {
    next_event: i64,
    next_user: i64,
    next_session: i64,
    pub events: BTreeMap<i64, Event>,
    pub registrants: BTreeMap<i64, Registrant>,
    /// (event id, lower-case email) to eventuserid: the upsert key. Rebuilt on load (JSON
    /// maps cannot have tuple keys).
    #[serde(skip)]
    pub by_email: HashMap<(i64, String), i64>,
    /// Registrations of each event, oldest first (registrations are never removed).
    pub by_event: HashMap<i64, Vec<i64>>,
    /// Viewing sessions by eventuserid.
    pub sessions: HashMap<i64, Vec<Session>>,
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
