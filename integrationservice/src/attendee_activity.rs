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
