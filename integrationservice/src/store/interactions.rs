//! Queries on `attendee_interactions`: each attendee's questions, poll and survey answers,
//! resources, calls to action and certifications, item by item, replaced per attendee when a
//! sync finds them different. The content (prompt and response) is stored sealed under the
//! tenant's personal-data key: written sealed, opened when read (`crypto::fields`). So is the
//! attendee's email; rows are keyed by its keyed hash (`store::sealing::attendee_key`), which
//! every lookup by email goes through.

use diesel::prelude::*;

use super::DbConnection;
use super::models::InteractionRow;
use super::schema::attendee_interactions::dsl as i;
use super::sealing::{
    CLEAR_KEY, SealRows, attendee_keys, open_interactions_keyed, seal_interactions,
};
use crate::crypto::fields::{FieldCipher, store_error};
use crate::ids::{TenantId, WebinarId};

fn opened(fields: &FieldCipher, mut rows: Vec<InteractionRow>) -> QueryResult<Vec<InteractionRow>> {
    for row in &mut rows {
        fields.open_interaction(row).map_err(store_error)?;
    }
    Ok(rows)
}

/// The keys of some emails (see `sealing::attendee_keys`), without the emails.
fn keys_of(fields: &FieldCipher, emails: &[String]) -> Vec<String> {
    attendee_keys(fields, emails)
        .into_iter()
        .map(|(k, _)| k)
        .collect()
}

/// Whether the webinar holds an interaction under the clear key of its attendee's email
/// (written before emails were sealed, and not sealed yet); see `metrics::has_clear_keys`.
pub fn has_clear_keys(
    conn: &mut DbConnection,
    tenant: &TenantId,
    webinar_id: &WebinarId,
) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        i::attendee_interactions
            .filter(i::tenant.eq(tenant.as_str()))
            .filter(i::webinar_id.eq(webinar_id.to_string()))
            .filter(i::email_hash.like(format!("{CLEAR_KEY}%"))),
    ))
    .get_result(conn)
}

/// The interactions of some emails of one webinar, by attendee then position.
pub(crate) fn for_emails(
    conn: &mut DbConnection,
    fields: &FieldCipher,
    tenant: &TenantId,
    webinar_id: &WebinarId,
    emails: &[String],
) -> QueryResult<Vec<InteractionRow>> {
    let keys = attendee_keys(fields, emails);
    let mut out = Vec::new();
    // 500 keys (250 emails) stay below SQLite's old 999-parameter limit.
    for chunk in keys.chunks(500) {
        out.extend(
            i::attendee_interactions
                .filter(i::tenant.eq(tenant.as_str()))
                .filter(i::webinar_id.eq(webinar_id.to_string()))
                .filter(i::email_hash.eq_any(chunk.iter().map(|(k, _)| k.as_str())))
                .order((i::email_hash.asc(), i::position.asc()))
                .select(InteractionRow::as_select())
                .load(conn)?,
        );
    }
    // The emails come back from the keys: only the content is decrypted.
    let email_of: std::collections::HashMap<&str, &str> =
        keys.iter().map(|(k, e)| (k.as_str(), e.as_str())).collect();
    open_interactions_keyed(fields, &mut out, &email_of).map_err(store_error)?;
    Ok(out)
}

/// Replaces the interactions of these emails of one webinar with `rows` (all of those
/// emails; an email with no row ends with none).
pub fn replace(
    conn: &mut DbConnection,
    fields: &FieldCipher,
    tenant: &TenantId,
    webinar_id: &WebinarId,
    emails: &[String],
    rows: &[InteractionRow],
) -> QueryResult<()> {
    // Both keys of each email: a row written before emails were sealed goes too.
    for chunk in emails.chunks(250) {
        diesel::delete(
            i::attendee_interactions
                .filter(i::tenant.eq(tenant.as_str()))
                .filter(i::webinar_id.eq(webinar_id.to_string()))
                .filter(i::email_hash.eq_any(keys_of(fields, chunk))),
        )
        .execute(conn)?;
    }
    let rows = seal_interactions(fields, rows).map_err(store_error)?;
    // 11 columns: 90 rows a statement stay below SQLite's old 999-parameter limit, 5,000 below
    // PostgreSQL's 65,535 (a sync chunk's interactions in one or two statements).
    let per_statement = match conn {
        DbConnection::Pg(_) => 5_000,
        DbConnection::Sqlite(_) => 90,
    };
    for chunk in rows.chunks(per_statement) {
        insert_batch!(&mut *conn, i::attendee_interactions, chunk)?;
    }
    Ok(())
}

/// A page of one attendee's interactions in report order, after `after` (a position).
pub(crate) fn page(
    conn: &mut DbConnection,
    fields: &FieldCipher,
    tenant: &TenantId,
    webinar_id: &WebinarId,
    email: &str,
    after: Option<i32>,
    limit: i64,
) -> QueryResult<Vec<InteractionRow>> {
    let mut q = i::attendee_interactions
        .filter(i::tenant.eq(tenant.as_str()))
        .filter(i::webinar_id.eq(webinar_id.to_string()))
        .filter(i::email_hash.eq_any(keys_of(fields, &[email.to_owned()])))
        .into_boxed();
    if let Some(after) = after {
        q = q.filter(i::position.gt(after));
    }
    let rows = q
        .order(i::position.asc())
        .limit(limit)
        .select(InteractionRow::as_select())
        .load(conn)?;
    opened(fields, rows)
}

