//! Which databases the stack uses: SQLite files in the state folder by default, or, when
//! `DATABASE_URL=postgres://…` is set, one PostgreSQL database per service on that server,
//! named after the URL's database (`<db>_keyservice`, `<db>_integrationservice`) and created
//! if missing.

use anyhow::{Context, Result};
use diesel::{Connection, RunQueryDsl, pg::PgConnection};

use super::state::Layout;

/// `(keyservice URL, integrationservice URL)`.
pub fn urls(layout: &Layout, database_url: Option<&str>) -> Result<(String, String)> {
    let Some(url) =
        database_url.filter(|u| u.starts_with("postgres://") || u.starts_with("postgresql://"))
    else {
        return Ok((
            layout
                .keyservice()
                .join("keyservice.sqlite")
                .display()
                .to_string(),
            layout
                .integrationservice()
                .join("integrationservice.sqlite")
                .display()
                .to_string(),
        ));
    };
    let base = database_name(url).unwrap_or("webinar").to_string();
    // The URL's own database may not exist (it only names the others): fall back to the
    // server's maintenance database to create them.
    let mut conn = PgConnection::establish(url)
        .or_else(|_| PgConnection::establish(&with_database(url, "postgres")))
        .context("connecting to DATABASE_URL (or its `postgres` database)")?;
    let mut out = Vec::new();
    for service in ["keyservice", "integrationservice"] {
        let name = format!("{base}_{service}");
        match diesel::sql_query(format!("CREATE DATABASE \"{name}\"")).execute(&mut conn) {
            Ok(_) => println!("    created PostgreSQL database {name}"),
            Err(e) if e.to_string().contains("already exists") => {}
            Err(e) => return Err(e).with_context(|| format!("creating database {name}")),
        }
        out.push(with_database(url, &name));
    }
    Ok((out.remove(0), out.remove(0)))
}

/// The database part of a PostgreSQL URL, if any.
fn database_name(url: &str) -> Option<&str> {
    let base = url.split('?').next()?;
    let after_scheme = &base[base.find("://")? + 3..];
    let db = after_scheme.split_once('/')?.1;
    (!db.is_empty()).then_some(db)
}

fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{host}/{name}?{q}"),
        None => format!("{host}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_derive_from_the_url() {
        assert_eq!(
            database_name("postgres://u:p@h:5432/app?sslmode=disable"),
            Some("app")
        );
        assert_eq!(database_name("postgres://h"), None);
        assert_eq!(
            with_database("postgres://u@h/app?x=1", "app_keyservice"),
            "postgres://u@h/app_keyservice?x=1"
        );
    }
}
