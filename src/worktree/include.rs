//! `.worktreeinclude`: files that git does not carry into a new worktree
//! (typically ignored ones such as `.env`) but a task needs, copied from the
//! main checkout into the worktree.
//!
//! Format: one entry a line, a path relative to the repository root (a
//! leading `/` is allowed); a component may hold the wildcards `*`, `?` and
//! `[...]`, which never cross a `/`; a trailing `/` matches directories only;
//! blank lines and `#` comments are skipped. Unlike `.gitignore`, an entry
//! without `/` matches at the root only (so `.env` is the root `.env`), and
//! `!` negation and `**` are not supported: such lines are skipped with a
//! note. Entries that match nothing are skipped with a note.
//!
//! Copying never overwrites a file that is already in the worktree (git's
//! checkout wins), never follows a symbolic link (links are recreated as
//! links), never leaves the repository (`..` is refused) and never copies
//! `.git`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// One meaningful line of `.worktreeinclude`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Entry {
    /// A root-relative pattern split into components.
    Pattern {
        raw: String,
        components: Vec<String>,
        dir_only: bool,
    },
    /// A line that cannot be honoured, with the reason.
    Unsupported { raw: String, reason: &'static str },
}

/// Parses the file's text (pure).
pub(crate) fn parse(text: &str) -> Vec<Entry> {
    let mut entries = Vec::new();
    for line in text.lines() {
        let raw = line.trim();
        if raw.is_empty() || raw.starts_with('#') {
            continue;
        }
        let unsupported = |reason| Entry::Unsupported {
            raw: raw.to_string(),
            reason,
        };
        if raw.starts_with('!') {
            entries.push(unsupported("negation is not supported"));
            continue;
        }
        let dir_only = raw.ends_with('/');
        let components: Vec<String> = raw
            .split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .map(str::to_string)
            .collect();
        if components.is_empty() {
            entries.push(unsupported("names no file"));
        } else if components.iter().any(|c| c == "..") {
            entries.push(unsupported("`..` would leave the repository"));
        } else if components.iter().any(|c| c.contains("**")) {
            entries.push(unsupported(
                "`**` is not supported; list paths from the repository root",
            ));
        } else if components[0] == ".git" {
            entries.push(unsupported("`.git` is never copied"));
        } else {
            entries.push(Entry::Pattern {
                raw: raw.to_string(),
                components,
                dir_only,
            });
        }
    }
    entries
}

fn has_wildcard(component: &str) -> bool {
    component.contains(['*', '?', '['])
}

/// Matches one path component against a glob with `*`, `?`, `[abc]`,
/// `[a-z]`, `[!a]` and `\` escapes (pure).
pub(crate) fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    match_from(&p, &n)
}

fn match_from(p: &[char], n: &[char]) -> bool {
    let Some((&first, rest)) = p.split_first() else {
        return n.is_empty();
    };
    match first {
        '*' => (0..=n.len()).any(|skip| match_from(rest, &n[skip..])),
        '?' => !n.is_empty() && match_from(rest, &n[1..]),
        '[' => {
            let Some((&c, n_rest)) = n.split_first() else {
                return false;
            };
            match class(rest, c) {
                Some((matched, after)) => matched && match_from(after, n_rest),
                // No closing bracket: a literal `[`.
                None => c == '[' && match_from(rest, n_rest),
            }
        }
        '\\' if !rest.is_empty() => n.first() == Some(&rest[0]) && match_from(&rest[1..], &n[1..]),
        lit => n.first() == Some(&lit) && match_from(rest, &n[1..]),
    }
}

/// Evaluates a bracket class starting after `[`; returns whether `c` is in
/// it and the pattern after `]`, or None when the class is not closed.
fn class(p: &[char], c: char) -> Option<(bool, &[char])> {
    let (negated, mut i) = match p.first() {
        Some('!') | Some('^') => (true, 1),
        _ => (false, 0),
    };
    let mut matched = false;
    let mut first = true;
    while i < p.len() {
        if p[i] == ']' && !first {
            return Some((matched != negated, &p[i + 1..]));
        }
        first = false;
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            if p[i] <= c && c <= p[i + 2] {
                matched = true;
            }
            i += 3;
        } else {
            if p[i] == c {
                matched = true;
            }
            i += 1;
        }
    }
    None
}

/// Root-relative paths under `root` that a pattern matches, sorted.
pub(crate) fn expand(root: &Path, components: &[String], dir_only: bool) -> Vec<PathBuf> {
    let mut current = vec![PathBuf::new()];
    for (depth, comp) in components.iter().enumerate() {
        let mut next = Vec::new();
        for rel in &current {
            if has_wildcard(comp) {
                let Ok(read) = fs::read_dir(root.join(rel)) else {
                    continue;
                };
                let mut names: Vec<String> = read
                    .filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|name| !(depth == 0 && name == ".git"))
                    .filter(|name| glob_match(comp, name))
                    .collect();
                names.sort();
                next.extend(names.into_iter().map(|name| rel.join(name)));
            } else {
                let candidate = rel.join(comp);
                if fs::symlink_metadata(root.join(&candidate)).is_ok() {
                    next.push(candidate);
                }
            }
        }
        current = next;
    }
    current.retain(|rel| !dir_only || root.join(rel).is_dir());
    current
}

/// What copying one entry did.
#[derive(Debug, Default)]
pub(crate) struct Copied {
    /// Files, links and directories created in the worktree.
    pub created: usize,
    /// Paths left alone because the worktree already had them.
    pub kept: Vec<PathBuf>,
}

