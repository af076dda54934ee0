//! Pure helpers of the worktree module: slugs and branch names, and parsers
//! for the machine-readable output of `git` (`diff-index --raw --numstat -z`,
//! `status --porcelain=v1 -z`, `worktree list --porcelain`, `log`).
//!
//! Nothing here touches the file system or runs a process, and nothing here
//! panics on unexpected input: git output is parsed leniently, and a record
//! that cannot be understood is skipped rather than trusted.

use std::ops::Range;
use std::path::PathBuf;

use super::{CommitSummary, FileChange, FileStatus, UncommittedChange};

/// The longest slug taken from a task title.
pub const SLUG_MAX: usize = 30;

/// Prefix of every branch corral creates.
pub const BRANCH_PREFIX: &str = "corral/";

/// Turns a task title into a branch-name slug: lowercase ASCII letters and
/// digits, words joined by single `-`, at most `max` bytes, cut at a word
/// boundary when possible, never starting or ending with `-`. Characters
/// outside ASCII letters and digits separate words; a title without any
/// gives an empty slug.
pub fn slug(title: &str, max: usize) -> String {
    let mut out = String::new();
    let mut pending_dash = false;
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            if pending_dash && !out.is_empty() {
                out.push('-');
            }
            pending_dash = false;
            out.push(c.to_ascii_lowercase());
        } else {
            pending_dash = true;
        }
    }
    if out.len() <= max {
        return out;
    }
    // Cut at the last word boundary that fits; a single long word is cut hard.
    let cut = &out[..max];
    let cut = match cut.rfind('-') {
        Some(i) if i > 0 && out.as_bytes().get(max) != Some(&b'-') => &cut[..i],
        _ => cut,
    };
    cut.trim_end_matches('-').to_string()
}

/// Whether a task short id can be used in a branch and a directory name:
/// non-empty, at most 40 characters of ASCII letters, digits, `-` and `_`,
/// not starting with `-`.
pub fn valid_short_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 40
        && !id.starts_with('-')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The task branch: `corral/<short-id>-<slug>`, or `corral/<short-id>` when
/// the title gives an empty slug. The caller validates the id first.
pub fn branch_name(short_id: &str, title: &str) -> String {
    let s = slug(title, SLUG_MAX);
    if s.is_empty() {
        format!("{BRANCH_PREFIX}{short_id}")
    } else {
        format!("{BRANCH_PREFIX}{short_id}-{s}")
    }
}

