//! Simulated viewing: what the control API says an attendee watched (live and on demand) and did
//! (questions, polls, surveys, resources), and the per-attendee figures the analytics derive
//! from it, rounded as ON24 rounds minutes.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::time::parse_live_start;
use super::{Activity, Session, Store, Usage, UserStatus};
use crate::api::error::{ApiError, ApiResult};

/// One interaction item of an attendee (a question, a poll or survey answer, a resource, a
/// call to action or a certification). `at` is any `liveStart` format; the simulator fills
/// it (one minute apart from the event's start) and the id when absent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct InteractionItem {
    /// ON24's id of the item (question id, poll id, ...); assigned when absent.
    pub id: Option<i64>,
    /// When the attendee did it.
    pub at: Option<String>,
    /// The question asked, the poll or survey question, the resource, CTA or certification
    /// name.
    pub text: String,
    /// The presenter's answer to a question, the CTA's action, the certification result.
    pub answer: Option<String>,
    /// The answers chosen in a poll or survey.
    pub answers: Vec<String>,
}

/// Everything an attendee did item by item, as the Elite attendee report lists it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Interactions {
    /// Questions asked (`questions`), with the presenter's answer if any.
    pub questions: Vec<InteractionItem>,
    /// Poll answers (`polls`).
    pub polls: Vec<InteractionItem>,
    /// Survey answers (`surveys`), one survey question each.
    pub surveys: Vec<InteractionItem>,
    /// Resources viewed or downloaded (`resources`).
    pub resources: Vec<InteractionItem>,
    /// Calls to action clicked (`calltoactions`); `answer` is the action (a URL).
    pub calls_to_action: Vec<InteractionItem>,
    /// Certifications (`certifications`); `answer` is the result (`C`: completed).
    pub certifications: Vec<InteractionItem>,
}

impl Interactions {
    fn lists_mut(&mut self) -> [&mut Vec<InteractionItem>; 6] {
        [
            &mut self.questions,
            &mut self.polls,
            &mut self.surveys,
            &mut self.resources,
            &mut self.calls_to_action,
            &mut self.certifications,
        ]
    }
}

/// Body of `POST /_sim/events/{eventId}/viewing`. Minutes may be fractional; seconds win when
/// both are given. Counts add to what the attendee already did.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ViewingRequest {
    /// Whose viewing (the registered email).
    pub email: String,
    /// Live minutes watched.
    pub live_minutes: Option<f64>,
    /// Live seconds watched (wins over minutes).
    pub live_seconds: Option<u64>,
    /// On-demand minutes watched.
    pub archive_minutes: Option<f64>,
    /// On-demand seconds watched (wins over minutes).
    pub archive_seconds: Option<u64>,
    /// Questions asked.
    pub questions: u32,
    /// Polls answered.
    pub polls: u32,
    /// Surveys answered.
    pub surveys: u32,
    /// Resources downloaded.
    pub resources: u32,
    /// ON24's `engagementscore` (0-10); replaces any earlier value.
    pub engagement: Option<f64>,
    /// When the live session started (any `liveStart` format); the event's start by default.
    pub live_start: Option<String>,
    /// When the on-demand session started; the archive start by default.
    pub archive_start: Option<String>,
    /// Interactions item by item (added to the attendee's; each also counts in the figures
    /// above: a question in `askedquestions`, and so on).
    pub interactions: Interactions,
}

/// The answer: which registration the viewing was booked to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ViewingRecorded {
    /// The registration the viewing was booked to.
    pub eventuserid: i64,
}

fn secs(seconds: Option<u64>, minutes: Option<f64>) -> i64 {
    match (seconds, minutes) {
        (Some(s), _) => i64::try_from(s).unwrap_or(i64::MAX),
        (None, Some(m)) if m > 0.0 => (m * 60.0).round() as i64,
        _ => 0,
    }
}

/// ON24's rounding of viewing minutes: to the nearest whole minute, except that any viewing
/// above zero and under one minute reads 1.
pub fn round_minutes(secs: i64) -> i64 {
    if secs <= 0 {
        return 0;
    }
    let m = secs as f64 / 60.0;
    if m < 1.0 { 1 } else { m.round() as i64 }
}

/// An attendee's figures, before rendering.
#[derive(Debug, Clone, Default)]
pub struct AttendeeStats {
    /// Seconds watched live, all sessions.
    pub live_secs: i64,
    /// Seconds watched on demand, all sessions.
    pub archive_secs: i64,
    /// Live viewing counted once per minute of the broadcast (capped at its length).
    pub unique_live_secs: i64,
    /// Number of live sessions.
    pub live_sessions: usize,
    /// Number of on-demand sessions.
    pub archive_sessions: usize,
    /// Start of the first live session.
    pub first_live: Option<DateTime<Utc>>,
    /// End of the last live session.
    pub last_live: Option<DateTime<Utc>>,
    /// Start of the first on-demand session.
    pub first_archive: Option<DateTime<Utc>>,
    /// End of the last on-demand session.
    pub last_archive: Option<DateTime<Utc>>,
    /// Questions, polls, surveys, resources and engagement.
    pub activity: Activity,
}

