//! The SQL boundary of the services: only `src/store/` may speak SQL. Outside it, a file may
//! not import diesel's query traits (`RunQueryDsl`, `QueryDsl`, `diesel::prelude`), build a
//! statement (`diesel::insert_into`/`update`/`delete`/`select`/`sql_query`), name the
//! schema (`schema::`) or branch on the database backend (`DbConnection::Pg`, `DbConn::Pg`
//! and their SQLite arms). Such code belongs in a store function that hides the backend.

use std::path::Path;

use anyhow::{Result, bail};

use crate::rust_source::{Source, read_tree};

/// Crates whose `src/` is checked.
pub const CRATES: &[&str] = &["keyservice", "integrationservice"];

/// What may not appear outside `store/`, with the reason printed beside a finding.
const FORBIDDEN: &[(&str, &str)] = &[
    ("RunQueryDsl", "diesel query trait"),
    ("QueryDsl", "diesel query trait"),
    ("diesel::prelude", "diesel query traits"),
    ("diesel::insert_into", "SQL statement"),
    ("diesel::update", "SQL statement"),
    ("diesel::delete", "SQL statement"),
    ("diesel::select", "SQL statement"),
    ("diesel::sql_query", "SQL statement"),
    ("diesel::dsl", "SQL expression"),
    ("schema::", "database schema"),
    ("DbConnection::Pg", "backend match"),
    ("DbConnection::Sqlite", "backend match"),
    ("DbConn::Pg", "backend match"),
    ("DbConn::Sqlite", "backend match"),
];

/// One place where SQL leaks out of the store.
#[derive(Debug, PartialEq, Eq)]
pub struct Finding {
    /// Path under `src/`.
    pub path: String,
    /// 1-based line.
    pub line: usize,
    /// What was found.
    pub pattern: &'static str,
    /// Why it is not allowed there.
    pub why: &'static str,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "src/{}:{}: `{}` ({}) outside src/store/",
            self.path, self.line, self.pattern, self.why
        )
    }
}

/// Findings in one crate's sources (files under `store/` are skipped).
pub fn findings(sources: &[Source]) -> Vec<Finding> {
    let mut out = Vec::new();
    for source in sources {
        if source.path.starts_with("store/") || source.path == "store.rs" {
            continue;
        }
        for (n, line) in source.code.lines().enumerate() {
            // The longest pattern wins, so `RunQueryDsl` is not also reported as `QueryDsl`.
            let mut found: Option<(&'static str, &'static str)> = None;
            for &(pattern, why) in FORBIDDEN {
                if line.contains(pattern) && found.is_none_or(|(p, _)| p.len() < pattern.len()) {
                    found = Some((pattern, why));
                }
            }
            // `use diesel::{prelude::*, ...}` names the prelude inside a group.
            if found.is_none()
                && line.contains("diesel::{")
                && group_after(&source.code, n).contains("prelude")
            {
                found = Some(("diesel::prelude", "diesel query traits"));
            }
            if let Some((pattern, why)) = found {
                out.push(Finding {
                    path: source.path.clone(),
                    line: n + 1,
                    pattern,
                    why,
                });
            }
        }
    }
    out
}

/// The text of the `use` group that opens on line `n`, up to its `;`.
fn group_after(code: &str, n: usize) -> String {
    let rest: String = code.lines().skip(n).collect::<Vec<_>>().join("\n");
    let start = rest.find("diesel::{").unwrap_or(0);
    let end = rest[start..].find(';').map_or(rest.len(), |e| start + e);
    rest[start..end].to_owned()
}

/// Checks every crate of [`CRATES`] under `root`; fails listing each finding.
pub fn check(root: &Path) -> Result<()> {
    let mut all = Vec::new();
    for krate in CRATES {
        let src = root.join(krate).join("src");
        for finding in findings(&read_tree(&src)?) {
            all.push(format!("{krate}/{finding}"));
        }
    }
    if all.is_empty() {
        println!("SQL stays in store/ in {}", CRATES.join(" and "));
        return Ok(());
    }
    for line in &all {
        eprintln!("{line}");
    }
    bail!(
        "{} place(s) speak SQL outside src/store/: move them into a store function",
        all.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rust_source::strip_comments;

    fn source(path: &str, code: &str) -> Source {
        Source {
            path: path.into(),
            code: strip_comments(code),
        }
    }

    #[test]
    fn sql_outside_the_store_is_found() {
        let tree = [
            source(
                "workers/apply.rs",
                "use diesel::prelude::*;\nfn f(c: &mut C) { diesel::update(t).execute(c); }\n",
            ),
            source(
                "domain/x.rs",
                "use diesel::{Connection, prelude::*};\nfn g() { match c { DbConnection::Pg(p) => {} } }\n",
            ),
            source(
                "server.rs",
                "use crate::store::schema::webinars::dsl as w;\n",
            ),
            source("telemetry.rs", "use diesel::RunQueryDsl;\n"),
        ];
        let found: Vec<(String, usize, &str)> = findings(&tree)
            .into_iter()
            .map(|f| (f.path, f.line, f.pattern))
            .collect();
        assert_eq!(
            found,
            [
                ("workers/apply.rs".to_owned(), 1, "diesel::prelude"),
                ("workers/apply.rs".to_owned(), 2, "diesel::update"),
                ("domain/x.rs".to_owned(), 1, "diesel::prelude"),
                ("domain/x.rs".to_owned(), 2, "DbConnection::Pg"),
                ("server.rs".to_owned(), 1, "schema::"),
                ("telemetry.rs".to_owned(), 1, "RunQueryDsl"),
            ]
        );
    }

    #[test]
    fn the_store_comments_and_other_diesel_names_pass() {
        let tree = [
            source(
                "store/outbox.rs",
                "use diesel::prelude::*;\ndiesel::update(t);\n",
            ),
            source(
                "domain/error.rs",
                "// diesel::update and schema:: in prose\nimpl From<diesel::result::Error> for E {}\n",
            ),
            source(
                "workers/mod.rs",
                "let s = \"no sql here\";\nuse diesel::Connection;\n",
            ),
        ];
        assert_eq!(findings(&tree), []);
    }

    /// The real services hold to the rule (the same check `cargo xtask lint` runs).
    #[test]
    fn the_services_keep_sql_in_their_store() {
        check(&crate::run::workspace_root()).expect("SQL only in store/");
    }
}
