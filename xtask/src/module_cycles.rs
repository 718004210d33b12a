//! No import cycles between the integration service's top-level modules (`api`, `domain`,
//! `store`, `workers`, ...): every `crate::<module>` path in a module's files (in `use`
//! lines, `use crate::{a, b::c}` groups and paths written inline) is an edge from that
//! module to `<module>`; a cycle among the edges fails `cargo xtask lint` and is printed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Result, bail};

use crate::rust_source::{Source, read_tree};

/// The crate checked.
pub const CRATE: &str = "integrationservice";

/// Edges tolerated while the work that removes them is under way; each names that work.
/// TODO(helper "types", issue 13 item 4): `auth` borrows name helpers from `api`; they move
/// below both, and this entry goes.
const ALLOWED: &[(&str, &str)] = &[("auth", "api")];

/// Module -> the modules it uses, from the sources of one crate (`lib.rs` and `main.rs`
/// are the crate root, not a module, and are left out).
pub fn edges(sources: &[Source]) -> BTreeMap<String, BTreeSet<String>> {
    let modules: BTreeSet<String> = sources.iter().filter_map(|s| module_of(&s.path)).collect();
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for source in sources {
        let Some(from) = module_of(&source.path) else {
            continue;
        };
        let used = out.entry(from.clone()).or_default();
        for to in crate_paths(&source.code) {
            if to != from && modules.contains(&to) {
                used.insert(to);
            }
        }
    }
    out
}

fn module_of(path: &str) -> Option<String> {
    if path == "lib.rs" || path == "main.rs" {
        return None;
    }
    let first = path.split('/').next()?;
    Some(first.trim_end_matches(".rs").to_owned())
}

/// The first segment of every `crate::` path in `code`, groups expanded.
fn crate_paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        // `$crate::` in a macro names the crate root the same way.
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                if depth == 0 || (depth == 1 && c == ',') {
                    out.push(ident(&item));
                    item.clear();
                    if depth == 0 {
                        break;
                    }
                } else {
                    item.push(c);
                }
            }
        } else {
            out.push(ident(rest));
        }
    }
    out.retain(|m| !m.is_empty());
    out
}

fn ident(s: &str) -> String {
    s.trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// A cycle among `edges` (left out: the [`ALLOWED`] ones), as the modules in order with the
/// first repeated at the end; None when there is none.
pub fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(node.to_owned(), 1);
        path.push(node.to_owned());
        for next in edges.get(node).into_iter().flatten() {
            if ALLOWED.contains(&(node, next.as_str())) {
                continue;
            }
            match state.get(next.as_str()) {
                Some(1) => {
                    let start = path.iter().position(|m| m == next).unwrap_or(0);
                    let mut cycle = path[start..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                Some(_) => {}
                None => {
                    if let Some(cycle) = visit(next, edges, state, path) {
                        return Some(cycle);
                    }
                }
            }
        }
        path.pop();
        state.insert(node.to_owned(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for node in edges.keys() {
        if !state.contains_key(node)
            && let Some(cycle) = visit(node, edges, &mut state, &mut Vec::new())
        {
            return Some(cycle);
        }
    }
    None
}

/// Checks [`CRATE`] under `root`.
pub fn check(root: &Path) -> Result<()> {
    let sources = read_tree(&root.join(CRATE).join("src"))?;
    let edges = edges(&sources);
    match find_cycle(&edges) {
        None => {
            println!("no import cycle between {CRATE}'s top-level modules");
            Ok(())
        }
        Some(cycle) => {
            for module in &cycle[..cycle.len() - 1] {
                let uses: Vec<&str> = edges[module].iter().map(String::as_str).collect();
                eprintln!("{module} uses {}", uses.join(", "));
            }
            bail!(
                "import cycle between {CRATE}'s top-level modules: {}",
                cycle.join(" -> ")
            )
        }
    }
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
    fn use_lines_groups_and_inline_paths_are_edges() {
        let tree = [
            source(
                "domain/mod.rs",
                "use crate::{\n    store::Store,\n    provider::{A, B},\n};\n",
            ),
            source("domain/x.rs", "fn f() { crate::telemetry::mark(); }\n"),
            source(
                "store/mod.rs",
                "// crate::domain is only named in a comment\n",
            ),
            source("telemetry.rs", "use std::sync::Arc;\n"),
            source("lib.rs", "pub mod domain;\n"),
        ];
        let edges = edges(&tree);
        let of = |m: &str| edges[m].iter().cloned().collect::<Vec<_>>();
        assert_eq!(of("domain"), ["store", "telemetry"]);
        assert!(of("store").is_empty());
        assert_eq!(find_cycle(&edges), None);
    }

    #[test]
    fn a_cycle_is_reported_in_order() {
        let tree = [
            source("domain/mod.rs", "use crate::store::Store;\n"),
            source("store/mod.rs", "use crate::telemetry::x;\n"),
            source("telemetry.rs", "use crate::domain::jobs;\n"),
            source("api/mod.rs", "use crate::domain::Engine;\n"),
        ];
        assert_eq!(
            find_cycle(&edges(&tree)),
            Some(
                ["domain", "store", "telemetry", "domain"]
                    .map(String::from)
                    .to_vec()
            )
        );
    }

    /// The real crate has no cycle (the same check `cargo xtask lint` runs).
    #[test]
    fn the_integration_service_has_no_import_cycle() {
        check(&crate::run::workspace_root()).expect("no cycle");
    }
}