/// The worktree directory name: `<repo-name>-<short-id>`.
pub fn worktree_dir_name(repo_name: &str, short_id: &str) -> String {
    let name: String = repo_name
        .chars()
        .map(|c| if c.is_control() { '_' } else { c })
        .collect();
    if name.is_empty() {
        format!("repo-{short_id}")
    } else {
        format!("{name}-{short_id}")
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Parses `git diff-index -M --raw --numstat -z <base>` output into one
/// [`FileChange`] per changed path, in git's order.
///
/// Raw records look like `:<mode> <mode> <sha> <sha> <status>\0<path>\0`
/// (renames and copies carry a second path); numstat records follow them as
/// `<added>\t<deleted>\t<path>\0`, or `<added>\t<deleted>\t\0<old>\0<new>\0`
/// for renames, with `-` counts for binary files.
pub fn parse_raw_numstat(out: &[u8]) -> Vec<FileChange> {
    let mut tokens = out.split(|b| *b == 0).peekable();
    let mut files: Vec<FileChange> = Vec::new();
    let mut counts: Vec<(String, Option<(u64, u64)>)> = Vec::new();
    while let Some(tok) = tokens.next() {
        if tok.is_empty() {
            continue;
        }
        if tok[0] == b':' {
            let fields = lossy(tok);
            let letter = fields
                .split_whitespace()
                .nth(4)
                .and_then(|s| s.chars().next())
                .unwrap_or('M');
            let Some(first) = tokens.next() else { break };
            let first = lossy(first);
            let status = match letter {
                'A' => FileStatus::Added,
                'D' => FileStatus::Deleted,
                'R' => FileStatus::Renamed {
                    from: first.clone(),
                },
                // A copy only happens with -C, which is not asked for; a
                // copy is new content at the new path.
                'C' => FileStatus::Added,
                // M, T (type change), U (unmerged), X: the path exists on
                // both sides with different content.
                _ => FileStatus::Modified,
            };
            let path = if matches!(letter, 'R' | 'C') {
                match tokens.next() {
                    Some(second) => lossy(second),
                    None => break,
                }
            } else {
                first
            };
            files.push(FileChange {
                path,
                status,
                added: 0,
                deleted: 0,
                binary: false,
            });
        } else {
            let text = lossy(tok);
            let mut parts = text.splitn(3, '\t');
            let (Some(a), Some(d), Some(p)) = (parts.next(), parts.next(), parts.next()) else {
                continue;
            };
            let path = if p.is_empty() {
                // Rename: the old and the new path follow as their own tokens.
                let _old = tokens.next();
                match tokens.next() {
                    Some(new) => lossy(new),
                    None => break,
                }
            } else {
                p.to_string()
            };
            let n = match (a.parse::<u64>(), d.parse::<u64>()) {
                (Ok(a), Ok(d)) => Some((a, d)),
                _ => None,
            };
            counts.push((path, n));
        }
    }
    for (path, n) in counts {
        if let Some(f) = files.iter_mut().find(|f| f.path == path) {
            match n {
                Some((a, d)) => {
                    f.added = a;
                    f.deleted = d;
                }
                None => f.binary = true,
            }
        }
    }
    files
}

/// Byte ranges of the per-file sections of a unified diff produced by git:
/// each section starts at a line beginning with `diff --git `. Content lines
/// of a git diff always start with ` `, `+`, `-` or `\`, so such a line is
/// always a header.
pub fn split_patch(text: &str) -> Vec<Range<usize>> {
    let mut starts = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.starts_with("diff --git ") {
            starts.push(offset);
        }
        offset += line.len();
    }
    let mut ranges = Vec::with_capacity(starts.len());
    for (i, start) in starts.iter().enumerate() {
        let end = starts.get(i + 1).copied().unwrap_or(text.len());
        ranges.push(*start..end);
    }
    ranges
}

/// Parses `git status --porcelain=v1 -z` output: `XY <path>\0`, with a
/// second `<original path>\0` after renames and copies.
pub fn parse_status_z(out: &[u8]) -> Vec<UncommittedChange> {
    let mut tokens = out.split(|b| *b == 0);
    let mut changes = Vec::new();
    while let Some(tok) = tokens.next() {
        if tok.len() < 4 || tok[2] != b' ' {
            continue;
        }
        let status = lossy(&tok[..2]);
        let path = lossy(&tok[3..]);
        if status.contains('R') || status.contains('C') {
            let _orig = tokens.next();
        }
        changes.push(UncommittedChange { path, status });
    }
    changes
}

/// One record of `git worktree list --porcelain`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorktreeEntry {
    /// Absolute path of the worktree.
    pub path: PathBuf,
    /// Checked-out commit, absent for a bare repository.
    pub head: Option<String>,
    /// Checked-out branch as a full ref (`refs/heads/...`), absent when
    /// detached or bare.
    pub branch: Option<String>,
    /// The worktree is locked (`git worktree lock`).
    pub locked: bool,
    /// Git considers the worktree prunable (its directory is gone).
    pub prunable: bool,
}

/// Parses `git worktree list --porcelain` (records separated by blank lines).
pub fn parse_worktree_list(text: &str) -> Vec<WorktreeEntry> {
    let mut entries = Vec::new();
    let mut current: Option<WorktreeEntry> = None;
    for line in text.lines() {
        if line.is_empty() {
            if let Some(e) = current.take() {
                entries.push(e);
            }
            continue;
        }
        let (key, value) = line.split_once(' ').unwrap_or((line, ""));
        if key == "worktree" {
            if let Some(e) = current.take() {
                entries.push(e);
            }
            current = Some(WorktreeEntry {
                path: PathBuf::from(unquote(value)),
                ..WorktreeEntry::default()
            });
            continue;
        }
        let Some(e) = current.as_mut() else { continue };
        match key {
            "HEAD" => e.head = Some(value.to_string()),
            "branch" => e.branch = Some(value.to_string()),
            "locked" => e.locked = true,
            "prunable" => e.prunable = true,
            _ => {}
        }
    }
    if let Some(e) = current.take() {
        entries.push(e);
    }
    entries
}

