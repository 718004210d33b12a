//! How webinarctl prints: aligned tables and key/value blocks for people, JSON for scripts
//! (`--output json`), and the conversions of our protobuf messages to JSON (stable field names
//! as in the proto, enums without their prefix, timestamps in RFC 3339).

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use webinar_client::{keyservice_v1 as ks, names, webinar_v1 as pb};

/// `--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns for people.
    Table,
    /// JSON for scripts.
    Json,
}

/// Prints rows under headers, each column as wide as its widest cell.
pub fn table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<String>| {
        let text: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<width$}", width = widths.get(i).copied().unwrap_or(0)))
            .collect();
        println!("{}", text.join("  ").trim_end());
    };
    line(headers.iter().map(|h| h.to_uppercase()).collect());
    for row in rows {
        line(row.clone());
    }
}

/// Prints a JSON object as aligned `key  value` lines (nested values as compact JSON).
pub fn details(value: &Value) {
    let Some(map) = value.as_object() else {
        println!("{value}");
        return;
    };
    let width = map.keys().map(|k| k.len()).max().unwrap_or(0);
    for (key, value) in map {
        let shown = match value {
            Value::String(s) => s.clone(),
            Value::Null => "-".to_string(),
            other => other.to_string(),
        };
        println!("{key:<width$}  {shown}");
    }
}

/// Prints one object in the chosen format.
pub fn object(format: Format, value: &Value) {
    match format {
        Format::Json => println!("{}", pretty(value)),
        Format::Table => details(value),
    }
}

/// Pretty JSON (never fails for `Value`).
pub fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

/// A timestamp as RFC 3339, or null.
pub fn ts(t: &Option<prost_types::Timestamp>) -> Value {
    t.as_ref()
        .and_then(|t| {
            DateTime::<Utc>::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0))
        })
        .map(|d| Value::String(d.to_rfc3339_opts(SecondsFormat::Secs, true)))
        .unwrap_or(Value::Null)
}

/// Text of a JSON value for a table cell.
pub fn cell(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

fn strip(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix).unwrap_or(name).to_string()
}

/// Webinar status name without prefix.
pub fn webinar_status(v: i32) -> String {
    pb::WebinarStatus::try_from(v)
        .map(|s| strip(s.as_str_name(), "WEBINAR_STATUS_"))
        .unwrap_or_else(|_| v.to_string())
}

/// Registration status name without prefix.
pub fn registration_status(v: i32) -> String {
    pb::RegistrationStatus::try_from(v)
        .map(|s| strip(s.as_str_name(), "REGISTRATION_STATUS_"))
        .unwrap_or_else(|_| v.to_string())
}

/// A webinar.
pub fn webinar(w: &pb::Webinar) -> Value {
    json!({
        "name": w.name,
        "id": names::short(&w.name),
        "crm_reference_id": w.crm_reference_id,
        "title": w.title,
        "description": w.description,
        "start_time": ts(&w.start_time),
        "duration_minutes": w.duration_minutes,
        "time_zone": w.time_zone,
        "language_code": w.language_code,
        "event_type": w.event_type,
        "on24_event_id": w.on24_event_id,
        "origin": pb::WebinarOrigin::try_from(w.origin).map(|o| strip(o.as_str_name(), "WEBINAR_ORIGIN_")).unwrap_or_default(),
        "status": webinar_status(w.status),
        "status_message": w.status_message,
        "audience_url": w.audience_url,
        "report_url": w.report_url,
        "preview_url": w.preview_url,
        "create_time": ts(&w.create_time),
        "update_time": ts(&w.update_time),
        "registration_questions": w
            .registration_questions
            .iter()
            .map(|q| json!({
                "id": q.id,
                "caption": q.caption,
                "field_type": q.field_type,
                "required": q.required,
                "options": q.options,
                "validation": pb::AnswerValidation::try_from(q.validation)
                    .map(|v| strip(v.as_str_name(), "ANSWER_VALIDATION_"))
                    .unwrap_or_else(|_| q.validation.to_string()),
            }))
            .collect::<Vec<_>>(),
        "registration_questions_read_time": ts(&w.registration_questions_read_time),
    })
}