/// Copies `src` to `dst` recursively without following links and without
/// overwriting anything that exists at `dst`.
pub(crate) fn copy_entry(src: &Path, dst: &Path, rel: &Path, out: &mut Copied) -> io::Result<()> {
    let meta = fs::symlink_metadata(src)?;
    let ty = meta.file_type();
    if ty.is_dir() {
        if !dst.exists() {
            fs::create_dir_all(dst)?;
            fs::set_permissions(dst, meta.permissions())?;
            out.created += 1;
        } else if !dst.is_dir() {
            out.kept.push(rel.to_path_buf());
            return Ok(());
        }
        let mut names: Vec<_> = fs::read_dir(src)?
            .filter_map(Result::ok)
            .map(|e| e.file_name())
            .collect();
        names.sort();
        for name in names {
            copy_entry(&src.join(&name), &dst.join(&name), &rel.join(&name), out)?;
        }
        return Ok(());
    }
    if fs::symlink_metadata(dst).is_ok() {
        out.kept.push(rel.to_path_buf());
        return Ok(());
    }
    if let Some(parent) = dst.parent() {
        fs::create_dir_all(parent)?;
    }
    if ty.is_symlink() {
        let target = fs::read_link(src)?;
        std::os::unix::fs::symlink(target, dst)?;
    } else if ty.is_file() {
        fs::copy(src, dst)?;
    } else {
        // Sockets, fifos and devices are not files a task needs.
        return Ok(());
    }
    out.created += 1;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_skips_comments_and_flags_unsupported_lines() {
        let text = "# secrets\n\n.env\n/config/local.toml\nnode_modules/\n!keep\n../up\n**/x\n.git/config\n  *.key  \n";
        let entries = parse(text);
        let patterns: Vec<(&str, Vec<&str>, bool)> = entries
            .iter()
            .filter_map(|e| match e {
                Entry::Pattern {
                    raw,
                    components,
                    dir_only,
                } => Some((
                    raw.as_str(),
                    components.iter().map(String::as_str).collect(),
                    *dir_only,
                )),
                Entry::Unsupported { .. } => None,
            })
            .collect();
        assert_eq!(
            patterns,
            vec![
                (".env", vec![".env"], false),
                ("/config/local.toml", vec!["config", "local.toml"], false),
                ("node_modules/", vec!["node_modules"], true),
                ("*.key", vec!["*.key"], false),
            ]
        );
        let unsupported: Vec<&str> = entries
            .iter()
            .filter_map(|e| match e {
                Entry::Unsupported { raw, .. } => Some(raw.as_str()),
                Entry::Pattern { .. } => None,
            })
            .collect();
        assert_eq!(unsupported, vec!["!keep", "../up", "**/x", ".git/config"]);
    }

    #[test]
    fn globs() {
        assert!(glob_match("*.env", ".env"));
        assert!(glob_match("*.env", "prod.env"));
        assert!(!glob_match("*.env", "prod.env.bak"));
        assert!(glob_match(".env.*", ".env.local"));
        assert!(glob_match("file?.txt", "file1.txt"));
        assert!(!glob_match("file?.txt", "file10.txt"));
        assert!(glob_match("[abc].rs", "b.rs"));
        assert!(!glob_match("[!abc].rs", "b.rs"));
        assert!(glob_match("[a-c]x", "cx"));
        assert!(!glob_match("[a-c]x", "dx"));
        assert!(glob_match("\\*lit", "*lit"));
        assert!(!glob_match("\\*lit", "xlit"));
        assert!(glob_match("[oops", "[oops"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("", "x"));
    }

    #[test]
    fn expand_and_copy_without_overwriting() {
        let src = tempfile::tempdir().expect("tempdir");
        let dst = tempfile::tempdir().expect("tempdir");
        let s = src.path();
        fs::write(s.join(".env"), "SECRET=1\n").expect("write");
        fs::write(s.join("a.key"), "k").expect("write");
        fs::write(s.join("b.key"), "k").expect("write");
        fs::create_dir_all(s.join("conf/sub")).expect("mkdir");
        fs::write(s.join("conf/sub/x.toml"), "x").expect("write");
        fs::write(s.join("conf/tracked.toml"), "main version").expect("write");
        fs::create_dir_all(s.join(".git")).expect("mkdir");

        assert_eq!(
            expand(s, &["*.key".into()], false),
            vec![PathBuf::from("a.key"), PathBuf::from("b.key")]
        );
        assert!(
            expand(s, &["*".into()], false)
                .iter()
                .all(|p| p != Path::new(".git"))
        );
        assert!(expand(s, &["missing".into()], false).is_empty());
        assert!(expand(s, &[".env".into()], true).is_empty());

        fs::create_dir_all(dst.path().join("conf")).expect("mkdir");
        fs::write(dst.path().join("conf/tracked.toml"), "checked out").expect("write");
        let mut out = Copied::default();
        copy_entry(
            &s.join("conf"),
            &dst.path().join("conf"),
            Path::new("conf"),
            &mut out,
        )
        .expect("copy");
        assert_eq!(
            fs::read_to_string(dst.path().join("conf/sub/x.toml")).expect("read"),
            "x"
        );
        assert_eq!(
            fs::read_to_string(dst.path().join("conf/tracked.toml")).expect("read"),
            "checked out"
        );
        assert_eq!(out.kept, vec![PathBuf::from("conf/tracked.toml")]);
    }
}
