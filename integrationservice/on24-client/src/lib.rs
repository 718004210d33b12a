//! A typed client for the ON24 REST API v2: operations over reqwest + rustls, lenient
//! answers, errors classified for retries and metrics, and requests buildable without I/O
//! for contract tests. See `docs/on24-client.md`.
//!
//! - `config`: credentials, region or base URL, timeouts, pool sizes.
//! - `request`: operations as transport-free requests (method, path, query, form).
//! - `forms`: request bodies (events, registrants, forget).
//! - `types`, `people`, `de`: lenient typed answers.
//! - `client`: the HTTP exchange (bounded bodies, streamed attendee reports).
//! - `operations`: one typed method per ON24 call the product makes.
//! - `pagination`: reading paged lists to the end.
//! - `error`: what went wrong, classified (never ON24's answer text in `Display`).
//! - `egress`: which hosts and addresses the client may reach.
//! - `telemetry`: the client span's outcome and the `on24.responses` counter.
#![forbid(unsafe_code)]
#![warn(unreachable_pub)]

mod client;
mod config;
mod de;
mod egress;
mod error;
mod forms;
#[doc(hidden)]
pub mod fuzzing;
mod operations;
mod pagination;
mod people;
mod request;
mod telemetry;
mod types;

pub use client::On24Client;
pub use config::{BaseUrl, On24ClientConfig, On24Credentials, Region};
pub use egress::{DEFAULT_ON24_HOSTS, EgressPolicy};
pub use error::{On24Error, PermanentKind, RetryableKind};
pub use forms::{
    EventUpdate, FormFields, MAX_FORGET_EMAILS, NewEvent, RegistrantForm, RegistrantUpdate,
};
pub use pagination::{collect_all, pages};
pub use people::{
    Attendee, AttendeeCallToAction, AttendeeCertification, AttendeePage, AttendeePoll,
    AttendeeQuestion, AttendeeResource, AttendeeSession, AttendeeSessionPage, AttendeeSurvey,
    AttendeeSurveyQuestion, DeletedRegistrants, ForgetResponse, QuestionAnswer, Registrant,
    RegistrantPage,
};
pub use request::{DateFilterMode, DateRange, Operation, PageRequest, RequestSpec};
pub use types::{
    ClientInfo, Event, EventAnalytics, EventPage, MessageResponse, Paged, RegistrationField,
    RegistrationFields, SubClient, WccEvent,
};
