//! Domain -> protobuf mapping of the resources (one place, so every RPC renders a resource the
//! same way). Times are milliseconds since the epoch in the domain.

use prost_types::Timestamp;
use proto::webinar::v1 as pb;

use crate::domain::{self, TenantId, WebinarId};

use super::names;

/// Milliseconds since the epoch as a protobuf timestamp.
pub(crate) fn ts(ms: i64) -> Timestamp {
    Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    }
}

fn opt_ts(ms: Option<i64>) -> Option<Timestamp> {
    ms.map(ts)
}

/// A provider configuration (never the secrets).
pub(crate) fn credentials(c: &domain::ProviderConfig) -> pb::On24Credentials {
    use domain::CredentialStatus as S;
    let status = match c.status {
        S::Unchecked => pb::CredentialStatus::Unspecified,
        S::Healthy => pb::CredentialStatus::Healthy,
        S::NotAuthenticated => pb::CredentialStatus::NotAuthenticated,
        S::TokenExpired => pb::CredentialStatus::TokenExpired,
        S::Forbidden => pb::CredentialStatus::Forbidden,
        S::Unhealthy => pb::CredentialStatus::Unhealthy,
    };
    pb::On24Credentials {
        name: names::credentials_name(&c.tenant),
        client_id: c.client_id.clone(),
        access_token_key: String::new(),
        access_token_secret: String::new(),
        access_token_key_last_four: c.key_last_four.clone(),
        region: if c.region == "EU" {
            pb::On24Region::Eu
        } else {
            pb::On24Region::Na
        } as i32,
        base_url: c.base_url.clone().unwrap_or_default(),
        status: status as i32,
        status_message: c.status_message.clone().unwrap_or_default(),
        last_check_time: opt_ts(c.last_check_at),
        last_metrics_update_time: opt_ts(c.last_metrics_at),
        create_time: Some(ts(c.created_at)),
        update_time: Some(ts(c.updated_at)),
    }
}

pub(crate) use names::{registration_name, webinar_name};

/// A webinar.
pub(crate) fn webinar(w: &domain::Webinar) -> pb::Webinar {
    use domain::WebinarStatus as S;
    let status = match w.status {
        S::Pending => pb::WebinarStatus::Pending,
        S::Active => pb::WebinarStatus::Active,
        S::Failed => pb::WebinarStatus::Failed,
        S::Unlinked => pb::WebinarStatus::Unlinked,
    };
    pb::Webinar {
        name: webinar_name(&w.tenant, &w.id),
        crm_reference_id: w.crm_reference_id.clone(),
        title: w.title.clone(),
        description: w.description.clone().unwrap_or_default(),
        start_time: Some(ts(w.start_at)),
        duration_minutes: w.duration_minutes,
        time_zone: w.time_zone.clone(),
        language_code: w.language.clone(),
        event_type: w.event_type.clone(),
        on24_event_id: w.on24_event_id.unwrap_or_default(),
        origin: if w.linked {
            pb::WebinarOrigin::Linked
        } else {
            pb::WebinarOrigin::Created
        } as i32,
        status: status as i32,
        status_message: w.status_message.clone().unwrap_or_default(),
        audience_url: w.audience_url.clone().unwrap_or_default(),
        report_url: w.report_url.clone().unwrap_or_default(),
        preview_url: w.preview_url.clone().unwrap_or_default(),
        create_time: Some(ts(w.created_at)),
        update_time: Some(ts(w.updated_at)),
        registration_questions: w
            .registration_questions
            .iter()
            .flatten()
            .map(|q| pb::RegistrationQuestion {
                id: q.id.clone(),
                caption: q.caption.clone(),
                field_type: q.field_type.clone(),
                required: q.required,
                options: q.options.clone(),
                validation: answer_validation(q.validation()) as i32,
            })
            .collect(),
        registration_questions_read_time: opt_ts(w.questions_read_at),
    }
}

/// Domain answer validation -> proto.
fn answer_validation(v: domain::AnswerValidation) -> pb::AnswerValidation {
    use domain::AnswerValidation as V;
    match v {
        V::Unspecified => pb::AnswerValidation::Unspecified,
        V::None => pb::AnswerValidation::None,
        V::Email => pb::AnswerValidation::Email,
        V::Numeric => pb::AnswerValidation::Numeric,
        V::Other => pb::AnswerValidation::Other,
    }
}

