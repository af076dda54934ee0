//! Presentation helpers shared by every front end: the gist of a tool call,
//! durations, token counts and costs in words, multi-line text made safe.
//!
//! Pure string work; never prints.

use serde_json::Value;

use crate::agent::sanitize::sanitize_line;

/// The input fields that best say what a tool call does, in order.
const GIST_FIELDS: &[&str] = &[
    "command",
    "file_path",
    "path",
    "notebook_path",
    "pattern",
    "url",
    "query",
    "description",
    "prompt",
];

/// One line saying what a tool call does: the command, the file path, ...
pub fn tool_gist(input: &Value, max_chars: usize) -> String {
    let first_question = input
        .pointer("/questions/0/question")
        .and_then(Value::as_str);
    let text = match input {
        Value::Object(_) if first_question.is_some() => {
            first_question.unwrap_or_default().to_string()
        }
        Value::Object(map) => GIST_FIELDS
            .iter()
            .find_map(|k| map.get(*k).and_then(Value::as_str).map(str::to_string))
            .or_else(|| map.values().find_map(|v| v.as_str().map(str::to_string)))
            .unwrap_or_else(|| compact_json(input)),
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => compact_json(other),
    };
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    truncate(&sanitize_line(&one_line), max_chars)
}

fn compact_json(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// Cuts `s` to at most `max_chars` characters, ending in `…` when cut.
pub fn truncate(s: &str, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max_chars.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Agent text made safe to print: control sequences removed from every
/// line, line breaks kept.
pub fn safe_text(s: &str) -> String {
    if !s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return s.to_string();
    }
    s.split('\n')
        .map(sanitize_line)
        .collect::<Vec<_>>()
        .join("\n")
}

/// `850ms`, `2.4s`, `3m05s`, `1h02m`.
pub fn duration(ms: u64) -> String {
    match ms {
        0..=999 => format!("{ms}ms"),
        1_000..=59_999 => format!("{:.1}s", ms as f64 / 1000.0),
        60_000..=3_599_999 => format!("{}m{:02}s", ms / 60_000, (ms / 1000) % 60),
        _ => format!("{}h{:02}m", ms / 3_600_000, (ms / 60_000) % 60),
    }
}

/// `950`, `12.3k`, `4.5M`.
pub fn tokens(n: u64) -> String {
    match n {
        0..=9_999 => n.to_string(),
        10_000..=999_999 => format!("{:.1}k", n as f64 / 1000.0),
        _ => format!("{:.1}M", n as f64 / 1_000_000.0),
    }
}

/// `$0.0013`, `$0.42`, `$12.30`.
pub fn cost(usd: f64) -> String {
    if usd < 0.01 {
        format!("${usd:.4}")
    } else {
        format!("${usd:.2}")
    }
}

/// A worktree task's change count for its row: `3 files +40 -7`,
/// `1 file +2 -0`, `no changes`.
pub fn change_count(c: &crate::core::task::ChangeCount) -> String {
    match c.files {
        0 => "no changes".to_string(),
        1 => format!("1 file +{} -{}", c.added, c.deleted),
        n => format!("{n} files +{} -{}", c.added, c.deleted),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn gist_prefers_the_command_then_the_path() {
        assert_eq!(
            tool_gist(&json!({"description": "Print", "command": "echo hi"}), 80),
            "echo hi"
        );
        assert_eq!(
            tool_gist(&json!({"file_path": "src/main.rs", "content": "x"}), 80),
            "src/main.rs"
        );
        assert_eq!(tool_gist(&json!({"n": 3}), 80), r#"{"n":3}"#);
        assert_eq!(
            tool_gist(
                &json!({"questions": [{"question": "Which colour?", "options": []}]}),
                80
            ),
            "Which colour?"
        );
    }

    #[test]
    fn gist_is_one_safe_line() {
        let g = tool_gist(&json!({"command": "echo a\n  echo \u{1b}[31mb"}), 80);
        assert_eq!(g, "echo a echo b");
        assert_eq!(
            tool_gist(&json!({"command": "x".repeat(100)}), 10)
                .chars()
                .count(),
            10
        );
    }

    #[test]
    fn safe_text_keeps_lines_and_drops_escapes() {
        assert_eq!(safe_text("a\nb"), "a\nb");
        assert!(!safe_text("a\u{1b}]0;title\u{7}\nb").contains('\u{1b}'));
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(duration(850), "850ms");
        assert_eq!(duration(2_400), "2.4s");
        assert_eq!(duration(185_182), "3m05s");
        assert_eq!(tokens(84), "84");
        assert_eq!(tokens(12_345), "12.3k");
        assert_eq!(cost(0.00127), "$0.0013");
        assert_eq!(cost(1.5), "$1.50");
    }

    #[test]
    fn change_counts_read_well() {
        use crate::core::task::ChangeCount;
        let c = |files, added, deleted| ChangeCount {
            files,
            added,
            deleted,
        };
        assert_eq!(change_count(&c(3, 40, 7)), "3 files +40 -7");
        assert_eq!(change_count(&c(1, 2, 0)), "1 file +2 -0");
        assert_eq!(change_count(&c(0, 0, 0)), "no changes");
    }
}