/// A registration.
pub fn registration(r: &pb::Registration) -> Value {
    json!({
        "name": r.name,
        "id": names::short(&r.name),
        "email": r.email,
        "first_name": r.first_name,
        "last_name": r.last_name,
        "company": r.company,
        "job_title": r.job_title,
        "crm_reference_id": r.crm_reference_id,
        "status": registration_status(r.status),
        "on24_event_user_id": r.on24_event_user_id,
        "delivery_attempts": r.delivery_attempts,
        "last_error": r.last_error,
        "next_attempt_time": ts(&r.next_attempt_time),
        "failure_reason": r.failure_reason,
        "deliver_time": ts(&r.deliver_time),
        "create_time": ts(&r.create_time),
        "update_time": ts(&r.update_time),
        "origin": pb::RegistrationOrigin::try_from(r.origin)
            .map(|o| strip(o.as_str_name(), "REGISTRATION_ORIGIN_"))
            .unwrap_or_else(|_| r.origin.to_string()),
        "attendance": match pb::Attendance::try_from(r.attendance) {
            Ok(pb::Attendance::Unspecified) => "UNKNOWN".to_owned(),
            Ok(a) => strip(a.as_str_name(), "ATTENDANCE_"),
            Err(_) => r.attendance.to_string(),
        },
    })
}

/// ON24 credentials (never holds secrets: the server does not return them).
pub fn credentials(c: &pb::On24Credentials) -> Value {
    json!({
        "name": c.name,
        "client_id": c.client_id,
        "access_token_key_last_four": c.access_token_key_last_four,
        "region": pb::On24Region::try_from(c.region).map(|r| strip(r.as_str_name(), "ON24_REGION_")).unwrap_or_default(),
        "base_url": c.base_url,
        "status": pb::CredentialStatus::try_from(c.status).map(|s| strip(s.as_str_name(), "CREDENTIAL_STATUS_")).unwrap_or_default(),
        "status_message": c.status_message,
        "last_check_time": ts(&c.last_check_time),
        "last_metrics_update_time": ts(&c.last_metrics_update_time),
        "create_time": ts(&c.create_time),
        "update_time": ts(&c.update_time),
    })
}

/// Aggregated webinar metrics.
pub fn webinar_metrics(m: &pb::WebinarMetrics) -> Value {
    json!({
        "name": m.name,
        "registration_count": m.registration_count,
        "delivered_count": m.delivered_count,
        "live_attendee_count": m.live_attendee_count,
        "archive_attendee_count": m.archive_attendee_count,
        "total_live_minutes": m.total_live_minutes,
        "total_archive_minutes": m.total_archive_minutes,
        "average_engagement_score": m.average_engagement_score,
        "average_live_attendance_percent": m.average_live_attendance_percent,
        "questions_asked": m.questions_asked,
        "polls_answered": m.polls_answered,
        "surveys_answered": m.surveys_answered,
        "attendance_unknown_count": m.attendance_unknown_count,
        "attended_live_count": m.attended_live_count,
        "attended_on_demand_count": m.attended_on_demand_count,
        "attended_both_count": m.attended_both_count,
        "no_show_count": m.no_show_count,
        "last_sync_time": ts(&m.last_sync_time),
        "next_sync_time": ts(&m.next_sync_time),
    })
}