/// Deletes a person's interactions in every webinar of the tenant (forget), by the email's
/// keyed hash (`hash`, None without a key) and its clear key; returns how many.
pub(crate) fn delete_email(
    conn: &mut DbConnection,
    tenant: &TenantId,
    email: &str,
    hash: Option<&str>,
) -> QueryResult<usize> {
    let keys: Vec<String> = hash
        .map(str::to_owned)
        .into_iter()
        .chain([format!("{CLEAR_KEY}{email}")])
        .collect();
    diesel::delete(
        i::attendee_interactions
            .filter(i::tenant.eq(tenant.as_str()))
            .filter(i::email_hash.eq_any(keys)),
    )
    .execute(conn)
}

/// Deletes the interactions of up to `batch` attendees (all their items) of one webinar, or
/// of every webinar of the tenant when `webinar_id` is None; how many rows. The purge loops
/// until nothing is left.
pub(crate) fn delete_batch(
    conn: &mut DbConnection,
    tenant: &TenantId,
    webinar_id: Option<&WebinarId>,
    batch: i64,
) -> QueryResult<usize> {
    let mut keys = i::attendee_interactions
        .filter(i::tenant.eq(tenant.as_str()))
        .select((i::webinar_id, i::email_hash))
        .distinct()
        .limit(batch)
        .into_boxed();
    if let Some(webinar) = webinar_id {
        keys = keys.filter(i::webinar_id.eq(webinar.to_string()));
    }
    let keys: Vec<(String, String)> = keys.load(conn)?;
    let mut by_webinar: std::collections::BTreeMap<String, Vec<String>> =
        std::collections::BTreeMap::new();
    for (webinar, email) in keys {
        by_webinar.entry(webinar).or_default().push(email);
    }
    let mut n = 0;
    // Grouped by webinar so each statement stays one indexed delete.
    for (webinar, emails) in by_webinar {
        for chunk in emails.chunks(500) {
            n += diesel::delete(
                i::attendee_interactions
                    .filter(i::tenant.eq(tenant.as_str()))
                    .filter(i::webinar_id.eq(&webinar))
                    .filter(i::email_hash.eq_any(chunk)),
            )
            .execute(conn)?;
        }
    }
    Ok(n)
}

/// Every interaction of one email in the tenant, by webinar then position (access requests).
pub(crate) fn for_email_all_webinars(
    conn: &mut DbConnection,
    fields: &FieldCipher,
    tenant: &TenantId,
    email: &str,
) -> QueryResult<Vec<InteractionRow>> {
    let rows = i::attendee_interactions
        .filter(i::tenant.eq(tenant.as_str()))
        .filter(i::email_hash.eq_any(keys_of(fields, &[email.to_owned()])))
        .order((i::webinar_id.asc(), i::email_hash.asc(), i::position.asc()))
        .select(InteractionRow::as_select())
        .load(conn)?;
    opened(fields, rows)
}

/// A page of interactions whose content or email is still in clear (written before
/// encryption at rest, or before emails were sealed), in key order after `after` (tenant,
/// webinar, key, position), as stored.
pub(crate) fn unsealed_page(
    conn: &mut DbConnection,
    after: Option<&(String, String, String, i32)>,
    limit: i64,
) -> QueryResult<Vec<InteractionRow>> {
    const SEALED: &str = crate::crypto::fields::SEALED_LIKE;
    let unsealed = i::prompt
        .ne("")
        .and(i::prompt.not_like(SEALED))
        .or(i::response.ne("").and(i::response.not_like(SEALED)))
        .or(i::email_hash.like(format!("{CLEAR_KEY}%")));
    let mut q = i::attendee_interactions
        .filter(unsealed)
        .order((
            i::tenant.asc(),
            i::webinar_id.asc(),
            i::email_hash.asc(),
            i::position.asc(),
        ))
        .limit(limit)
        .select(InteractionRow::as_select())
        .into_boxed();
    if let Some((t, w, e, p)) = after {
        q = q.filter(
            i::tenant.gt(t.clone()).or(i::tenant.eq(t.clone()).and(
                i::webinar_id
                    .gt(w.clone())
                    .or(i::webinar_id.eq(w.clone()).and(
                        i::email_hash
                            .gt(e.clone())
                            .or(i::email_hash.eq(e.clone()).and(i::position.gt(*p))),
                    )),
            )),
        );
    }
    q.load(conn)
}

/// Replaces an interaction's content, email and key with `sealed`'s if it still holds what
/// `stored` read (compare-and-set: a sync that replaced it meanwhile wrote it sealed, and
/// removed the row under its clear key); true when replaced.
pub(crate) fn swap_content(
    conn: &mut DbConnection,
    stored: &InteractionRow,
    sealed: &InteractionRow,
) -> QueryResult<bool> {
    let n = diesel::update(
        i::attendee_interactions
            .filter(i::tenant.eq(&stored.tenant))
            .filter(i::webinar_id.eq(&stored.webinar_id))
            .filter(i::email_hash.eq(&stored.email_hash))
            .filter(i::email.eq(&stored.email))
            .filter(i::position.eq(stored.position))
            .filter(i::prompt.eq(&stored.prompt))
            .filter(i::response.eq(&stored.response)),
    )
    .set((
        i::email.eq(&sealed.email),
        i::email_hash.eq(&sealed.email_hash),
        i::prompt.eq(&sealed.prompt),
        i::response.eq(&sealed.response),
    ))
    .execute(conn)?;
    Ok(n == 1)
}
