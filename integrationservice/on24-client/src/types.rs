//! Typed ON24 responses about the account and its events, named and shaped after the
//! contract's examples, and the `Paged` view of list answers. People (registrants,
//! attendees, sessions, forget answers) are in `people`, re-exported here.
//!
//! Every field is optional and read leniently (see `de`), unknown fields are ignored:
//! ON24 adds fields over time and omits empty ones, and a metrics pull must not fail
//! because one attendee record is odd. Ids are integers whatever ON24 sends.
//! `Debug` is derived: these values hold personal data and must not be logged at info
//! level by callers; the client itself never logs them.

use serde::Deserialize;

use super::de;

/// `GET /client/{clientId}`: the account and its sub-accounts.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ClientInfo {
    #[serde(deserialize_with = "de::opt_string")]
    pub clientname: Option<String>,
    #[serde(deserialize_with = "de::lenient_vec")]
    pub subclients: Vec<SubClient>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SubClient {
    #[serde(deserialize_with = "de::opt_u64")]
    pub id: Option<u64>,
    #[serde(deserialize_with = "de::opt_string")]
    pub name: Option<String>,
    #[serde(deserialize_with = "de::lenient_vec")]
    pub subclients: Vec<SubClient>,
}

/// Per-event counters (`eventanalytics`), in event lists and event metadata.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct EventAnalytics {
    #[serde(deserialize_with = "de::opt_u64")]
    pub totalregistrants: Option<u64>,
    #[serde(deserialize_with = "de::opt_u64")]
    pub totalattendees: Option<u64>,
    #[serde(deserialize_with = "de::opt_u64")]
    pub liveattendees: Option<u64>,
    #[serde(deserialize_with = "de::opt_u64")]
    pub ondemandattendees: Option<u64>,
    #[serde(deserialize_with = "de::opt_i64")]
    pub noshowcount: Option<i64>,
    #[serde(deserialize_with = "de::opt_f64")]
    pub eventengagementscore: Option<f64>,
}

/// An event as the analytics reads show it (`GET .../event` list items and
/// `GET .../event/{eventId}`): lowercase field names, ISO-8601 times with offset.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Event {
    #[serde(deserialize_with = "de::opt_u64")]
    pub eventid: Option<u64>,
    #[serde(deserialize_with = "de::opt_u64")]
    pub clientid: Option<u64>,
    /// The event title (ON24 calls it `description` in analytics reads).
    #[serde(deserialize_with = "de::opt_string")]
    pub description: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub eventname: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub promotionalsummary: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub eventtype: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub contenttype: Option<String>,
    #[serde(deserialize_with = "de::opt_bool")]
    pub isactive: Option<bool>,
    #[serde(deserialize_with = "de::opt_bool")]
    pub istestevent: Option<bool>,
    #[serde(deserialize_with = "de::opt_string")]
    pub livestart: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub liveend: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub archivestart: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub archiveend: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub goodafter: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub displaytimezonecd: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub localelanguagecd: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub audienceurl: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub reporturl: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub previewurl: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub campaigncode: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub createtimestamp: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub lastmodified: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub lastupdated: Option<String>,
    #[serde(deserialize_with = "de::opt_u64")]
    pub scheduledeventduration: Option<u64>,
    pub eventanalytics: Option<EventAnalytics>,
}

/// `GET /client/{clientId}/event`: one page of events.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct EventPage {
    #[serde(deserialize_with = "de::opt_u64")]
    pub totalevents: Option<u64>,
    #[serde(deserialize_with = "de::opt_u64")]
    pub pagecount: Option<u64>,
    #[serde(deserialize_with = "de::opt_u64")]
    pub currentpage: Option<u64>,
    #[serde(deserialize_with = "de::lenient_vec")]
    pub events: Vec<Event>,
}

/// The event as create/update answer it (`{"wccevent": {...}}`, camelCase names,
/// `MM/dd/yyyy hh:mm a` times in the event's time zone).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct WccEvent {
    #[serde(deserialize_with = "de::opt_u64")]
    pub event_id: Option<u64>,
    #[serde(deserialize_with = "de::opt_u64")]
    pub client_id: Option<u64>,
    #[serde(deserialize_with = "de::opt_string")]
    pub title: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub live_start: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub live_end: Option<String>,
    /// As the contract's examples show it (3600 for a 60 minute event: ON24 answers in
    /// seconds here although the form field takes minutes).
    #[serde(deserialize_with = "de::opt_u64")]
    pub live_duration: Option<u64>,
    #[serde(deserialize_with = "de::opt_string")]
    pub time_zone: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub event_type: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub language_cd: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub audience_url: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub reports_url: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub preview_url: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub campaign_code: Option<String>,
    #[serde(deserialize_with = "de::lenient_vec")]
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct WccEventEnvelope {
    pub wccevent: Option<WccEvent>,
}

/// A bare `{"message": "..."}` answer (event delete).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct MessageResponse {
    #[serde(deserialize_with = "de::opt_string")]
    pub message: Option<String>,
}

pub(crate) use super::people::*;

// Event lists and account trees are small: their elements keep the `Value` reading.
de::lenient_via_value!(SubClient, Event, RegistrationField);

/// A response that is one page of a paginated read.
pub trait Paged {
    type Item;
    fn into_items(self) -> Vec<Self::Item>;
    /// The total ON24 reports across all pages, when it reports one.
    fn total(&self) -> Option<u64>;
    fn page_count(&self) -> Option<u64>;
}

macro_rules! paged {
    ($page:ty, $item:ty, $items:ident, $total:ident) => {
        impl Paged for $page {
            type Item = $item;
            fn into_items(self) -> Vec<$item> {
                self.$items
            }
            fn total(&self) -> Option<u64> {
                self.$total
            }
            fn page_count(&self) -> Option<u64> {
                self.pagecount
            }
        }
    };
}

paged!(EventPage, Event, events, totalevents);
paged!(RegistrantPage, Registrant, registrants, totalregistrants);
paged!(AttendeePage, Attendee, attendees, totalattendees);
paged!(
    AttendeeSessionPage,
    AttendeeSession,
    attendeesession,
    totalattendeesessions
);

/// One registration field of an event (`GET .../event/{eventId}/regfield`): a standard field
/// or a custom question, with what ON24 accepts as its answer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RegistrationField {
    /// The form field name the answer is sent under (`firstname`, `std1`, ...).
    #[serde(deserialize_with = "de::opt_string")]
    pub fieldid: Option<String>,
    /// The question as the registration page shows it.
    #[serde(deserialize_with = "de::opt_string")]
    pub fieldcaption: Option<String>,
    /// `textbox`, `textarea`, `listbox`, `checkbox`, `radio`, ...
    #[serde(deserialize_with = "de::opt_string")]
    pub fieldtype: Option<String>,
    /// `none`, `email`, `numeric`, ...
    #[serde(deserialize_with = "de::opt_string")]
    pub validationtype: Option<String>,
    /// Whether an answer is required (`Y`/`N`).
    #[serde(deserialize_with = "de::opt_bool")]
    pub required: Option<bool>,
    /// The allowed choices; empty for free text.
    #[serde(deserialize_with = "de::lenient_vec")]
    pub options: Vec<String>,
}

/// `GET .../event/{eventId}/regfield`: the event's registration fields.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RegistrationFields {
    #[serde(deserialize_with = "de::lenient_vec")]
    pub registrationfields: Vec<RegistrationField>,
}
