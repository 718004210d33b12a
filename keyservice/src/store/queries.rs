//! Every query of the key service. Writers use compare-and-set on `keys.generation`, so two
//! replicas changing one key at once cannot both win; the loser sees `Ok(false)` and
//! re-reads.

use diesel::{
    prelude::*,
    result::{DatabaseErrorKind, Error as DieselError},
};

use super::{
    DbConn, StoreError,
    models::{KEY_DESTROYED, KeyRow, NewVersion, VersionMeta},
    schema::{key_versions, keys},
};

fn is_unique_violation(e: &DieselError) -> bool {
    matches!(
        e,
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)
    )
}

/// Inserts a key and its first version. `Ok(false)` if the id is taken.
pub fn insert_key(conn: &mut DbConn, key: &KeyRow, first: &NewVersion) -> Result<bool, StoreError> {
    let result = conn.transaction(|c| {
        diesel::insert_into(keys::table).values(key).execute(c)?;
        diesel::insert_into(key_versions::table)
            .values(first)
            .execute(c)?;
        Ok::<_, DieselError>(())
    });
    match result {
        Ok(()) => Ok(true),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// One key by id.
pub fn get_key(conn: &mut DbConn, id: &str) -> Result<Option<KeyRow>, StoreError> {
    Ok(keys::table
        .find(id)
        .select(KeyRow::as_select())
        .first(conn)
        .optional()?)
}

/// Versions of one key, oldest first.
pub fn versions_of(conn: &mut DbConn, id: &str) -> Result<Vec<VersionMeta>, StoreError> {
    Ok(key_versions::table
        .filter(key_versions::key_id.eq(id))
        .order(key_versions::version.asc())
        .select(VersionMeta::as_select())
        .load(conn)?)
}

/// Records when versions last unwrapped, (key id, version, time in µs) each; a time is only
/// ever moved forward, so replicas flushing in any order agree.
pub fn record_unwraps(conn: &mut DbConn, seen: &[(String, i32, i64)]) -> Result<(), StoreError> {
    conn.transaction(|c| {
        for (id, version, at) in seen {
            diesel::update(
                key_versions::table.find((id, *version)).filter(
                    key_versions::last_unwrap_at
                        .is_null()
                        .or(key_versions::last_unwrap_at.lt(*at)),
                ),
            )
            .set(key_versions::last_unwrap_at.eq(*at))
            .execute(c)?;
        }
        Ok::<_, DieselError>(())
    })?;
    Ok(())
}

/// (version, when it last unwrapped) of each version of key `id` that ever unwrapped.
pub fn last_unwraps(conn: &mut DbConn, id: &str) -> Result<Vec<(i32, i64)>, StoreError> {
    let rows: Vec<(i32, Option<i64>)> = key_versions::table
        .filter(key_versions::key_id.eq(id))
        .select((key_versions::version, key_versions::last_unwrap_at))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(v, at)| at.map(|at| (v, at)))
        .collect())
}

/// A page of keys ordered by id, starting after `after`.
pub fn list_keys(
    conn: &mut DbConn,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<KeyRow>, StoreError> {
    let mut query = keys::table
        .select(KeyRow::as_select())
        .order(keys::id.asc())
        .limit(limit)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(keys::id.gt(after.to_owned()));
    }
    Ok(query.load(conn)?)
}

/// Every key and every version's metadata, for the replica cache.
pub fn load_all(conn: &mut DbConn) -> Result<(Vec<KeyRow>, Vec<VersionMeta>), StoreError> {
    // One read transaction so keys and versions are a consistent snapshot.
    Ok(conn.transaction(|c| {
        let key_rows = keys::table.select(KeyRow::as_select()).load(c)?;
        let version_rows = key_versions::table
            .select(VersionMeta::as_select())
            .load(c)?;
        Ok::<_, DieselError>((key_rows, version_rows))
    })?)
}

/// The sealed KEK of one version (empty once the key is destroyed).
pub fn sealed_kek(
    conn: &mut DbConn,
    id: &str,
    version: i32,
) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(key_versions::table
        .find((id, version))
        .select(key_versions::sealed_kek)
        .first(conn)
        .optional()?)
}

