//! Presentation helpers shared by every front end: the gist of a tool call,
//! durations, token counts, costs and memory in words, multi-line text made
//! safe.
//!
//! Pure string work; never prints.

use serde_json::Value;

use crate::agent::sanitize::{is_invisible, sanitize_line};

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

/// A tool's name as people read it: an MCP tool (`mcp__<server>__<tool>`,
/// claude's name, and corral's for codex's MCP tools) as `server › tool`,
/// the wording of its call; any other name as it is.
pub fn tool_label(name: &str) -> String {
    match crate::core::event::split_mcp_name(name) {
        Some((server, tool)) => format!("{server} › {tool}"),
        None => name.to_string(),
    }
}

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
/// line, invisible characters shown as placeholders, line breaks kept.
pub fn safe_text(s: &str) -> String {
    if !s
        .chars()
        .any(|c| (c.is_control() && c != '\n' && c != '\t') || is_invisible(c))
    {
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

/// A running clock in whole seconds, so a column does not flicker: `0s`
/// in the first second (not `0ms`, which reads as "not started"), then
/// `1.0s`, `59.0s`, `1m00s` as [`duration`] says them.
pub fn whole_seconds(ms: u64) -> String {
    if ms < 1000 {
        "0s".to_string()
    } else {
        duration(ms - ms % 1000)
    }
}

/// `950`, `12.3k`, `4.5M`, `7.0G`, `1.2T`; never wider than 6 characters
/// (`>999T` for anything from a thousand trillion up).
pub fn tokens(n: u64) -> String {
    match n {
        0..=9_999 => n.to_string(),
        10_000..=999_949 => format!("{:.1}k", n as f64 / 1e3),
        999_950..=999_949_999 => format!("{:.1}M", n as f64 / 1e6),
        999_950_000..=999_949_999_999 => format!("{:.1}G", n as f64 / 1e9),
        999_950_000_000..=999_949_999_999_999 => format!("{:.1}T", n as f64 / 1e12),
        _ => ">999T".to_string(),
    }
}

/// `$0.0013`, `$0.42`, `$12.30`, `$4.2M`; never wider than 9 characters:
/// `$?` for a cost that is not a finite non-negative number, `>$999M` from
/// a billion up.
pub fn cost(usd: f64) -> String {
    if !usd.is_finite() || usd < 0.0 {
        "$?".to_string()
    } else if usd < 0.01 {
        format!("${usd:.4}")
    } else if usd < 99_999.995 {
        format!("${usd:.2}")
    } else if usd < 999_950_000.0 {
        format!("${:.1}M", usd / 1e6)
    } else {
        ">$999M".to_string()
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

/// Resident memory for a row: `812K`, `34M`, `1.2G`; never wider than 5.
pub fn memory(kib: u64) -> String {
    match kib {
        0..=999 => format!("{kib}K"),
        1_000..=1_023_487 => format!("{}M", (kib + 512) / 1024),
        1_023_488..=10_433_331 => format!("{:.1}G", kib as f64 / 1_048_576.0),
        10_433_332..=1_048_051_711 => format!("{}G", (kib + 524_288) / 1_048_576),
        _ => ">999G".to_string(),
    }
}

/// What a live agent's process tree costs, for the pane header:
/// `3 processes · 104% cpu · 1.2G`.
pub fn proc_cost(c: &crate::core::task::ProcCost) -> String {
    format!(
        "{} {} · {}% cpu · {}",
        c.processes,
        if c.processes == 1 {
            "process"
        } else {
            "processes"
        },
        c.cpu_percent,
        memory(c.rss_kib)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn memory_stays_narrow() {
        assert_eq!(memory(812), "812K");
        assert_eq!(memory(34 * 1024), "34M");
        assert_eq!(memory(999 * 1024), "999M");
        assert_eq!(memory(1_258_291), "1.2G");
        assert_eq!(memory(100 * 1_048_576), "100G");
        assert_eq!(memory(u64::MAX), ">999G");
        for kib in [
            0,
            999,
            1000,
            1_023_487,
            1_023_488,
            10_433_331,
            10_433_332,
            1_048_051_711,
        ] {
            assert!(memory(kib).len() <= 5, "{kib}: {}", memory(kib));
        }
    }

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
        assert_eq!(safe_text("rm \u{202e}x\ny"), "rm ⟨U+202E⟩x\ny");
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(duration(850), "850ms");
        assert_eq!(whole_seconds(850), "0s");
        assert_eq!(whole_seconds(2_850), "2.0s");
        assert_eq!(whole_seconds(61_999), "1m01s");
        assert_eq!(duration(2_400), "2.4s");
        assert_eq!(duration(185_182), "3m05s");
        assert_eq!(tokens(84), "84");
        assert_eq!(tokens(12_345), "12.3k");
        assert_eq!(cost(0.00127), "$0.0013");
        assert_eq!(cost(1.5), "$1.50");
    }

    #[test]
    fn absurd_numbers_stay_narrow() {
        assert_eq!(tokens(999_999), "1.0M");
        assert_eq!(tokens(7_000_000_000), "7.0G");
        assert_eq!(tokens(u64::MAX), ">999T");
        assert_eq!(cost(99_999.99), "$99999.99");
        assert_eq!(cost(4_200_000.0), "$4.2M");
        assert_eq!(cost(1e308), ">$999M");
        assert_eq!(cost(f64::INFINITY), "$?");
        assert_eq!(cost(f64::NAN), "$?");
        assert_eq!(cost(-1.0), "$?");
        for n in [
            0,
            9_999,
            10_000,
            999_949,
            999_950,
            u64::MAX / 1000,
            u64::MAX,
        ] {
            assert!(tokens(n).chars().count() <= 6, "{n}: {}", tokens(n));
        }
        for c in [0.0, 0.009, 1e5, 1e6, 9.9e8, 1e9, 1e12, 1e308] {
            assert!(cost(c).chars().count() <= 9, "{c}: {}", cost(c));
        }
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