/// Domain status -> proto status.
pub(crate) fn registration_status(s: domain::RegistrationStatus) -> pb::RegistrationStatus {
    use domain::RegistrationStatus as S;
    match s {
        S::Pending => pb::RegistrationStatus::Pending,
        S::Delivered => pb::RegistrationStatus::Delivered,
        S::Retrying => pb::RegistrationStatus::Retrying,
        S::Failed => pb::RegistrationStatus::Failed,
        S::Cancelled => pb::RegistrationStatus::Cancelled,
        S::Forgotten => pb::RegistrationStatus::Forgotten,
        S::Paused => pb::RegistrationStatus::Paused,
    }
}

/// Proto status -> domain status (`None` for UNSPECIFIED).
pub(crate) fn domain_status(s: pb::RegistrationStatus) -> Option<domain::RegistrationStatus> {
    domain::RegistrationStatus::parse(s.as_str_name().trim_start_matches("REGISTRATION_STATUS_"))
}

/// A registration.
pub(crate) fn registration(r: &domain::Registration) -> pb::Registration {
    let status = registration_status(r.status);
    let fields = &r.fields;
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let failed = r.status == domain::RegistrationStatus::Failed;
    pb::Registration {
        name: registration_name(&r.tenant, &r.webinar_id, &r.id),
        email: r.email.clone(),
        first_name: r.first_name.clone(),
        last_name: r.last_name.clone(),
        company: r.company.clone().unwrap_or_default(),
        job_title: r.job_title.clone().unwrap_or_default(),
        crm_reference_id: r.crm_reference_id.clone().unwrap_or_default(),
        job_function: text(&fields.job_function),
        company_industry: text(&fields.company_industry),
        company_size: text(&fields.company_size),
        address_street1: text(&fields.address_street1),
        address_street2: text(&fields.address_street2),
        city: text(&fields.city),
        state: text(&fields.state),
        zip: text(&fields.zip),
        country: text(&fields.country),
        work_phone: text(&fields.work_phone),
        partner_ref: text(&fields.partner_ref),
        notes: text(&fields.notes),
        standard_fields: fields
            .standard()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        // Multiple-choice answers also show joined, as ON24 holds them, for callers that
        // read only `question_answers`.
        question_answers: fields
            .answers
            .keys()
            .chain(fields.choices.keys())
            .filter_map(|id| Some((id.clone(), fields.answer_text(id)?)))
            .filter(|(_, answer)| !answer.is_empty())
            .collect(),
        question_choices: fields
            .choices
            .iter()
            .filter(|(_, ticked)| !ticked.is_empty())
            .map(|(id, ticked)| {
                let values = ticked.clone();
                (id.clone(), pb::QuestionChoices { values })
            })
            .collect(),
        status: status as i32,
        on24_event_user_id: r.eventuserid.unwrap_or_default(),
        delivery_attempts: r.attempts,
        last_error: if failed {
            String::new()
        } else {
            r.last_error.clone().unwrap_or_default()
        },
        next_attempt_time: opt_ts(r.next_attempt_at),
        failure_reason: if failed {
            r.last_error.clone().unwrap_or_default()
        } else {
            String::new()
        },
        deliver_time: opt_ts(r.delivered_at),
        create_time: Some(ts(r.created_at)),
        update_time: Some(ts(r.updated_at)),
        origin: match r.origin {
            domain::RegistrationOrigin::Crm => pb::RegistrationOrigin::Crm,
            domain::RegistrationOrigin::On24 => pb::RegistrationOrigin::On24,
        } as i32,
        attendance: match r.attendance {
            domain::Attendance::Unknown => pb::Attendance::Unspecified,
            domain::Attendance::AttendedLive => pb::Attendance::AttendedLive,
            domain::Attendance::AttendedOnDemand => pb::Attendance::AttendedOnDemand,
            domain::Attendance::AttendedBoth => pb::Attendance::AttendedBoth,
            domain::Attendance::NoShow => pb::Attendance::NoShow,
        } as i32,
    }
}

/// One interaction of an attendee.
pub(crate) fn interaction(i: &crate::provider::AttendeeInteraction) -> pb::AttendeeInteraction {
    use crate::provider::InteractionKind as K;
    pb::AttendeeInteraction {
        kind: match i.kind {
            K::Question => pb::InteractionKind::Question,
            K::Poll => pb::InteractionKind::Poll,
            K::Survey => pb::InteractionKind::Survey,
            K::Resource => pb::InteractionKind::Resource,
            K::CallToAction => pb::InteractionKind::CallToAction,
            K::Certification => pb::InteractionKind::Certification,
        } as i32,
        occur_time: opt_ts(i.occurred_at),
        reference: i.reference.clone(),
        prompt: i.prompt.clone(),
        response: i.response.clone(),
        response_time: opt_ts(i.responded_at),
    }
}

