//! Typed ON24 responses about people: registrants, attendee analytics, viewing sessions
//! and forget (GDPR) answers. Same rules as `types`: every field optional and lenient,
//! unknown fields ignored, ids as integers. These values hold personal data: callers must
//! not log them; the client never does.

use serde::Deserialize;

use super::de;

/// A registrant as create/update/list/get return it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Registrant {
    #[serde(deserialize_with = "de::opt_u64")]
    pub eventuserid: Option<u64>,
    #[serde(deserialize_with = "de::opt_u64")]
    pub eventid: Option<u64>,
    #[serde(deserialize_with = "de::opt_u64")]
    pub clientid: Option<u64>,
    #[serde(deserialize_with = "de::opt_string")]
    pub email: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub firstname: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub lastname: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub company: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub jobtitle: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub country: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub partnerref: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub addressstreet1: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub addressstreet2: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub city: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub state: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub zip: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub workphone: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub jobfunction: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub companyindustry: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub companysize: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub notes: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub std1: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub std2: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub std3: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub std4: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub std5: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub std6: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub std7: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub std8: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub std9: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub std10: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub exteventusercd: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub userstatus: Option<String>,
    #[serde(deserialize_with = "de::opt_bool")]
    pub isblocked: Option<bool>,
    #[serde(deserialize_with = "de::opt_string")]
    pub createtimestamp: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub lastactivity: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RegistrantEnvelope {
    pub registrant: Option<Registrant>,
}

/// `GET .../event/{eventId}/registrant` (one answer, no pagination in the contract) and
/// `GET /client/{clientId}/registrant` (paginated).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RegistrantPage {
    #[serde(deserialize_with = "de::opt_u64")]
    pub eventid: Option<u64>,
    #[serde(deserialize_with = "de::opt_u64")]
    pub totalregistrants: Option<u64>,
    #[serde(deserialize_with = "de::opt_u64")]
    pub pagecount: Option<u64>,
    #[serde(deserialize_with = "de::opt_u64")]
    pub currentpage: Option<u64>,
    #[serde(deserialize_with = "de::lenient_vec")]
    pub registrants: Vec<Registrant>,
}

/// One attendee's analytics (`.../attendee`). Minutes are whole numbers rounded by ON24
/// (any viewing under one minute reads 1); times are Pacific unless an offset is given.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Attendee {
    #[serde(deserialize_with = "de::opt_u64")]
    pub eventuserid: Option<u64>,
    #[serde(deserialize_with = "de::opt_u64")]
    pub eventid: Option<u64>,
    #[serde(deserialize_with = "de::opt_string")]
    pub email: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub exteventusercd: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub userstatus: Option<String>,
    #[serde(deserialize_with = "de::opt_bool")]
    pub isblocked: Option<bool>,
    #[serde(deserialize_with = "de::opt_f64")]
    pub engagementscore: Option<f64>,
    #[serde(deserialize_with = "de::opt_u64")]
    pub liveminutes: Option<u64>,
    #[serde(deserialize_with = "de::opt_u64")]
    pub archiveminutes: Option<u64>,
    #[serde(deserialize_with = "de::opt_u64")]
    pub cumulativeliveminutes: Option<u64>,
    #[serde(deserialize_with = "de::opt_u64")]
    pub cumulativearchiveminutes: Option<u64>,
    #[serde(deserialize_with = "de::opt_u64")]
    pub liveviewed: Option<u64>,
    #[serde(deserialize_with = "de::opt_u64")]
    pub archiveviewed: Option<u64>,
    #[serde(deserialize_with = "de::opt_string")]
    pub firstliveactivity: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub lastliveactivity: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub firstarchiveactivity: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub lastarchiveactivity: Option<String>,
    #[serde(deserialize_with = "de::opt_u64")]
    pub askedquestions: Option<u64>,
    #[serde(deserialize_with = "de::opt_u64")]
    pub answeredpolls: Option<u64>,
    #[serde(deserialize_with = "de::opt_u64")]
    pub answeredsurveys: Option<u64>,
    #[serde(deserialize_with = "de::opt_u64")]
    pub resourcesdownloaded: Option<u64>,
    #[serde(deserialize_with = "de::opt_u64")]
    pub attendeesessions: Option<u64>,
    #[serde(deserialize_with = "de::opt_string")]
    pub partnerref: Option<String>,
    /// Questions asked, with the presenter's answer (Elite accounts).
    #[serde(deserialize_with = "de::lenient_vec")]
    pub questions: Vec<AttendeeQuestion>,
    /// Poll answers.
    #[serde(deserialize_with = "de::lenient_vec")]
    pub polls: Vec<AttendeePoll>,
    /// Survey answers, per survey.
    #[serde(deserialize_with = "de::lenient_vec")]
    pub surveys: Vec<AttendeeSurvey>,
    /// Resources viewed or downloaded.
    #[serde(deserialize_with = "de::lenient_vec")]
    pub resources: Vec<AttendeeResource>,
    /// Calls to action clicked.
    #[serde(deserialize_with = "de::lenient_vec")]
    pub calltoactions: Vec<AttendeeCallToAction>,
    /// Certifications earned or attempted.
    #[serde(deserialize_with = "de::lenient_vec")]
    pub certifications: Vec<AttendeeCertification>,
}