/// Undoes git's C-style quoting of a path (`"a\tb\303\251"`); text that is
/// not quoted is returned unchanged.
pub fn unquote(s: &str) -> String {
    let Some(inner) = s.strip_prefix('"').and_then(|rest| rest.strip_suffix('"')) else {
        return s.to_string();
    };
    let bytes = inner.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b != b'\\' || i + 1 >= bytes.len() {
            out.push(b);
            i += 1;
            continue;
        }
        let next = bytes[i + 1];
        let simple = match next {
            b'n' => Some(b'\n'),
            b't' => Some(b'\t'),
            b'r' => Some(b'\r'),
            b'a' => Some(7),
            b'b' => Some(8),
            b'f' => Some(12),
            b'v' => Some(11),
            b'\\' => Some(b'\\'),
            b'"' => Some(b'"'),
            _ => None,
        };
        if let Some(c) = simple {
            out.push(c);
            i += 2;
            continue;
        }
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal {
            Some(d) => {
                let v = (u32::from(d[0] - b'0') << 6)
                    | (u32::from(d[1] - b'0') << 3)
                    | u32::from(d[2] - b'0');
                out.push(u8::try_from(v).unwrap_or(b'?'));
                i += 4;
            }
            None => {
                out.push(b);
                i += 1;
            }
        }
    }
    lossy(&out)
}

/// Parses `git log --format=%H%x09%s` output: one `<sha>\t<subject>` a line
/// (`%s` folds a multi-line subject onto one line).
pub fn parse_log(text: &str) -> Vec<CommitSummary> {
    text.lines()
        .filter_map(|line| {
            let (sha, subject) = line.split_once('\t').unwrap_or((line, ""));
            let sha = sha.trim();
            if sha.len() < 40 || !sha.chars().all(|c| c.is_ascii_hexdigit()) {
                return None;
            }
            Some(CommitSummary {
                sha: sha.to_string(),
                subject: subject.to_string(),
            })
        })
        .collect()
}

/// Paths of the unmerged entries listed by `git ls-files -u -z`
/// (`<mode> <sha> <stage>\t<path>\0`, one per stage), each path once, in
/// order.
pub fn parse_unmerged_z(out: &[u8]) -> Vec<String> {
    let mut paths: Vec<String> = Vec::new();
    for tok in out.split(|b| *b == 0) {
        let Some(tab) = tok.iter().position(|b| *b == b'\t') else {
            continue;
        };
        let path = lossy(&tok[tab + 1..]);
        if paths.last() != Some(&path) && !paths.contains(&path) {
            paths.push(path);
        }
    }
    paths
}

/// The last `max` bytes of `text` (cut at a character boundary), with a
/// marker when something was cut.
pub fn tail(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("[... output cut ...]\n{}", &text[start..])
}