/// An attendee's metrics.
pub(crate) fn attendee(tenant: &TenantId, m: &domain::AttendeeMetrics) -> pb::AttendeeMetrics {
    let webinar = webinar_name(tenant, &m.webinar_id);
    let clamp = |v: i64| i32::try_from(v).unwrap_or(i32::MAX);
    let a = &m.activity;
    pb::AttendeeMetrics {
        name: format!(
            "{webinar}/attendeeMetrics/{}",
            m.eventuserid.unwrap_or_default()
        ),
        registration: m
            .registration_id
            .map(|r| registration_name(tenant, &m.webinar_id, &r))
            .unwrap_or_default(),
        email: m.email.clone(),
        crm_reference_id: m.crm_reference_id.clone().unwrap_or_default(),
        on24_event_user_id: m.eventuserid.unwrap_or_default(),
        live_minutes: clamp(a.live_minutes),
        archive_minutes: clamp(a.archive_minutes),
        cumulative_live_minutes: clamp(a.cumulative_live_minutes),
        cumulative_archive_minutes: clamp(a.cumulative_archive_minutes),
        engagement_score: a.engagement_score,
        questions_asked: clamp(a.questions_asked),
        polls_answered: clamp(a.polls_answered),
        surveys_answered: clamp(a.surveys_answered),
        resources_downloaded: clamp(a.resources_downloaded),
        first_live_activity_time: opt_ts(a.first_live_activity_at),
        last_live_activity_time: opt_ts(a.last_live_activity_at),
        first_archive_activity_time: opt_ts(a.first_archive_activity_at),
        last_archive_activity_time: opt_ts(a.last_archive_activity_at),
        live_attendance_percent: m.attendance_percent,
        update_time: Some(ts(m.updated_at)),
    }
}

/// A webinar's aggregates.
pub(crate) fn webinar_metrics(
    tenant: &TenantId,
    webinar: &WebinarId,
    m: &domain::WebinarMetrics,
) -> pb::WebinarMetrics {
    let count = |s: &str| m.registrations_by_status.get(s).copied().unwrap_or(0);
    let attended = |a| m.registrations_by_attendance.get(&a).copied().unwrap_or(0);
    let accepted: i64 = m
        .registrations_by_status
        .iter()
        .filter(|(s, _)| !matches!(s.as_str(), "CANCELLED" | "FORGOTTEN"))
        .map(|(_, n)| n)
        .sum();
    pb::WebinarMetrics {
        name: format!("{}/metrics", webinar_name(tenant, webinar)),
        registration_count: accepted,
        delivered_count: count("DELIVERED"),
        live_attendee_count: m.live_attendees,
        archive_attendee_count: m.on_demand_attendees,
        total_live_minutes: m.total_live_minutes,
        total_archive_minutes: m.total_archive_minutes,
        average_engagement_score: m.average_engagement_score,
        average_live_attendance_percent: m.average_live_attendance_percent,
        questions_asked: m.questions_asked,
        polls_answered: m.polls_answered,
        surveys_answered: m.surveys_answered,
        last_sync_time: opt_ts(m.last_metrics_at),
        next_sync_time: opt_ts(m.next_metrics_at),
        attendance_unknown_count: attended(domain::Attendance::Unknown),
        attended_live_count: attended(domain::Attendance::AttendedLive),
        attended_on_demand_count: attended(domain::Attendance::AttendedOnDemand),
        attended_both_count: attended(domain::Attendance::AttendedBoth),
        no_show_count: attended(domain::Attendance::NoShow),
    }
}

/// An erasure request as the API shows it.
pub(crate) fn erasure_request(
    r: &crate::domain::erasure_requests::ErasureRequest,
) -> proto::webinar::v1::ErasureRequest {
    use crate::domain::erasure_requests::ErasureState as D;
    use proto::webinar::v1::ErasureState as P;
    let state = match r.state {
        D::LocalDone => P::LocalDone,
        D::ProviderPending => P::ProviderPending,
        D::Done => P::Done,
        D::Failed => P::Failed,
    };
    proto::webinar::v1::ErasureRequest {
        name: super::names::erasure_request_name(&r.tenant, &r.id),
        state: state as i32,
        failure_reason: r.failure_reason.clone().unwrap_or_default(),
        forgotten_registration_count: r.registrations,
        deleted_attendee_metrics_count: r.metrics,
        create_time: Some(ts(r.created_at)),
        update_time: Some(ts(r.updated_at)),
        complete_time: r.completed_at.map(ts),
    }
}
