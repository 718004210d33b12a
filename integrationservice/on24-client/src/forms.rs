//! Request bodies the client sends, as ON24's form fields (`AddEventForm`,
//! `UpdateEventForm`, `AddRegistrantForm`, `UpdateRegistrantForm`, `ForgetRegistrantForm`).
//!
//! Each type turns itself into `(field, value)` pairs with the contract's exact field
//! names; checks ON24 would make anyway (duration steps, non-empty email) are made here
//! first so a bad value costs no API call from the client's quota. `Debug` shows which
//! fields are set, never their values: these bodies hold personal data.

use chrono::{DateTime, FixedOffset};

/// Form fields in the order they are sent.
pub type FormFields = Vec<(&'static str, String)>;

/// ON24's `liveStart` accepts `YYYY-MM-DDThh:mm:ss±zz:zz`; sending the offset pins the
/// instant whatever the event's display time zone is.
pub(crate) fn format_live_start(start: &DateTime<FixedOffset>) -> String {
    start.format("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

/// 15–120 minutes in steps of 15, then up to 480 in steps of 30 (the contract's rule).
pub(crate) fn validate_live_duration(minutes: u32) -> Result<(), String> {
    let ok = match minutes {
        15..=120 => minutes.is_multiple_of(15),
        121..=480 => minutes.is_multiple_of(30),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "liveDuration {minutes} is not 15-120 minutes in steps of 15 or up to 480 in steps of 30"
        ))
    }
}

fn yn(b: bool) -> String {
    if b { "Y" } else { "N" }.to_owned()
}

fn push_opt(fields: &mut FormFields, name: &'static str, value: &Option<String>) {
    if let Some(v) = value {
        fields.push((name, v.clone()));
    }
}

fn set_names(fields: &FormFields) -> Vec<&'static str> {
    fields.iter().map(|(k, _)| *k).collect()
}

/// A new webinar (`AddEventForm`).
#[derive(Clone, Default)]
pub struct NewEvent {
    /// Under 251 characters.
    pub title: String,
    pub live_start: Option<DateTime<FixedOffset>>,
    pub live_duration_minutes: u32,
    /// Display time zone as ON24 names them (e.g. `America/Los_Angeles`).
    pub time_zone: String,
    /// ON24 event type (from `getEventTypes`); left to the account default when `None`.
    pub event_type: Option<String>,
    pub language_cd: String,
    pub event_abstract: Option<String>,
    pub promotional_summary: Option<String>,
    pub campaign_code: Option<String>,
    pub archive_available: Option<bool>,
    pub test_event: Option<bool>,
    /// Up to 10 campaign tags.
    pub tag_campaign: Vec<String>,
}

impl NewEvent {
    pub fn new(title: impl Into<String>, live_start: DateTime<FixedOffset>, minutes: u32) -> Self {
        Self {
            title: title.into(),
            live_start: Some(live_start),
            live_duration_minutes: minutes,
            time_zone: "America/Los_Angeles".into(),
            language_cd: "en".into(),
            ..Self::default()
        }
    }

    pub fn to_form(&self) -> Result<FormFields, String> {
        let title = self.title.trim();
        if title.is_empty() || title.chars().count() > 250 {
            return Err("title must be 1 to 250 characters".into());
        }
        let start = self.live_start.as_ref().ok_or("liveStart is required")?;
        validate_live_duration(self.live_duration_minutes)?;
        if self.tag_campaign.len() > 10 {
            return Err("at most 10 tagCampaign values".into());
        }
        let mut f: FormFields = vec![
            ("title", title.to_owned()),
            ("liveStart", format_live_start(start)),
            ("liveDuration", self.live_duration_minutes.to_string()),
            ("timeZone", self.time_zone.clone()),
            ("languageCd", self.language_cd.clone()),
        ];
        push_opt(&mut f, "eventType", &self.event_type);
        push_opt(&mut f, "eventAbstract", &self.event_abstract);
        push_opt(&mut f, "promotionalSummary", &self.promotional_summary);
        push_opt(&mut f, "campaignCode", &self.campaign_code);
        if let Some(b) = self.archive_available {
            f.push(("archiveAvailable", yn(b)));
        }
        if let Some(b) = self.test_event {
            f.push(("testevent", yn(b)));
        }
        // Repeated field: ON24 reads several `tagCampaign` values.
        f.extend(self.tag_campaign.iter().map(|t| ("tagCampaign", t.clone())));
        Ok(f)
    }
}

