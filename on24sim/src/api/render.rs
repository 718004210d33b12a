//! Turns simulator state into ON24's JSON, on the contract's templates (see `shapes`).

use serde_json::{Map, Value, json};

use crate::shapes::{Lazy, Shapes, render};
use crate::state::time::{hms, iso_pacific, wcc_pacific};
use crate::state::viewing::{AttendeeStats, InteractionItem, round_minutes};
use crate::state::{Event, Registrant, Session, Store, Usage};

fn s(v: impl Into<String>) -> Option<Value> {
    Some(Value::String(v.into()))
}

fn event_urls(ev: &Event) -> (String, String, String, String) {
    let k = &ev.audience_key;
    (
        format!("https://event.on24.com/wcc/r/{}/{k}", ev.id),
        format!("https://wcc.on24.com/webcast/report?e={}&k={k}", ev.id),
        format!(
            "https://wcc.on24.com/webcast/previewlobby?e={}&k={k}",
            ev.id
        ),
        format!("https://wcc.on24.com/webcast/present?e={}&k={k}", ev.id),
    )
}

/// `{"wccevent": {...}}` of Create/Update a Webinar.
pub fn wcc_event(
    ev: &Event,
    now: chrono::DateTime<chrono::Utc>,
    template: &Map<String, Value>,
) -> Value {
    let (audience, report, preview, pm) = event_urls(ev);
    let v = render(template, |k| match k {
        "eventId" => Some(json!(ev.id)),
        "clientId" => Some(json!(ev.client_id)),
        "title" => s(&ev.title),
        "eventAbstract" => s(&ev.event_abstract),
        "promotionalSummary" => s(&ev.promotional_summary),
        "liveStart" => s(wcc_pacific(ev.live_start())),
        "goodAfter" => s(wcc_pacific(ev.good_after)),
        "liveEnd" => s(wcc_pacific(ev.live_end())),
        "archiveStart" => s(wcc_pacific(ev.archive_start())),
        "archiveEnd" => s(wcc_pacific(ev.archive_end())),
        // ON24 answers liveDuration in seconds although it takes minutes.
        "liveDuration" => Some(json!(ev.duration_min * 60)),
        "archiveDuration" => Some(json!(525_600)),
        "timeZone" => s(&ev.time_zone),
        "shortTimeZone" => s("PST"),
        "eventType" => s(&ev.event_type),
        "audienceUrl" => s(audience.clone()),
        "reportsUrl" => s(report.clone()),
        "previewUrl" => s(preview.clone()),
        "PMUrl" | "pmurl" => s(pm.clone()),
        "isLiveStartPast" => Some(json!(now >= ev.live_start())),
        "isLiveEndPast" => Some(json!(now >= ev.live_end())),
        "archiveEndInPast" => Some(json!(now >= ev.archive_end())),
        "archiveAvailable" => Some(json!(ev.archive_available)),
        "canToggleArchiveAvailability" => Some(json!(true)),
        "monthsAvailableToExtend" => Some(json!(-1)),
        "languageCd" => s(&ev.language_cd),
        "countryCd" => s(&ev.country_cd),
        "tags" => Some(json!(ev.tags)),
        "hybrid" => s(if ev.hybrid { "Y" } else { "N" }),
        "venue" => s(&ev.venue),
        "address" => s(&ev.address),
        "testevent" => s(if ev.test_event { "Y" } else { "N" }),
        "campaignCode" => s(&ev.campaign_code),
        // No audio bridge is simulated.
        "dialInNumber" | "bridgeDialInNumber" | "dialInPasscode" => s(""),
        _ => None,
    });
    json!({ "wccevent": v })
}

