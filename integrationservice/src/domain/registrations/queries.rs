//! Reads: one registration, and a page of a webinar's registrations.

use super::{Registrations, find, view};
use crate::domain::tenant_keys::field_cipher;
use crate::domain::{
    Email, Error, Page, Registration, RegistrationStatus as S, paging, webinars as webinar_rules,
};
use crate::ids::{RegistrationId, TenantId, WebinarId};
use crate::store::registrations;

impl Registrations<'_> {
    /// One registration.
    pub async fn get(
        &self,
        tenant: &TenantId,
        webinar: &WebinarId,
        id: &RegistrationId,
    ) -> Result<Registration, Error> {
        let fields = field_cipher(self.engine, tenant, false).await?;
        let (t, w, i) = (tenant.clone(), *webinar, *id);
        let row = self
            .engine
            .store
            .run(move |conn| find(conn, &fields, &t, &w, &i))
            .await?;
        Ok(view(&row))
    }

    /// A page of a webinar's registrations, optionally with one status and of one person.
    pub async fn list(
        &self,
        tenant: &TenantId,
        webinar: &WebinarId,
        status: Option<S>,
        email: Option<&Email>,
        page_size: i32,
        page_token: &str,
    ) -> Result<Page<Registration>, Error> {
        let limit = paging::limit(page_size)?;
        let kind = format!("registrations/{webinar}");
        let after = paging::decode_page_token(&kind, page_token)?;
        let (t, w) = (tenant.clone(), *webinar);
        let email = email.map(|e| e.as_str().to_owned());
        let fields = field_cipher(self.engine, tenant, false).await?;
        let rows = self
            .engine
            .store
            .run(move |conn| {
                webinar_rules::existing(conn, &t, &w)?;
                Ok::<_, Error>(registrations::list(
                    conn,
                    &fields,
                    &t,
                    &w,
                    status,
                    email.as_deref(),
                    after.as_deref(),
                    limit + 1,
                )?)
            })
            .await?;
        Ok(webinar_rules::page(
            rows,
            limit,
            &kind,
            |r| r.id.clone(),
            view,
        ))
    }
}