impl Store {
    /// Books viewing to a registrant of the event (404 if the email is not registered).
    pub fn add_viewing(&mut self, event_id: i64, req: &ViewingRequest) -> ApiResult<i64> {
        let ev = self
            .events
            .get(&event_id)
            .filter(|e| !e.deleted)
            .ok_or_else(|| ApiError::event_not_found(event_id))?;
        let (good_after, archive_start) = (ev.good_after, ev.archive_start());
        let uid = self
            .find_registrant(event_id, &req.email)
            .filter(|r| r.status == UserStatus::Active)
            .map(|r| r.eventuserid)
            .ok_or_else(|| ApiError::new(404, "No registrant was found for that email address"))?;
        let parse = |v: &Option<String>, default: DateTime<Utc>| -> ApiResult<DateTime<Utc>> {
            match v {
                None => Ok(default),
                Some(s) => parse_live_start(s)
                    .ok_or_else(|| ApiError::bad_request("unsupported start time format")),
            }
        };
        let live = secs(req.live_seconds, req.live_minutes);
        if live > 0 {
            let start = parse(&req.live_start, good_after)?;
            let id = self.new_session_id();
            self.sessions.entry(uid).or_default().push(Session {
                id,
                eventuserid: uid,
                start,
                secs: live,
                usage: Usage::Live,
            });
        }
        let archive = secs(req.archive_seconds, req.archive_minutes);
        if archive > 0 {
            let start = parse(&req.archive_start, archive_start)?;
            let id = self.new_session_id();
            self.sessions.entry(uid).or_default().push(Session {
                id,
                eventuserid: uid,
                start,
                secs: archive,
                usage: Usage::Archived,
            });
        }
        let mut added = req.interactions.clone();
        for (n, item) in added.lists_mut().into_iter().flatten().enumerate() {
            if item.id.is_none() {
                item.id = Some(self.new_session_id());
            }
            let at = match &item.at {
                Some(s) => parse_live_start(s)
                    .ok_or_else(|| ApiError::bad_request("unsupported interaction time"))?,
                None => good_after + Duration::minutes(n as i64 + 1),
            };
            item.at = Some(super::time::iso_pacific(at));
        }
        let count = |v: &Vec<InteractionItem>| u32::try_from(v.len()).unwrap_or(u32::MAX);
        let a = self.activity.entry(uid).or_default();
        a.questions += req.questions + count(&added.questions);
        a.polls += req.polls + count(&added.polls);
        a.surveys += req.surveys + count(&added.surveys);
        a.resources += req.resources + count(&added.resources);
        let mine = &mut a.interactions;
        mine.questions.append(&mut added.questions);
        mine.polls.append(&mut added.polls);
        mine.surveys.append(&mut added.surveys);
        mine.resources.append(&mut added.resources);
        mine.calls_to_action.append(&mut added.calls_to_action);
        mine.certifications.append(&mut added.certifications);
        if req.engagement.is_some() {
            a.engagement = req.engagement;
        }
        Ok(uid)
    }

    /// When the registrant did something: the end of each viewing session (live or on
    /// demand) and the time of each interaction. ON24's attendee date filters read these.
    pub fn activity_times(&self, eventuserid: i64) -> Vec<DateTime<Utc>> {
        let mut v: Vec<DateTime<Utc>> = self
            .sessions
            .get(&eventuserid)
            .into_iter()
            .flatten()
            .map(|s| s.start + Duration::seconds(s.secs))
            .collect();
        if let Some(a) = self.activity.get(&eventuserid) {
            let i = &a.interactions;
            v.extend(
                [
                    &i.questions,
                    &i.polls,
                    &i.surveys,
                    &i.resources,
                    &i.calls_to_action,
                    &i.certifications,
                ]
                .into_iter()
                .flatten()
                .filter_map(|item| item.at.as_deref().and_then(parse_live_start)),
            );
        }
        v
    }

    /// True if the registrant watched anything (only they are attendees).
    pub fn attended(&self, eventuserid: i64) -> bool {
        self.sessions
            .get(&eventuserid)
            .is_some_and(|v| !v.is_empty())
    }

    /// An attendee's figures, counting live time at most `live_span_secs` per minute of broadcast.
    pub fn attendee_stats(&self, eventuserid: i64, live_span_secs: i64) -> AttendeeStats {
        let mut st = AttendeeStats {
            activity: self.activity.get(&eventuserid).cloned().unwrap_or_default(),
            ..Default::default()
        };
        for s in self.sessions.get(&eventuserid).into_iter().flatten() {
            let end = s.start + Duration::seconds(s.secs);
            let (total, count, first, last) = match s.usage {
                Usage::Live => (
                    &mut st.live_secs,
                    &mut st.live_sessions,
                    &mut st.first_live,
                    &mut st.last_live,
                ),
                Usage::Archived => (
                    &mut st.archive_secs,
                    &mut st.archive_sessions,
                    &mut st.first_archive,
                    &mut st.last_archive,
                ),
            };
            *total += s.secs;
            *count += 1;
            *first = Some(first.map_or(s.start, |f| f.min(s.start)));
            *last = Some(last.map_or(end, |l| l.max(end)));
        }
        st.unique_live_secs = st.live_secs.min(live_span_secs);
        st
    }

    /// Sessions of an event's registrants, oldest first.
    pub fn event_sessions(&self, event_id: i64) -> Vec<&Session> {
        let mut v: Vec<&Session> = self
            .by_event
            .get(&event_id)
            .into_iter()
            .flatten()
            .filter_map(|uid| self.sessions.get(uid))
            .flatten()
            .collect();
        v.sort_by_key(|s| (s.start, s.id));
        v
    }
}