/// Counts over an event's registrants and viewing for `eventanalytics`.
fn analytics(store: &Store, ev: &Event, template: &Value) -> Value {
    let regs: Vec<&Registrant> = store
        .registrants_where(Some(ev.id), |_| true, None)
        .collect();
    let span = (ev.duration_min + 15) * 60;
    let stats: Vec<AttendeeStats> = regs
        .iter()
        .filter(|r| store.attended(r.eventuserid))
        .map(|r| store.attendee_stats(r.eventuserid, span))
        .collect();
    let live = stats.iter().filter(|s| s.live_sessions > 0).count() as i64;
    let od = stats.iter().filter(|s| s.archive_sessions > 0).count() as i64;
    let total_live: i64 = stats.iter().map(|s| round_minutes(s.live_secs)).sum();
    let total_arch: i64 = stats.iter().map(|s| round_minutes(s.archive_secs)).sum();
    let avg = |total: i64, n: i64| if n > 0 { total / n } else { 0 };
    let attendees = stats.len() as i64;
    let q: u32 = stats.iter().map(|s| s.activity.questions).sum();
    let p: u32 = stats.iter().map(|s| s.activity.polls).sum();
    let sv: u32 = stats.iter().map(|s| s.activity.surveys).sum();
    let Value::Object(t) = template else {
        return template.clone();
    };
    render(t, |k| match k {
        "totalregistrants" => Some(json!(regs.len())),
        "totalattendees" => Some(json!(attendees)),
        "liveattendees" => Some(json!(live)),
        "ondemandattendees" => Some(json!(od)),
        "noshowcount" => Some(json!(regs.len() as i64 - attendees)),
        "numberofquestionsasked" => Some(json!(q)),
        "numberofpollresponses" => Some(json!(p)),
        "numberofsurveyresponses" => Some(json!(sv)),
        "averageliveminutes" | "averagecumulativeliveminutes" => Some(json!(avg(total_live, live))),
        "averagearchiveminutes" | "averagecumulativearchiveminutes" => {
            Some(json!(avg(total_arch, od)))
        }
        "totalcumulativeliveminutes" | "totallivemediaplayerminutes" => Some(json!(total_live)),
        "totalcumulativearchiveminutes" | "totalarchivemediaplayerminutes" => {
            Some(json!(total_arch))
        }
        "totalcumulativeminutes" | "totalmediaplayerminutes" => {
            Some(json!(total_live + total_arch))
        }
        _ => None,
    })
}

/// Event metadata as the analytics (`GET .../event/{id}` and the Events list) write it.
pub fn event_analytics_view(store: &Store, ev: &Event, template: &Map<String, Value>) -> Value {
    let (audience, report, preview, pm) = event_urls(ev);
    render(template, |k| match k {
        "eventanalytics" => template.get(k).map(|t| analytics(store, ev, t)),
        "eventid" => Some(json!(ev.id)),
        "clientid" => Some(json!(ev.client_id)),
        "eventname" | "description" => s(&ev.title),
        "promotionalsummary" => s(&ev.promotional_summary),
        "eventduration" | "scheduledeventduration" => Some(json!(ev.duration_min)),
        "goodafter" => s(iso_pacific(ev.good_after)),
        "goodtill" | "archiveend" => s(iso_pacific(ev.archive_end())),
        "livestart" => s(iso_pacific(ev.live_start())),
        "liveend" => s(iso_pacific(ev.live_end())),
        "archivestart" => s(iso_pacific(ev.archive_start())),
        "createtimestamp" => s(iso_pacific(ev.created)),
        "lastmodified" | "lastupdated" => s(iso_pacific(ev.modified)),
        "isactive" => Some(json!(true)),
        "regrequired" => Some(json!(ev.registration_enabled)),
        "displaytimezonecd" => s(&ev.time_zone),
        "eventtype" => s(&ev.event_type),
        "localelanguagecd" => s(&ev.language_cd),
        "localecountrycd" => s(&ev.country_cd),
        "iseliteexpired" => s("N"),
        "audiencekey" => s(&ev.audience_key),
        "audienceurl" => s(audience.clone()),
        "reporturl" => s(report.clone()),
        "previewurl" => s(preview.clone()),
        "pmurl" => s(pm.clone()),
        "contenttype" => s("webcast"),
        "campaigncode" | "eventlocation" => s(&ev.campaign_code),
        "ishybridevent" => Some(json!(ev.hybrid)),
        "istestevent" => Some(json!(ev.test_event)),
        "tags" => Some(json!(ev.tags)),
        _ => None,
    })
}