impl std::fmt::Debug for NewEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewEvent")
            .field("live_start", &self.live_start)
            .field("live_duration_minutes", &self.live_duration_minutes)
            .finish_non_exhaustive()
    }
}

/// Changes to a webinar (`UpdateEventForm`); `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct EventUpdate {
    pub title: Option<String>,
    pub live_start: Option<DateTime<FixedOffset>>,
    pub live_duration_minutes: Option<u32>,
    pub time_zone: Option<String>,
    /// `languageCd` (ON24's `UpdateEventForm` takes it like the create form).
    pub language_cd: Option<String>,
    pub promotional_summary: Option<String>,
    pub campaign_code: Option<String>,
    pub archive_available: Option<bool>,
    pub enable_registration: Option<bool>,
}

impl EventUpdate {
    pub fn to_form(&self) -> Result<FormFields, String> {
        let mut f = FormFields::new();
        if let Some(t) = &self.title {
            if t.trim().is_empty() || t.chars().count() > 255 {
                return Err("title must be 1 to 255 characters".into());
            }
            f.push(("title", t.trim().to_owned()));
        }
        if let Some(s) = &self.live_start {
            f.push(("liveStart", format_live_start(s)));
        }
        if let Some(m) = self.live_duration_minutes {
            validate_live_duration(m)?;
            f.push(("liveDuration", m.to_string()));
        }
        push_opt(&mut f, "timeZone", &self.time_zone);
        push_opt(&mut f, "languageCd", &self.language_cd);
        push_opt(&mut f, "promotionalSummary", &self.promotional_summary);
        push_opt(&mut f, "campaignCode", &self.campaign_code);
        if let Some(b) = self.archive_available {
            f.push(("archiveAvailable", yn(b)));
        }
        if let Some(b) = self.enable_registration {
            f.push(("enableRegistration", yn(b)));
        }
        if f.is_empty() {
            return Err("an event update must change at least one field".into());
        }
        Ok(f)
    }
}

/// A registrant's details (`AddRegistrantForm` / `UpdateRegistrantForm`), keyed by email.
#[derive(Clone, Default)]
pub struct RegistrantForm {
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company: Option<String>,
    pub job_title: Option<String>,
    pub job_function: Option<String>,
    pub company_industry: Option<String>,
    pub company_size: Option<String>,
    pub address_street1: Option<String>,
    pub address_street2: Option<String>,
    pub country: Option<String>,
    pub state: Option<String>,
    pub city: Option<String>,
    pub zip: Option<String>,
    pub work_phone: Option<String>,
    pub partner_ref: Option<String>,
    pub notes: Option<String>,
    /// Our own id for the person, echoed back by ON24 as `exteventusercd`.
    pub ext_event_user_cd: Option<String>,
    pub marketing_email: Option<bool>,
    pub event_email: Option<bool>,
    /// Custom fields `std1` … `std10`.
    pub std: [Option<String>; 10],
}

const STD_NAMES: [&str; 10] = [
    "std1", "std2", "std3", "std4", "std5", "std6", "std7", "std8", "std9", "std10",
];

impl RegistrantForm {
    pub fn new(email: impl Into<String>) -> Self {
        Self {
            email: email.into(),
            ..Self::default()
        }
    }

    pub fn to_form(&self) -> Result<FormFields, String> {
        let mut f = vec![("email", checked_email(&self.email)?)];
        push_opt(&mut f, "firstName", &self.first_name);
        push_opt(&mut f, "lastName", &self.last_name);
        push_opt(&mut f, "company", &self.company);
        push_opt(&mut f, "jobTitle", &self.job_title);
        push_opt(&mut f, "jobFunction", &self.job_function);
        push_opt(&mut f, "companyIndustry", &self.company_industry);
        push_opt(&mut f, "companySize", &self.company_size);
        push_opt(&mut f, "addressStreet1", &self.address_street1);
        push_opt(&mut f, "addressStreet2", &self.address_street2);
        push_opt(&mut f, "country", &self.country);
        push_opt(&mut f, "state", &self.state);
        push_opt(&mut f, "city", &self.city);
        push_opt(&mut f, "zip", &self.zip);
        push_opt(&mut f, "workPhone", &self.work_phone);
        push_opt(&mut f, "partnerRef", &self.partner_ref);
        push_opt(&mut f, "notes", &self.notes);
        push_opt(&mut f, "extEventUserCd", &self.ext_event_user_cd);
        if let Some(b) = self.marketing_email {
            f.push(("marketingEmail", yn(b)));
        }
        if let Some(b) = self.event_email {
            f.push(("eventEmail", yn(b)));
        }
        for (name, value) in STD_NAMES.iter().zip(&self.std) {
            push_opt(&mut f, name, value);
        }
        Ok(f)
    }
}