/// A short human list of paths: the first few, then how many more.
pub fn list_paths(paths: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut s = paths
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if paths.len() > SHOWN {
        s.push_str(&format!(" and {} more", paths.len() - SHOWN));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slug_lowercases_and_joins_words() {
        assert_eq!(slug("Fix the Login bug!", SLUG_MAX), "fix-the-login-bug");
        assert_eq!(slug("  --Add  OAuth2 (v2) -- ", SLUG_MAX), "add-oauth2-v2");
        assert_eq!(slug("Überprüfe café", SLUG_MAX), "berpr-fe-caf");
        assert_eq!(slug("!!!", SLUG_MAX), "");
        assert_eq!(slug("修复", SLUG_MAX), "");
    }

    #[test]
    fn slug_is_cut_at_a_word_boundary() {
        let s = slug(
            "Refactor the authentication middleware for sessions",
            SLUG_MAX,
        );
        assert_eq!(s, "refactor-the-authentication");
        assert!(s.len() <= SLUG_MAX);
        // A word ending exactly at the limit is kept whole.
        assert_eq!(slug("abcd efgh", 9), "abcd-efgh");
        assert_eq!(slug("abcd efgh ij", 9), "abcd-efgh");
        // One long word is cut hard.
        assert_eq!(slug(&"x".repeat(50), SLUG_MAX), "x".repeat(30));
    }

    #[test]
    fn branch_names() {
        assert_eq!(branch_name("a1b2", "Fix login"), "corral/a1b2-fix-login");
        assert_eq!(branch_name("a1b2", "???"), "corral/a1b2");
        assert!(valid_short_id("a1b2_x-3"));
        assert!(!valid_short_id(""));
        assert!(!valid_short_id("-x"));
        assert!(!valid_short_id("a/b"));
        assert!(!valid_short_id("a b"));
        assert!(!valid_short_id(".."));
        assert_eq!(worktree_dir_name("my repo", "a1"), "my repo-a1");
        assert_eq!(worktree_dir_name("", "a1"), "repo-a1");
    }

    #[test]
    fn raw_numstat_with_every_status() {
        let z = "0".repeat(40);
        let a = "a".repeat(40);
        let out = format!(
            ":100644 100644 {a} {z} M\0src/lib.rs\0\
             :000000 100644 {z} {a} A\0img.png\0\
             :100644 000000 {a} {z} D\0gone.txt\0\
             :100644 100644 {a} {a} R087\0old name.rs\0new name.rs\0\
             3\t1\tsrc/lib.rs\0-\t-\timg.png\x000\t7\tgone.txt\x002\t2\t\0old name.rs\0new name.rs\0"
        );
        let files = parse_raw_numstat(out.as_bytes());
        assert_eq!(files.len(), 4);
        assert_eq!(files[0].path, "src/lib.rs");
        assert_eq!(files[0].status, FileStatus::Modified);
        assert_eq!(
            (files[0].added, files[0].deleted, files[0].binary),
            (3, 1, false)
        );
        assert_eq!(files[1].status, FileStatus::Added);
        assert!(files[1].binary);
        assert_eq!(files[2].status, FileStatus::Deleted);
        assert_eq!(files[2].deleted, 7);
        assert_eq!(files[3].path, "new name.rs");
        assert_eq!(
            files[3].status,
            FileStatus::Renamed {
                from: "old name.rs".into()
            }
        );
        assert_eq!((files[3].added, files[3].deleted), (2, 2));
    }

    #[test]
    fn raw_numstat_survives_garbage() {
        assert!(parse_raw_numstat(b"").is_empty());
        assert!(parse_raw_numstat(b":100644 100644").is_empty());
        assert!(parse_raw_numstat(b"x\0\0\t\0").is_empty());
    }

    #[test]
    fn patch_is_split_per_file() {
        let text = "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-diff --git no\n+a\ndiff --git a/y b/y\nBinary files differ\n";
        let ranges = split_patch(text);
        assert_eq!(ranges.len(), 2);
        assert!(text[ranges[0].clone()].ends_with("+a\n"));
        assert!(text[ranges[1].clone()].starts_with("diff --git a/y"));
        assert!(split_patch("").is_empty());
    }

    #[test]
    fn status_z_with_rename_and_untracked() {
        let out = b" M src/a.rs\0R  new.rs\0old.rs\0?? notes.txt\0 D gone\0";
        let c = parse_status_z(out);
        let got: Vec<(&str, &str)> = c
            .iter()
            .map(|c| (c.status.as_str(), c.path.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (" M", "src/a.rs"),
                ("R ", "new.rs"),
                ("??", "notes.txt"),
                (" D", "gone")
            ]
        );
    }

    #[test]
    fn worktree_list_records() {
        let text = "worktree /r/main\nHEAD 1111111111111111111111111111111111111111\nbranch refs/heads/main\n\n\
                    worktree /d/wt/r-a1\nHEAD 2222222222222222222222222222222222222222\nbranch refs/heads/corral/a1-x\nlocked\n\n\
                    worktree \"/d/wt/r\\tb\"\nHEAD 3333333333333333333333333333333333333333\ndetached\nprunable gitdir file points to non-existent location\n\n";
        let e = parse_worktree_list(text);
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].branch.as_deref(), Some("refs/heads/main"));
        assert_eq!(e[1].path, PathBuf::from("/d/wt/r-a1"));
        assert!(e[1].locked);
        assert_eq!(e[2].path, PathBuf::from("/d/wt/r\tb"));
        assert_eq!(e[2].branch, None);
        assert!(e[2].prunable);
    }

    #[test]
    fn unquote_handles_escapes_and_octal() {
        assert_eq!(unquote("plain"), "plain");
        assert_eq!(unquote("\"caf\\303\\251 \\\"x\\\"\""), "café \"x\"");
        assert_eq!(unquote("\"trailing\\\""), "trailing\\");
    }

    #[test]
    fn log_lines() {
        let a = "a".repeat(40);
        let text = format!("{a}\tFix it\tnow\nnot a commit\n{a}\t\n");
        let c = parse_log(&text);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].subject, "Fix it\tnow");
        assert_eq!(c[1].subject, "");
    }

    #[test]
    fn unmerged_paths_once_each() {
        let out =
            b"100644 aaa 1\tx.txt\x00100644 bbb 2\tx.txt\x00100644 ccc 3\tx.txt\x00100644 ddd 2\tsub/y\0";
        assert_eq!(parse_unmerged_z(out), vec!["x.txt", "sub/y"]);
    }

    #[test]
    fn tail_and_lists() {
        assert_eq!(tail("abc", 5), "abc");
        assert!(tail("abcdef", 3).ends_with("\ndef"));
        assert!(tail("ééé", 3).ends_with('é'));
        let paths: Vec<String> = (0..7).map(|i| format!("f{i}")).collect();
        assert_eq!(list_paths(&paths), "f0, f1, f2, f3, f4 and 2 more");
    }
}