/// A registrant on one of the registrant templates.
pub fn registrant(store: &Store, r: &Registrant, template: &Map<String, Value>) -> Value {
    let source = store.events.get(&r.event_id);
    render(template, |k| {
        if let Some(v) = r.fields.get(k) {
            return Some(v.clone().map_or(Value::Null, Value::String));
        }
        match k {
            "email" => s(&r.email),
            "eventid" | "sourceeventid" => Some(json!(r.event_id)),
            "clientid" => Some(json!(r.client_id)),
            "eventuserid" => Some(json!(r.eventuserid)),
            "isblocked" => s(if r.blocked { "Y" } else { "N" }),
            "userstatus" => s(r.status.as_str()),
            "createtimestamp" => s(iso_pacific(r.created)),
            "lastactivity" => s(iso_pacific(r.last_activity)),
            "campaigncode" | "sourcecampaigncode" => {
                source.map(|e| Value::String(e.campaign_code.clone()))
            }
            "attendeetype" => s("Virtual"),
            "userprofileurl" => s(format!(
                "https://data.on24.com/webcast/lead?token=sim-{}",
                r.eventuserid
            )),
            // A field ON24 sends as NULL until it has a value.
            _ if crate::state::registrants::REG_FIELDS.contains(&k) => Some(Value::Null),
            _ => None,
        }
    })
}

fn opt_time(v: Option<chrono::DateTime<chrono::Utc>>) -> Value {
    v.map_or(Value::Null, |v| Value::String(iso_pacific(v)))
}

/// One attendee of `GET .../event/{id}/attendee` (serialised lazily: the report is the
/// simulator's heaviest answer).
pub fn attendee<'a>(
    r: &'a Registrant,
    st: &'a AttendeeStats,
) -> Lazy<'a, impl Fn(&str) -> Option<Value> + 'a> {
    let t = opt_time;
    Lazy {
        template: &Shapes::get().attendee,
        fill: move |k: &str| match k {
            "email" => s(&r.email),
            "eventuserid" => Some(json!(r.eventuserid)),
            "exteventusercd" => r
                .fields
                .get("exteventusercd")
                .map(|v| v.clone().map_or(Value::Null, Value::String)),
            "partnerref" => r
                .fields
                .get("partnerref")
                .map(|v| v.clone().map_or(Value::Null, Value::String)),
            "userstatus" => s(r.status.as_str()),
            "isblocked" => s(if r.blocked { "Y" } else { "N" }),
            "engagementscore" => Some(json!(st.activity.engagement.unwrap_or(0.0))),
            "liveminutes" => Some(json!(round_minutes(st.unique_live_secs))),
            "cumulativeliveminutes" | "livemediaplayerminutes" => {
                Some(json!(round_minutes(st.live_secs)))
            }
            "archiveminutes" | "cumulativearchiveminutes" | "archivemediaplayerminutes" => {
                Some(json!(round_minutes(st.archive_secs)))
            }
            "liveviewed" => Some(json!(st.live_sessions)),
            "archiveviewed" => Some(json!(st.archive_sessions)),
            "attendeesessions" => Some(json!(st.live_sessions + st.archive_sessions)),
            "firstliveactivity" => Some(t(st.first_live)),
            "lastliveactivity" => Some(t(st.last_live)),
            "firstarchiveactivity" => Some(t(st.first_archive)),
            "lastarchiveactivity" => Some(t(st.last_archive)),
            "askedquestions" => Some(json!(st.activity.questions)),
            "answeredpolls" => Some(json!(st.activity.polls)),
            "answeredsurveys" => Some(json!(st.activity.surveys)),
            "resourcesdownloaded" => Some(json!(st.activity.resources)),
            "sourceeventid" => Some(json!(r.event_id)),
            "userprofileurl" => s(format!(
                "https://data.on24.com/webcast/lead?token=sim-{}",
                r.eventuserid
            )),
            "launchmode" => s("Watching remote"),
            "questions" => Some(questions(&st.activity.interactions.questions)),
            "polls" => Some(polls(&st.activity.interactions.polls)),
            "surveys" => Some(surveys(&st.activity.interactions.surveys)),
            "resources" => Some(resources(&st.activity.interactions.resources)),
            "calltoactions" => Some(calls_to_action(&st.activity.interactions.calls_to_action)),
            "certifications" => Some(certifications(&st.activity.interactions.certifications)),
            _ => None,
        },
    }
}

