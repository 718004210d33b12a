//! Data minimisation: a tenant keeps only the optional registrant fields it needs, and may
//! keep attendee metrics only for people its CRM registered.
//!
//! Optional fields outside the tenant's allowlist are dropped from every registration and
//! update before they are stored, so they are never stored and never sent to ON24 (deliveries
//! are built from the stored row). Email, first and last name are required by ON24 and always
//! kept; the CRM's own contact reference is kept as the link back to the CRM. Narrowing the
//! list applies to writes from then on; what is stored already stays until it is updated,
//! forgotten or purged.

use super::{Engine, Error, RegistrantField, RegistrationInput, RegistrationPatch, TenantId};
use crate::store::minimisation::{self as store, MinimisationRow};

/// An optional registrant field a tenant may keep or drop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptionalField {
    /// `company`.
    Company,
    /// `job_title`.
    JobTitle,
    /// One of the other ON24 fields (`city`, `std1`, ...).
    Other(RegistrantField),
}

impl OptionalField {
    /// Every optional field, in proto order.
    pub fn all() -> Vec<Self> {
        let mut all = vec![Self::Company, Self::JobTitle];
        all.extend(RegistrantField::ALL.iter().copied().map(Self::Other));
        all
    }

    /// The proto field name (`std1`..`std10` for ON24's custom fields).
    pub fn name(self) -> &'static str {
        match self {
            Self::Company => "company",
            Self::JobTitle => "job_title",
            Self::Other(f) => f.name(),
        }
    }

    /// The field named `name`.
    pub fn parse(name: &str) -> Result<Self, super::Invalid> {
        Self::all()
            .into_iter()
            .find(|f| f.name() == name)
            .ok_or_else(|| {
                super::Invalid::new(format!("`{name}` is not an optional registrant field"))
            })
    }
}

/// A tenant's minimisation policy.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct MinimisationPolicy {
    /// The optional fields kept; `None`: every field (the default, what the CRM sends today).
    pub allowed_fields: Option<Vec<OptionalField>>,
    /// Store attendee metrics only of people the CRM registered for the webinar.
    pub metrics_registered_only: bool,
    /// Last change (ms), if the tenant ever set one.
    pub updated_at: Option<i64>,
}

impl MinimisationPolicy {
    pub(crate) fn from_row(row: Option<MinimisationRow>) -> Self {
        let Some(row) = row else {
            return Self::default();
        };
        let allowed_fields = row.allowed_fields.as_deref().map(|json| {
            serde_json::from_str::<Vec<String>>(json)
                .unwrap_or_default()
                .iter()
                .filter_map(|n| OptionalField::parse(n).ok())
                .collect()
        });
        Self {
            allowed_fields,
            metrics_registered_only: row.metrics_registered_only,
            updated_at: Some(row.updated_at),
        }
    }

    /// Whether `field` is kept.
    pub fn keeps(&self, field: OptionalField) -> bool {
        self.allowed_fields
            .as_ref()
            .is_none_or(|allowed| allowed.contains(&field))
    }

    /// Drops the answers to custom questions that travel in a custom field the tenant does
    /// not keep (ON24 keeps a question's answer in the custom field of its id).
    fn strip_answers(&self, fields: &mut super::RegistrantFields) {
        let kept = |id: &String| {
            RegistrantField::standard(id).is_none_or(|f| self.keeps(OptionalField::Other(f)))
        };
        fields.answers.retain(|id, _| kept(id));
        fields.choices.retain(|id, _| kept(id));
    }

    /// Drops the fields the tenant does not keep: the company, the job title and the other
    /// registrant fields with the answers that travel in them.
    fn strip(
        &self,
        company: &mut Option<String>,
        job_title: &mut Option<String>,
        fields: &mut super::RegistrantFields,
    ) {
        if self.allowed_fields.is_none() {
            return;
        }
        if !self.keeps(OptionalField::Company) {
            *company = None;
        }
        if !self.keeps(OptionalField::JobTitle) {
            *job_title = None;
        }
        for &field in RegistrantField::ALL {
            if !self.keeps(OptionalField::Other(field)) {
                *fields.slot(field) = None;
            }
        }
        self.strip_answers(fields);
    }

    /// Drops the fields the tenant does not keep from a new registration.
    pub fn strip_input(&self, item: &mut RegistrationInput) {
        self.strip(&mut item.company, &mut item.job_title, &mut item.fields);
    }

    /// Drops the fields the tenant does not keep from an update.
    pub fn strip_patch(&self, patch: &mut RegistrationPatch) {
        self.strip(&mut patch.company, &mut patch.job_title, &mut patch.fields);
    }

    /// Drops the fields the tenant does not keep from a registrant brought in from the
    /// provider (origin ON24): they are kept no more than the CRM's own.
    pub(crate) fn strip_registrant(&self, r: &mut crate::provider::ProviderRegistrant) {
        self.strip(&mut r.company, &mut r.job_title, &mut r.fields);
    }
}

/// Reads the tenant's policy inside a store call.
pub(crate) fn load(
    conn: &mut crate::store::DbConnection,
    tenant: &TenantId,
) -> Result<MinimisationPolicy, Error> {
    Ok(MinimisationPolicy::from_row(store::get(conn, tenant)?))
}

/// Minimisation policies.
#[derive(Debug, Clone, Copy)]
pub struct Minimisation<'a> {
    pub(crate) engine: &'a Engine,
}

impl Minimisation<'_> {
    /// The tenant's policy (the default when it never set one).
    pub async fn policy(&self, tenant: &TenantId) -> Result<MinimisationPolicy, Error> {
        let t = tenant.clone();
        self.engine.store.run(move |conn| load(conn, &t)).await
    }

    /// Replaces the tenant's policy (the API has applied the update mask).
    pub async fn set(
        &self,
        tenant: &TenantId,
        policy: MinimisationPolicy,
    ) -> Result<MinimisationPolicy, Error> {
        let now = crate::store::now_ms();
        let row = MinimisationRow {
            tenant: tenant.to_string(),
            allowed_fields: policy
                .allowed_fields
                .as_ref()
                .map(|fields| {
                    serde_json::to_string(&fields.iter().map(|f| f.name()).collect::<Vec<_>>())
                })
                .transpose()
                .map_err(|_| Error::Internal)?,
            metrics_registered_only: policy.metrics_registered_only,
            updated_at: now,
        };
        self.engine
            .store
            .run(move |conn| store::put(conn, &row).map_err(Error::from))
            .await?;
        tracing::info!(tenant = %tenant, "minimisation policy updated");
        Ok(MinimisationPolicy {
            updated_at: Some(now),
            ..policy
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_goes_with_the_custom_field_of_its_id() {
        let policy = MinimisationPolicy {
            allowed_fields: Some(vec![OptionalField::Other(RegistrantField::Std1)]),
            ..MinimisationPolicy::default()
        };
        let mut patch = RegistrationPatch {
            first_name: None,
            last_name: None,
            company: None,
            job_title: None,
            fields: super::super::RegistrantFields::default(),
        };
        for id in ["std1", "std2"] {
            patch.fields.set_answer(id, "x").expect("answer");
        }
        policy.strip_patch(&mut patch);
        let kept: Vec<&str> = patch.fields.answers.keys().map(String::as_str).collect();
        assert_eq!(kept, ["std1"]);
    }
}
