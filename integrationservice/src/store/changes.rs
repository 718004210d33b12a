//! The change feed: an append-only, monotonic sequence per database that the CRM follows with a
//! cursor (the last `seq` it saw).
//!
//! On PostgreSQL a sequence number taken by one transaction can commit after a higher one from
//! a concurrent transaction, and a reader that already moved its cursor past the higher one
//! would skip it for good. Numbers must therefore commit in order. Taking a lock around the
//! insert does that, but the lock is held until commit, so every writing transaction's commit
//! (its WAL fsync, milliseconds on a real disk) ran one after another: about 200 commits a
//! second in all, for registrations and job results alike. Instead, writers append to
//! `changes_pending` without a lock, so their commits overlap (PostgreSQL's group commit), and
//! [`sequence`] moves committed pending rows into `changes` in one short transaction under a
//! transaction-scoped advisory lock: only that transaction assigns `seq`, so numbers commit in
//! order, and one fsync covers every row it moves. Readers sequence before they read
//! ([`list_after`]), so a change committed before a read is always seen by it.
//!
//! SQLite has a single writer, whose commits are already in order: it appends to `changes`.

use diesel::prelude::*;

use super::DbConnection;
use super::models::{ChangeRow, NewChange};
use super::schema::changes::dsl as c;
use super::schema::changes_pending;
use super::status::ChangeKind;
use crate::ids::{RegistrationId, TenantId, WebinarId};

/// Advisory lock key that serialises sequencing into `changes` on PostgreSQL.
const CHANGES_LOCK: i64 = 0x5745_4249_4e41_5201;

/// A feed entry waiting for its place (PostgreSQL).
#[derive(Insertable)]
#[diesel(table_name = changes_pending)]
struct Pending<'a> {
    tenant: &'a str,
    kind: &'a str,
    webinar_id: Option<&'a str>,
    registration_id: Option<&'a str>,
    created_at: i64,
}

/// Appends changes (inside the transaction that made them). Takes no lock.
pub fn append(conn: &mut DbConnection, rows: &[NewChange]) -> QueryResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    match conn {
        DbConnection::Pg(pg) => {
            let pending: Vec<Pending<'_>> = rows
                .iter()
                .map(|r| Pending {
                    tenant: &r.tenant,
                    kind: &r.kind,
                    webinar_id: r.webinar_id.as_deref(),
                    registration_id: r.registration_id.as_deref(),
                    created_at: r.created_at,
                })
                .collect();
            // 5 columns: 1,000 rows are 5,000 parameters, far below PostgreSQL's 65,535.
            for chunk in pending.chunks(1000) {
                diesel::insert_into(changes_pending::table)
                    .values(chunk)
                    .execute(pg)?;
            }
        }
        DbConnection::Sqlite(lite) => {
            // 5 columns x 150 rows stays below SQLite's old 999-parameter limit.
            for chunk in rows.chunks(150) {
                diesel::insert_into(c::changes)
                    .values(chunk)
                    .execute(lite)?;
            }
        }
    }
    Ok(())
}

/// Gives every committed pending change its `seq` (PostgreSQL; nothing to do on SQLite).
/// Returns how many were moved. Cheap when nothing is pending: one indexed read, no write.
pub fn sequence(conn: &mut DbConnection) -> QueryResult<usize> {
    let DbConnection::Pg(pg) = conn else {
        return Ok(0);
    };
    let waiting: bool = diesel::select(diesel::dsl::exists(
        changes_pending::table.select(changes_pending::id),
    ))
    .get_result(pg)?;
    if !waiting {
        return Ok(0);
    }
    pg.transaction(|pg| {
        diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
            .bind::<diesel::sql_types::BigInt, _>(CHANGES_LOCK)
            .execute(pg)?;
        // Read committed: this statement's snapshot is taken after the lock, so it sees the
        // previous sequencer's deletes and moves each pending row exactly once.
        diesel::sql_query(
            "WITH moved AS (DELETE FROM changes_pending \
                 RETURNING id, tenant, kind, webinar_id, registration_id, created_at) \
             INSERT INTO changes (tenant, kind, webinar_id, registration_id, created_at) \
             SELECT tenant, kind, webinar_id, registration_id, created_at FROM moved ORDER BY id",
        )
        .execute(pg)
    })
}

/// Changes of a tenant after `cursor`, oldest first.
pub fn list_after(
    conn: &mut DbConnection,
    tenant: &TenantId,
    cursor: i64,
    limit: i64,
) -> QueryResult<Vec<ChangeRow>> {
    let tenant = tenant.as_str();
    sequence(conn)?;
    c::changes
        .filter(c::tenant.eq(tenant))
        .filter(c::seq.gt(cursor))
        .order(c::seq.asc())
        .limit(limit)
        .select(ChangeRow::as_select())
        .load(conn)
}

/// Highest sequence number written so far (0 when empty). On PostgreSQL no index leads with
/// `seq` since the key became `(tenant, seq)`, so this reads the whole feed: keep it off
/// request paths (nothing in the service calls it).
pub fn last_seq(conn: &mut DbConnection) -> QueryResult<i64> {
    sequence(conn)?;
    let max: Option<i64> = c::changes.select(diesel::dsl::max(c::seq)).first(conn)?;
    Ok(max.unwrap_or(0))
}

/// Builds a change row stamped now.
pub fn change(
    tenant: &TenantId,
    kind: ChangeKind,
    webinar_id: Option<&WebinarId>,
    registration_id: Option<&RegistrationId>,
) -> NewChange {
    NewChange {
        tenant: tenant.to_string(),
        kind: kind.as_str().to_owned(),
        webinar_id: webinar_id.map(ToString::to_string),
        registration_id: registration_id.map(ToString::to_string),
        created_at: super::now_ms(),
    }
}

/// A feed entry for an erasure request (made, or ended at the provider). Its id goes in the
/// registration id column (see `ChangeKind::ErasureRequest`).
pub fn erasure_request_change(tenant: &TenantId, id: &crate::ids::ErasureRequestId) -> NewChange {
    NewChange {
        tenant: tenant.to_string(),
        kind: ChangeKind::ErasureRequest.as_str().to_owned(),
        webinar_id: None,
        registration_id: Some(id.to_string()),
        created_at: super::now_ms(),
    }
}