fn questions(items: &[InteractionItem]) -> Value {
    Value::Array(
        items
            .iter()
            .map(|q| {
                json!({
                    "questionid": q.id,
                    "createtimestamp": q.at,
                    "content": q.text,
                    "answer": q.answer.as_ref().map(|a| json!({
                        "createtimestamp": q.at,
                        "content": a,
                        "presenterid": 1,
                        "presentername": "Presenter",
                        "privacy": "Private",
                    })),
                })
            })
            .collect(),
    )
}

fn choices(answers: &[String]) -> Value {
    Value::Array(
        answers
            .iter()
            .enumerate()
            .map(|(i, a)| json!({ "answercode": format!("choice{}", i + 1), "answer": a }))
            .collect(),
    )
}

fn polls(items: &[InteractionItem]) -> Value {
    Value::Array(
        items
            .iter()
            .map(|p| {
                json!({
                    "pollid": p.id,
                    "pollsubmittedtimestamp": p.at,
                    "pollquestionid": p.id,
                    "pollquestion": p.text,
                    "pollanswers": p.answers,
                    "pollanswersdetail": choices(&p.answers),
                })
            })
            .collect(),
    )
}

fn surveys(items: &[InteractionItem]) -> Value {
    Value::Array(
        items
            .iter()
            .map(|q| {
                json!({
                    "surveyid": format!("survey{}", q.id.unwrap_or_default()),
                    "surveysubmittedtimestamp": q.at,
                    "surveyquestions": [{
                        "surveyquestionid": q.id,
                        "surveyquestion": q.text,
                        "surveyanswers": q.answers,
                        "surveyanswersdetail": choices(&q.answers),
                    }],
                })
            })
            .collect(),
    )
}

fn resources(items: &[InteractionItem]) -> Value {
    Value::Array(
        items
            .iter()
            .map(|r| {
                json!({
                    "resourceid": r.id,
                    "resourceviewed": r.text,
                    "resourceviewedtimestamp": r.at,
                })
            })
            .collect(),
    )
}

fn calls_to_action(items: &[InteractionItem]) -> Value {
    Value::Array(
        items
            .iter()
            .map(|c| {
                json!({
                    "ctaid": c.id.map(|id| id.to_string()),
                    "ctaname": c.text,
                    "clicks": "1",
                    "action": c.answer,
                    "date": c.at,
                })
            })
            .collect(),
    )
}

fn certifications(items: &[InteractionItem]) -> Value {
    Value::Array(
        items
            .iter()
            .map(|c| {
                json!({
                    "certificationid": c.id,
                    "certificationresult": c.answer,
                    "certificationname": c.text,
                    "certificationcredit": "NR",
                    "certificationtimestamp": c.at,
                    "certificationurl": format!(
                        "https://event.on24.com/ceCertficate/certificate_{}.pdf",
                        c.id.unwrap_or_default()
                    ),
                })
            })
            .collect(),
    )
}

/// One item of `GET .../event/{id}/attendeesession`.
pub fn session(sess: &Session, r: &Registrant) -> Value {
    let field = |n: &str| {
        r.fields
            .get(n)
            .map(|v| v.clone().map_or(Value::Null, Value::String))
    };
    render(&Shapes::get().session, |k| match k {
        "id" => Some(json!(sess.id)),
        "email" => s(&r.email),
        "firstname" => field("firstname"),
        "lastname" => field("lastname"),
        "exteventusercd" => field("exteventusercd"),
        "duration" => s(hms(sess.secs)),
        "starttime" => s(iso_pacific(sess.start)),
        "endtime" => s(iso_pacific(
            sess.start + chrono::Duration::seconds(sess.secs),
        )),
        "usage" => s(match sess.usage {
            Usage::Live => "Live",
            Usage::Archived => "Archived",
        }),
        "launchmode" => s("Watching remote"),
        _ => None,
    })
}
