//! Access and portability (GDPR Art. 15 and 20): everything a tenant holds about one person,
//! gathered by their email — their registrations across webinars, their attendee metrics and
//! interactions, the
//! erasure requests that concern them and whether they are suppressed. Erasure requests and
//! the suppression list hold no address, so they are matched by the keyed hash of it
//! (`domain::suppression`); a tenant that never forgot anyone has no hash key and nothing
//! there to match.

use std::collections::HashMap;

use super::erasure_requests::{self as erasure_rules, ErasureRequest};
use super::{AttendeeMetrics, Email, Engine, Error, Registration, TenantId, suppression};
use crate::ids::WebinarId;
use crate::provider::AttendeeInteraction;
use crate::store::models::InteractionRow;
use crate::store::models::{ErasureRequestRow, MetricsRow, RegistrationRow, WebinarRow};
use crate::store::{
    erasure_requests, interactions, metrics, registrations, suppressions, webinars,
};

/// What the tenant holds about one person.
#[derive(Clone, Debug)]
pub struct PersonData {
    /// Their registrations in every webinar, oldest first.
    pub registrations: Vec<Registration>,
    /// Their attendee metrics, one per webinar they attended.
    pub metrics: Vec<AttendeeMetrics>,
    /// Their interactions, per webinar with any, in the provider's report order.
    pub interactions: Vec<(WebinarId, Vec<AttendeeInteraction>)>,
    /// The erasure requests that concern them (made with this address), oldest first.
    pub erasure_requests: Vec<ErasureRequest>,
    /// Whether they are on the tenant's suppression list.
    pub suppressed: bool,
}

impl PersonData {
    /// How many items the export holds (for the access audit).
    pub fn item_count(&self) -> usize {
        self.registrations.len()
            + self.metrics.len()
            + self
                .interactions
                .iter()
                .map(|(_, i)| i.len())
                .sum::<usize>()
            + self.erasure_requests.len()
            + usize::from(self.suppressed)
    }
}

/// The access-request service.
#[derive(Debug)]
pub struct PersonDataService<'a> {
    pub(crate) engine: &'a Engine,
}

/// The rows read in one database call.
struct Rows {
    registrations: Vec<RegistrationRow>,
    metrics: Vec<(MetricsRow, WebinarRow, Option<RegistrationRow>)>,
    interactions: Vec<InteractionRow>,
    erasure_requests: Vec<ErasureRequestRow>,
    suppressed: bool,
}

impl PersonDataService<'_> {
    /// Everything held about `email` in the tenant.
    pub async fn export(&self, tenant: &TenantId, email: &Email) -> Result<PersonData, Error> {
        // No key means the tenant never forgot anyone: no request or suppression to match.
        let hash = match suppression::email_hasher(self.engine, tenant, false).await? {
            Some(hasher) => Some(hasher.hash(email.as_str())?),
            None => None,
        };
        let fields = super::tenant_keys::field_cipher(self.engine, tenant, false).await?;
        let (t, e) = (tenant.clone(), email.as_str().to_owned());
        let rows = self
            .engine
            .store
            .run(move |conn| {
                let mut regs = registrations::by_email_all_webinars(conn, &fields, &t, &e)?;
                regs.sort_by(|a, b| a.id.cmp(&b.id));
                let by_webinar: HashMap<String, RegistrationRow> = regs
                    .iter()
                    .map(|r| (r.webinar_id.clone(), r.clone()))
                    .collect();
                let mut joined = Vec::new();
                for row in metrics::for_email_all_webinars(conn, &fields, &t, &e)? {
                    let webinar_id = crate::ids::WebinarId::from_stored(&row.webinar_id);
                    let Some(webinar) = webinars::find(conn, &t, &webinar_id)? else {
                        continue;
                    };
                    let registration = by_webinar.get(&row.webinar_id).cloned();
                    joined.push((row, webinar, registration));
                }
                let (requests, suppressed) = match &hash {
                    Some(h) => (
                        erasure_requests::by_email_hash(conn, &t, h)?,
                        !suppressions::present(conn, &t, std::slice::from_ref(h))?.is_empty(),
                    ),
                    None => (Vec::new(), false),
                };
                let interactions = interactions::for_email_all_webinars(conn, &fields, &t, &e)?;
                Ok::<_, Error>(Rows {
                    registrations: regs,
                    metrics: joined,
                    interactions,
                    erasure_requests: requests,
                    suppressed,
                })
            })
            .await?;
        Ok(PersonData {
            registrations: rows
                .registrations
                .iter()
                .map(super::registrations::view)
                .collect(),
            metrics: rows
                .metrics
                .iter()
                .map(|(m, w, r)| super::metrics::joined(m, w, r.as_ref()))
                .collect(),
            interactions: by_webinar(&rows.interactions),
            erasure_requests: rows
                .erasure_requests
                .iter()
                .map(erasure_rules::view)
                .collect(),
            suppressed: rows.suppressed,
        })
    }
}

/// Interaction rows (ordered by webinar, then position) grouped per webinar.
fn by_webinar(rows: &[InteractionRow]) -> Vec<(WebinarId, Vec<AttendeeInteraction>)> {
    let mut out: Vec<(WebinarId, Vec<AttendeeInteraction>)> = Vec::new();
    for row in rows {
        let webinar = WebinarId::from_stored(&row.webinar_id);
        match out.last_mut() {
            Some((last, items)) if *last == webinar => items.push(row.interaction()),
            _ => out.push((webinar, vec![row.interaction()])),
        }
    }
    out
}