/// One attendee's metrics.
pub fn attendee_metrics(a: &pb::AttendeeMetrics) -> Value {
    json!({
        "name": a.name,
        "registration": a.registration,
        "email": a.email,
        "crm_reference_id": a.crm_reference_id,
        "on24_event_user_id": a.on24_event_user_id,
        "live_minutes": a.live_minutes,
        "archive_minutes": a.archive_minutes,
        "cumulative_live_minutes": a.cumulative_live_minutes,
        "cumulative_archive_minutes": a.cumulative_archive_minutes,
        "engagement_score": a.engagement_score,
        "questions_asked": a.questions_asked,
        "polls_answered": a.polls_answered,
        "surveys_answered": a.surveys_answered,
        "resources_downloaded": a.resources_downloaded,
        "first_live_activity_time": ts(&a.first_live_activity_time),
        "last_live_activity_time": ts(&a.last_live_activity_time),
        "first_archive_activity_time": ts(&a.first_archive_activity_time),
        "last_archive_activity_time": ts(&a.last_archive_activity_time),
        "live_attendance_percent": a.live_attendance_percent,
        "update_time": ts(&a.update_time),
    })
}

/// A person's interactions in one webinar (an access request's export).
pub fn person_interactions(p: &pb::PersonInteractions) -> Value {
    json!({
        "webinar": p.webinar,
        "interactions": p.interactions.iter().map(|i| json!({
            "kind": pb::InteractionKind::try_from(i.kind)
                .map(|k| strip(k.as_str_name(), "INTERACTION_KIND_"))
                .unwrap_or_default(),
            "occur_time": ts(&i.occur_time),
            "reference": i.reference,
            "prompt": i.prompt,
            "response": i.response,
            "response_time": ts(&i.response_time),
        })).collect::<Vec<_>>(),
    })
}

/// An erasure request (it never holds the person's email).
pub fn erasure_request(e: &pb::ErasureRequest) -> Value {
    json!({
        "name": e.name,
        "state": pb::ErasureState::try_from(e.state).map(|s| strip(s.as_str_name(), "ERASURE_STATE_")).unwrap_or_default(),
        "failure_reason": e.failure_reason,
        "forgotten_registration_count": e.forgotten_registration_count,
        "deleted_attendee_metrics_count": e.deleted_attendee_metrics_count,
        "create_time": ts(&e.create_time),
        "update_time": ts(&e.update_time),
        "complete_time": ts(&e.complete_time),
    })
}

/// One change of the feed, with its snapshot.
pub fn change(c: &pb::Change) -> Value {
    use pb::change::Snapshot;
    let snapshot = match &c.snapshot {
        Some(Snapshot::Registration(r)) => registration(r),
        Some(Snapshot::AttendeeMetrics(a)) => attendee_metrics(a),
        Some(Snapshot::WebinarSnapshot(w)) => webinar(w),
        Some(Snapshot::ErasureRequest(e)) => erasure_request(e),
        None => Value::Null,
    };
    json!({
        "cursor": c.cursor,
        "change_time": ts(&c.change_time),
        "type": pb::ChangeType::try_from(c.r#type).map(|t| strip(t.as_str_name(), "CHANGE_TYPE_")).unwrap_or_default(),
        "resource": c.resource,
        "webinar": c.webinar,
        "snapshot": snapshot,
    })
}

/// A key of the key service.
pub fn key(k: &ks::Key) -> Value {
    json!({
        "name": k.name,
        "purpose": ks::KeyPurpose::try_from(k.purpose).map(|p| strip(p.as_str_name(), "KEY_PURPOSE_")).unwrap_or_default(),
        "state": ks::KeyState::try_from(k.state).map(|s| strip(s.as_str_name(), "KEY_STATE_")).unwrap_or_default(),
        "primary_version": k.primary_version,
        "min_decryption_version": k.min_decryption_version,
        "next_rotation_time": ts(&k.next_rotation_time),
        "delete_time": ts(&k.delete_time),
        "create_time": ts(&k.create_time),
        "update_time": ts(&k.update_time),
    })
}

/// A key version.
pub fn key_version(v: &ks::KeyVersion) -> Value {
    json!({
        "name": v.name,
        "version": v.version,
        "state": ks::KeyVersionState::try_from(v.state).map(|s| strip(s.as_str_name(), "KEY_VERSION_STATE_")).unwrap_or_default(),
        "wrap_count": v.wrap_count,
        "create_time": ts(&v.create_time),
    })
}
