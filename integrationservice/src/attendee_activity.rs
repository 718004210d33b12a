//! What one attendee did in one webinar, named once ([`AttendeeActivity`]): the provider
//! parses it from ON24's attendee report, the store keeps it in `attendee_metrics`, the
//! domain compares and returns it, and the API maps it to the proto. A leaf: it imports
//! nothing of the service, so the provider seam, the store and the domain can all use it.

/// One attendee's viewing and engagement in one webinar, as the provider last reported it.
/// Times are milliseconds since the Unix epoch.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AttendeeActivity {
    /// Minutes watched live.
    pub live_minutes: i64,
    /// Minutes watched on demand.
    pub archive_minutes: i64,
    /// Live minutes across the attendee's sessions, as ON24 sums them.
    pub cumulative_live_minutes: i64,
    /// On-demand minutes across the attendee's sessions.
    pub cumulative_archive_minutes: i64,
    /// ON24's engagement score.
    pub engagement_score: f64,
    /// Questions the attendee asked.
    pub questions_asked: i64,
    /// Polls the attendee answered.
    pub polls_answered: i64,
    /// Surveys the attendee answered.
    pub surveys_answered: i64,
    /// Resources the attendee downloaded.
    pub resources_downloaded: i64,
    /// First live viewing activity.
    pub first_live_activity_at: Option<i64>,
    /// Last live viewing activity.
    pub last_live_activity_at: Option<i64>,
    /// First on-demand viewing activity.
    pub first_archive_activity_at: Option<i64>,
    /// Last on-demand viewing activity.
    pub last_archive_activity_at: Option<i64>,
}

/// What kind of thing an attendee did, item by item, in ON24's attendee report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InteractionKind {
    /// Asked a question (`questions`); the response is the presenter's answer.
    Question,
    /// Answered a poll (`polls`); the response is the answers chosen.
    Poll,
    /// Answered a survey question (`surveys`); the response is the answers chosen.
    Survey,
    /// Viewed or downloaded a resource (`resources`).
    Resource,
    /// Clicked a call to action (`calltoactions`); the response is its action (a URL).
    CallToAction,
    /// Took a certification (`certifications`); the response is its result.
    Certification,
}

impl InteractionKind {
    /// Every kind, in the order a report lists them.
    pub const ALL: [Self; 6] = [
        Self::Question,
        Self::Poll,
        Self::Survey,
        Self::Resource,
        Self::CallToAction,
        Self::Certification,
    ];

    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Question => "QUESTION",
            Self::Poll => "POLL",
            Self::Survey => "SURVEY",
            Self::Resource => "RESOURCE",
            Self::CallToAction => "CALL_TO_ACTION",
            Self::Certification => "CERTIFICATION",
        }
    }

    /// Reads a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One thing an attendee did in one webinar, as the provider last reported it. Its texts are
/// personal data (a question can say anything): `Debug` shows the kind only.
#[derive(Clone, PartialEq, Eq)]
pub struct AttendeeInteraction {
    /// What kind.
    pub kind: InteractionKind,
    /// When (milliseconds since the Unix epoch), if the provider says.
    pub occurred_at: Option<i64>,
    /// The provider's id of the item (question id, poll id, resource id, ...); may be empty.
    pub reference: String,
    /// The question asked, the poll or survey question, the resource, CTA or certification
    /// name.
    pub prompt: String,
    /// The presenter's answer, the answers chosen (joined with "; "), the CTA's action or
    /// the certification result; empty when none.
    pub response: String,
    /// When the response was given (a question's answer), if known.
    pub responded_at: Option<i64>,
}

impl std::fmt::Debug for AttendeeInteraction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttendeeInteraction")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}
