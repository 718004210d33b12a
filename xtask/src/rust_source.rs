//! Reading a crate's Rust sources for the layering checks of `cargo xtask lint`: every `.rs`
//! file under a folder, with comments blanked out so a doc comment that names `schema::` or
//! `crate::store` counts as prose, not as code.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// One source file: its path relative to the crate's `src/` and its text without comments
/// (line numbers kept: every comment character becomes a space, newlines stay).
#[derive(Debug)]
pub struct Source {
    /// Path under `src/`, with `/` separators (e.g. `workers/apply.rs`).
    pub path: String,
    /// The code, comments blanked.
    pub code: String,
}

/// Every `.rs` file under `src`, sorted by path.
pub fn read_tree(src: &Path) -> Result<Vec<Source>> {
    let mut files = Vec::new();
    collect(src, &mut files)?;
    files.sort();
    files
        .into_iter()
        .map(|file| {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let path = file
                .strip_prefix(src)
                .unwrap_or(&file)
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            Ok(Source {
                path,
                code: strip_comments(&text),
            })
        })
        .collect()
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// `text` with `//` and `/* */` comments replaced by spaces. String and char literals are
/// kept as they are (a `"postgres://..."` is not a comment); raw strings are treated as
/// ordinary strings, which is enough for the patterns the checks look for.
pub fn strip_comments(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(if chars[i] == '\n' { '\n' } else { ' ' });
                    i += 1;
                }
            }
        } else if c == '"' {
            out.push(c);
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' && i + 1 < chars.len() {
                    out.push(chars[i]);
                    i += 1;
                }
                out.push(chars[i]);
                i += 1;
            }
            if i < chars.len() {
                out.push('"');
                i += 1;
            }
        } else if c == '\'' && chars.get(i + 2) == Some(&'\'') {
            // A char literal such as '/' or '"'; lifetimes ('a) do not close two chars on.
            out.extend(&chars[i..i + 3]);
            i += 3;
        } else if c == '\'' && next == Some('\\') {
            // An escaped char literal ('\n', '\'', '\u{..}'): copy through its closing quote.
            out.push_str("'\\");
            i += 2;
            if i < chars.len() {
                out.push(chars[i]);
                i += 1;
            }
            while i < chars.len() && chars[i] != '\'' {
                out.push(chars[i]);
                i += 1;
            }
            if i < chars.len() {
                out.push('\'');
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::strip_comments;

    #[test]
    fn comments_go_and_strings_stay() {
        let code = "let a = \"postgres://x\"; // schema::x\n/* crate::store */ let b = '/';\n";
        let stripped = strip_comments(code);
        assert!(stripped.contains("\"postgres://x\""));
        assert!(!stripped.contains("schema::"));
        assert!(!stripped.contains("crate::store"));
        assert!(stripped.contains("let b = '/';"));
        assert_eq!(stripped.lines().count(), code.lines().count());
    }
}