/// Every sealed KEK of every enabled key, for loading many versions at start in one query.
pub fn sealed_keks_of_enabled(
    conn: &mut DbConn,
) -> Result<Vec<(String, i32, Vec<u8>)>, StoreError> {
    Ok(key_versions::table
        .inner_join(keys::table)
        .filter(keys::state.eq(super::models::KEY_ENABLED))
        .select((
            key_versions::key_id,
            key_versions::version,
            key_versions::sealed_kek,
        ))
        .load(conn)?)
}

/// Writes every mutable column of `key` if its generation is still `key.generation`,
/// bumping it. `Ok(false)` if another writer got there first.
fn save_key_cas(c: &mut DbConn, key: &KeyRow) -> Result<bool, DieselError> {
    let updated = diesel::update(
        keys::table
            .filter(keys::id.eq(&key.id))
            .filter(keys::generation.eq(key.generation)),
    )
    .set((
        keys::state.eq(key.state),
        keys::primary_version.eq(key.primary_version),
        keys::min_decryption_version.eq(key.min_decryption_version),
        keys::rotation_period_secs.eq(key.rotation_period_secs),
        keys::max_wraps_per_version.eq(key.max_wraps_per_version),
        keys::delete_at.eq(key.delete_at),
        keys::updated_at.eq(key.updated_at),
        keys::generation.eq(key.generation + 1),
    ))
    .execute(c)?;
    Ok(updated == 1)
}

/// Saves `key` (read at `key.generation`) with compare-and-set.
pub fn save_key(conn: &mut DbConn, key: &KeyRow) -> Result<bool, StoreError> {
    Ok(save_key_cas(conn, key)?)
}

/// Saves `key` (whose `primary_version` is already the new version) and inserts the new
/// version, atomically. `Ok(false)` if another replica rotated or changed the key first.
pub fn rotate(
    conn: &mut DbConn,
    key: &KeyRow,
    new_version: &NewVersion,
) -> Result<bool, StoreError> {
    // The compare-and-set UPDATE comes first so SQLite takes its write lock at once
    // (a read-then-write transaction could fail with "database is locked").
    let result = conn.transaction(|c| {
        if !save_key_cas(c, key)? {
            return Err(DieselError::RollbackTransaction);
        }
        diesel::insert_into(key_versions::table)
            .values(new_version)
            .execute(c)?;
        Ok(())
    });
    match result {
        Ok(()) => Ok(true),
        Err(DieselError::RollbackTransaction) => Ok(false),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Changes one version's state together with a compare-and-set save of its key.
pub fn set_version_state(
    conn: &mut DbConn,
    key: &KeyRow,
    version: i32,
    state: i32,
) -> Result<bool, StoreError> {
    let result = conn.transaction(|c| {
        if !save_key_cas(c, key)? {
            return Err(DieselError::RollbackTransaction);
        }
        diesel::update(key_versions::table.find((&key.id, version)))
            .set(key_versions::state.eq(state))
            .execute(c)?;
        Ok(())
    });
    match result {
        Ok(()) => Ok(true),
        Err(DieselError::RollbackTransaction) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Marks the key destroyed and erases every sealed KEK of it, atomically.
pub fn destroy(conn: &mut DbConn, key: &KeyRow) -> Result<bool, StoreError> {
    let mut destroyed = key.clone();
    destroyed.state = KEY_DESTROYED;
    let result = conn.transaction(|c| {
        if !save_key_cas(c, &destroyed)? {
            return Err(DieselError::RollbackTransaction);
        }
        diesel::update(key_versions::table.filter(key_versions::key_id.eq(&key.id)))
            .set(key_versions::sealed_kek.eq(Vec::<u8>::new()))
            .execute(c)?;
        Ok(())
    });
    match result {
        Ok(()) => Ok(true),
        Err(DieselError::RollbackTransaction) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Adds locally counted wraps to the stored counters.
pub fn add_wrap_counts(conn: &mut DbConn, counts: &[(String, i32, i64)]) -> Result<(), StoreError> {
    conn.transaction(|c| {
        for (id, version, n) in counts {
            diesel::update(key_versions::table.find((id, *version)))
                .set(key_versions::wrap_count.eq(key_versions::wrap_count + *n))
                .execute(c)?;
        }
        Ok::<_, DieselError>(())
    })?;
    Ok(())
}