/// A question an attendee asked (`questions[]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AttendeeQuestion {
    #[serde(deserialize_with = "de::opt_string")]
    pub questionid: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub createtimestamp: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub content: Option<String>,
    /// `{createtimestamp, content, presenterid, presentername, privacy}`, or null.
    pub answer: Option<serde_json::Value>,
}

/// A poll answer (`polls[]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AttendeePoll {
    #[serde(deserialize_with = "de::opt_string")]
    pub pollid: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub pollsubmittedtimestamp: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub pollquestion: Option<String>,
    #[serde(deserialize_with = "de::lenient_vec")]
    pub pollanswers: Vec<String>,
}

/// A submitted survey (`surveys[]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AttendeeSurvey {
    #[serde(deserialize_with = "de::opt_string")]
    pub surveyid: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub surveysubmittedtimestamp: Option<String>,
    #[serde(deserialize_with = "de::lenient_vec")]
    pub surveyquestions: Vec<AttendeeSurveyQuestion>,
}

/// One answered question of a survey.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AttendeeSurveyQuestion {
    #[serde(deserialize_with = "de::opt_string")]
    pub surveyquestionid: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub surveyquestion: Option<String>,
    #[serde(deserialize_with = "de::lenient_vec")]
    pub surveyanswers: Vec<String>,
}

/// A resource viewed (`resources[]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AttendeeResource {
    #[serde(deserialize_with = "de::opt_string")]
    pub resourceid: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub resourceviewed: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub resourceviewedtimestamp: Option<String>,
}

/// A call to action clicked (`calltoactions[]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AttendeeCallToAction {
    #[serde(deserialize_with = "de::opt_string")]
    pub ctaid: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub ctaname: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub action: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub date: Option<String>,
}

/// A certification (`certifications[]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AttendeeCertification {
    #[serde(deserialize_with = "de::opt_string")]
    pub certificationid: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub certificationresult: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub certificationname: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub certificationtimestamp: Option<String>,
}

/// `GET .../event/{eventId}/attendee` (one answer) and `GET /client/{clientId}/attendee`
/// (paginated).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AttendeePage {
    #[serde(deserialize_with = "de::opt_u64")]
    pub eventid: Option<u64>,
    #[serde(deserialize_with = "de::opt_u64")]
    pub totalattendees: Option<u64>,
    #[serde(deserialize_with = "de::opt_u64")]
    pub pagecount: Option<u64>,
    #[serde(deserialize_with = "de::opt_u64")]
    pub currentpage: Option<u64>,
    #[serde(deserialize_with = "de::lenient_vec")]
    pub attendees: Vec<Attendee>,
}

/// One viewing session (`.../attendeesession`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AttendeeSession {
    #[serde(deserialize_with = "de::opt_u64")]
    pub id: Option<u64>,
    #[serde(deserialize_with = "de::opt_u64")]
    pub eventuserid: Option<u64>,
    #[serde(deserialize_with = "de::opt_string")]
    pub email: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub exteventusercd: Option<String>,
    /// `hh:mm:ss`.
    #[serde(deserialize_with = "de::opt_string")]
    pub duration: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub starttime: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub endtime: Option<String>,
    /// "Live" or "Archived".
    #[serde(deserialize_with = "de::opt_string")]
    pub usage: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AttendeeSessionPage {
    #[serde(deserialize_with = "de::opt_u64")]
    pub totalattendeesessions: Option<u64>,
    #[serde(deserialize_with = "de::opt_u64")]
    pub pagecount: Option<u64>,
    #[serde(deserialize_with = "de::opt_u64")]
    pub currentpage: Option<u64>,
    #[serde(deserialize_with = "de::lenient_vec")]
    pub attendeesession: Vec<AttendeeSession>,
}

/// Forget answers: `{"deletedregistrants": {"eventuserids": [...]}}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ForgetResponse {
    pub deletedregistrants: DeletedRegistrants,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct DeletedRegistrants {
    #[serde(deserialize_with = "lenient_ids")]
    pub eventuserids: Vec<u64>,
}

fn lenient_ids<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
    let raw: Vec<serde_json::Value> = de::lenient_vec(d)?;
    Ok(raw
        .into_iter()
        .filter_map(|v| match v {
            serde_json::Value::Number(n) => n.as_u64(),
            serde_json::Value::String(s) => s.trim().parse().ok(),
            _ => None,
        })
        .collect())
}
