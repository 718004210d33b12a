//! Typed ON24 responses about people: registrants, attendee analytics, viewing sessions
//! and forget (GDPR) answers. Same rules as `types`: every field optional and lenient,
//! unknown fields ignored, ids as integers. These values hold personal data: callers must
//! not log them; the client never does.

use serde::Deserialize;

use super::de;

de::lenient_record! {
    /// A registrant as create/update/list/get return it.
    pub struct Registrant {
        pub eventuserid: Option<u64>,
        pub eventid: Option<u64>,
        pub clientid: Option<u64>,
        pub email: Option<String>,
        pub firstname: Option<String>,
        pub lastname: Option<String>,
        pub company: Option<String>,
        pub jobtitle: Option<String>,
        pub country: Option<String>,
        pub partnerref: Option<String>,
        pub addressstreet1: Option<String>,
        pub addressstreet2: Option<String>,
        pub city: Option<String>,
        pub state: Option<String>,
        pub zip: Option<String>,
        pub workphone: Option<String>,
        pub jobfunction: Option<String>,
        pub companyindustry: Option<String>,
        pub companysize: Option<String>,
        pub notes: Option<String>,
        pub std1: Option<String>,
        pub std2: Option<String>,
        pub std3: Option<String>,
        pub std4: Option<String>,
        pub std5: Option<String>,
        pub std6: Option<String>,
        pub std7: Option<String>,
        pub std8: Option<String>,
        pub std9: Option<String>,
        pub std10: Option<String>,
        pub exteventusercd: Option<String>,
        pub userstatus: Option<String>,
        pub isblocked: Option<bool>,
        pub createtimestamp: Option<String>,
        pub lastactivity: Option<String>,
    }
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

de::lenient_record! {
    /// One attendee's analytics (`.../attendee`). Minutes are whole numbers rounded by ON24
    /// (any viewing under one minute reads 1); times are Pacific unless an offset is given.
    pub struct Attendee {
        pub eventuserid: Option<u64>,
        pub eventid: Option<u64>,
        pub email: Option<String>,
        pub exteventusercd: Option<String>,
        pub userstatus: Option<String>,
        pub isblocked: Option<bool>,
        pub engagementscore: Option<f64>,
        pub liveminutes: Option<u64>,
        pub archiveminutes: Option<u64>,
        pub cumulativeliveminutes: Option<u64>,
        pub cumulativearchiveminutes: Option<u64>,
        pub liveviewed: Option<u64>,
        pub archiveviewed: Option<u64>,
        pub firstliveactivity: Option<String>,
        pub lastliveactivity: Option<String>,
        pub firstarchiveactivity: Option<String>,
        pub lastarchiveactivity: Option<String>,
        pub askedquestions: Option<u64>,
        pub answeredpolls: Option<u64>,
        pub answeredsurveys: Option<u64>,
        pub resourcesdownloaded: Option<u64>,
        pub attendeesessions: Option<u64>,
        pub partnerref: Option<String>,
        /// Questions asked, with the presenter's answer (Elite accounts).
        pub questions: Vec<AttendeeQuestion>,
        /// Poll answers.
        pub polls: Vec<AttendeePoll>,
        /// Survey answers, per survey.
        pub surveys: Vec<AttendeeSurvey>,
        /// Resources viewed or downloaded.
        pub resources: Vec<AttendeeResource>,
        /// Calls to action clicked.
        pub calltoactions: Vec<AttendeeCallToAction>,
        /// Certifications earned or attempted.
        pub certifications: Vec<AttendeeCertification>,
    }
}

de::lenient_record! {
    /// A question an attendee asked (`questions[]`).
    pub struct AttendeeQuestion {
        pub questionid: Option<String>,
        pub createtimestamp: Option<String>,
        pub content: Option<String>,
        /// The presenter's answer, when ON24 sends one as an object.
        pub answer: Option<QuestionAnswer>,
    }
}

/// The presenter's answer to a question: ON24 sends `{createtimestamp, content, presenterid,
/// presentername, privacy}` or null; only the text and its time are read. A member that is
/// not a string reads as `None`, and an answer that is not an object as no answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuestionAnswer {
    pub createtimestamp: Option<String>,
    pub content: Option<String>,
}

impl de::LenientField for Option<QuestionAnswer> {
    fn read<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Option<QuestionAnswer>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an answer object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let [createtimestamp, content] =
                    de::object_strings(&mut map, ["createtimestamp", "content"])?;
                Ok(Some(QuestionAnswer {
                    createtimestamp,
                    content,
                }))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Self::Value, A::Error> {
                de::drain_seq(&mut seq)?;
                Ok(None)
            }
            fn visit_some<D: serde::Deserializer<'de>>(
                self,
                d: D,
            ) -> Result<Self::Value, D::Error> {
                d.deserialize_any(self)
            }
            de::scalars_are_none!();
        }
        d.deserialize_any(V)
    }
}

de::lenient_record! {
    /// A poll answer (`polls[]`).
    pub struct AttendeePoll {
        pub pollid: Option<String>,
        pub pollsubmittedtimestamp: Option<String>,
        pub pollquestion: Option<String>,
        pub pollanswers: Vec<String>,
    }
}

de::lenient_record! {
    /// A submitted survey (`surveys[]`).
    pub struct AttendeeSurvey {
        pub surveyid: Option<String>,
        pub surveysubmittedtimestamp: Option<String>,
        pub surveyquestions: Vec<AttendeeSurveyQuestion>,
    }
}

de::lenient_record! {
    /// One answered question of a survey.
    pub struct AttendeeSurveyQuestion {
        pub surveyquestionid: Option<String>,
        pub surveyquestion: Option<String>,
        pub surveyanswers: Vec<String>,
    }
}

de::lenient_record! {
    /// A resource viewed (`resources[]`).
    pub struct AttendeeResource {
        pub resourceid: Option<String>,
        pub resourceviewed: Option<String>,
        pub resourceviewedtimestamp: Option<String>,
    }
}

de::lenient_record! {
    /// A call to action clicked (`calltoactions[]`).
    pub struct AttendeeCallToAction {
        pub ctaid: Option<String>,
        pub ctaname: Option<String>,
        pub action: Option<String>,
        pub date: Option<String>,
    }
}

de::lenient_record! {
    /// A certification (`certifications[]`).
    pub struct AttendeeCertification {
        pub certificationid: Option<String>,
        pub certificationresult: Option<String>,
        pub certificationname: Option<String>,
        pub certificationtimestamp: Option<String>,
    }
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

de::lenient_record! {
    /// One viewing session (`.../attendeesession`).
    pub struct AttendeeSession {
        pub id: Option<u64>,
        pub eventuserid: Option<u64>,
        pub email: Option<String>,
        pub exteventusercd: Option<String>,
        /// `hh:mm:ss`.
        pub duration: Option<String>,
        pub starttime: Option<String>,
        pub endtime: Option<String>,
        /// "Live" or "Archived".
        pub usage: Option<String>,
    }
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
    #[serde(deserialize_with = "de::lenient_ids")]
    pub eventuserids: Vec<u64>,
}