impl std::fmt::Debug for RegistrantForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let fields = self.to_form().map(|f| set_names(&f)).unwrap_or_default();
        f.debug_struct("RegistrantForm")
            .field("fields_set", &fields)
            .finish_non_exhaustive()
    }
}

/// An update by email (`PATCH .../registrant`): the details plus blocking.
#[derive(Debug, Clone, Default)]
pub struct RegistrantUpdate {
    pub registrant: RegistrantForm,
    pub is_blocked: Option<bool>,
}

impl RegistrantUpdate {
    pub fn to_form(&self) -> Result<FormFields, String> {
        let mut f = self.registrant.to_form()?;
        if let Some(b) = self.is_blocked {
            f.push(("isBlocked", yn(b)));
        }
        Ok(f)
    }
}

/// Trims an email and makes the cheap checks ON24 makes; never echoes the value.
pub(crate) fn checked_email(email: &str) -> Result<String, String> {
    let e = email.trim();
    if e.is_empty() || e.len() > 254 || !e.contains('@') || e.chars().any(char::is_control) {
        return Err("email is missing or malformed".into());
    }
    Ok(e.to_owned())
}

/// ON24 accepts at most 100,000 users per forget request.
pub const MAX_FORGET_EMAILS: usize = 100_000;

/// `ForgetRegistrantForm`: comma-separated emails, optionally limited to one event.
pub(crate) fn forget_form(emails: &[String], event_id: Option<u64>) -> Result<FormFields, String> {
    if emails.is_empty() || emails.len() > MAX_FORGET_EMAILS {
        return Err(format!("forget needs 1 to {MAX_FORGET_EMAILS} emails"));
    }
    let checked: Result<Vec<String>, String> = emails
        .iter()
        .map(|e| {
            let e = checked_email(e)?;
            // A comma would split one address into two.
            if e.contains(',') {
                return Err("email is missing or malformed".to_owned());
            }
            Ok(e)
        })
        .collect();
    let mut f = vec![("email", checked?.join(","))];
    if let Some(id) = event_id {
        f.push(("eventid", id.to_string()));
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_follow_the_contract_steps() {
        for ok in [15, 30, 60, 120, 150, 480] {
            assert!(validate_live_duration(ok).is_ok(), "{ok}");
        }
        for bad in [0, 10, 125, 135, 490, 510] {
            assert!(validate_live_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn new_event_form_has_contract_names_and_offset_start() {
        let start = DateTime::parse_from_rfc3339("2026-12-01T17:00:00+01:00").expect("date");
        let mut e = NewEvent::new("Launch", start, 60);
        e.tag_campaign = vec!["a".into(), "b".into()];
        let f = e.to_form().expect("valid");
        assert!(f.contains(&("liveStart", "2026-12-01T17:00:00+01:00".into())));
        assert!(f.contains(&("liveDuration", "60".into())));
        assert_eq!(f.iter().filter(|(k, _)| *k == "tagCampaign").count(), 2);
        e.title = " ".into();
        assert!(e.to_form().is_err());
    }

    #[test]
    fn registrant_debug_hides_personal_data() {
        let mut r = RegistrantForm::new("jane.doe@example.com");
        r.last_name = Some("Doe".into());
        let dbg = format!("{r:?}");
        assert!(!dbg.contains("jane") && !dbg.contains("Doe"), "{dbg}");
        assert!(dbg.contains("lastName"));
        assert!(RegistrantForm::new("nope").to_form().is_err());
        assert!(forget_form(&["a@x.io".into(), "b@y.io".into()], Some(5)).is_ok());
        assert!(forget_form(&["a@x.io,b@y.io".into()], None).is_err());
        assert!(forget_form(&[], None).is_err());
    }
}
