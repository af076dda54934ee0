//! Lines for what an agent does besides talking: subagents, plans, MCP
//! tools, web search and fetch (the describer's share of issue 14).
//!
//! Pure, like the rest of the describer: agent text goes through
//! `safe_text` or `tool_gist`; never does IO, never styles.

use super::{Layout, Line, Piece, Tone, describe};
use crate::core::event::{
    AgentEvent, PlanItem, PlanStatus, SubagentStatus, plan_current, plan_progress,
};
use crate::present::{safe_text, tokens, tool_gist, truncate};

/// The mark before a subagent's own lines.
pub const SUBAGENT_MARK: &str = "  ┆ ";

/// A subagent's event: its own lines, each behind [`SUBAGENT_MARK`].
pub fn subagent(event: &AgentEvent, layout: Layout) -> Vec<Line> {
    let inner = match layout {
        Layout::Pane { width, expanded } => Layout::Pane {
            width: width.saturating_sub(SUBAGENT_MARK.chars().count()),
            expanded,
        },
        log => log,
    };
    describe(event, inner)
        .into_iter()
        .map(|mut line| {
            line.pieces.insert(0, Piece::new(SUBAGENT_MARK, Tone::Dim));
            if let super::Fit::Wrap(hang) = &mut line.fit {
                hang.text = format!("{SUBAGENT_MARK}{}", hang.text);
            }
            line
        })
        .collect()
}

/// The one-line gist of a subagent's state: what it is on, or how it ended.
pub fn subagent_gist(status: &SubagentStatus) -> String {
    let what = status
        .description
        .as_deref()
        .map(safe_text)
        .unwrap_or_else(|| "subagent".to_string());
    let mut parts = Vec::new();
    match status.state.as_str() {
        "started" => parts.push("started".to_string()),
        "running" => {
            if let Some(tool) = &status.last_tool {
                parts.push(format!("on {}", safe_text(tool)));
            }
        }
        other => parts.push(safe_text(other)),
    }
    if let Some(n) = status.tool_uses.filter(|n| *n > 0) {
        parts.push(format!("{n} tool use{}", if n == 1 { "" } else { "s" }));
    }
    if let Some(n) = status.total_tokens.filter(|n| *n > 0) {
        parts.push(format!("{} tokens", tokens(n)));
    }
    if parts.is_empty() {
        what
    } else {
        format!("{what}: {}", parts.join(" · "))
    }
}

/// A subagent's state as a line.
pub fn subagent_status(status: &SubagentStatus) -> Vec<Line> {
    let (mark, tone) = match status.state.as_str() {
        "started" | "running" => ("⑂", Tone::Dim),
        "completed" => ("⑂ ✓", Tone::Ok),
        _ => ("⑂ ✗", Tone::Warn),
    };
    vec![Line::cut(vec![Piece::new(
        format!("{SUBAGENT_MARK}{mark} {}", subagent_gist(status)),
        tone,
    )])]
}

/// `3/7` and the step the plan is on, for a task row or a header.
pub fn plan_summary(items: &[PlanItem], max_chars: usize) -> String {
    let (done, all) = plan_progress(items);
    match plan_current(items) {
        Some(item) => {
            let text = match (item.status, &item.active_form) {
                (PlanStatus::InProgress, Some(active)) => active,
                _ => &item.text,
            };
            truncate(&format!("{done}/{all} {}", safe_text(text)), max_chars)
        }
        None => format!("{done}/{all}"),
    }
}

/// A plan in a transcript or log: one line saying where it is (the whole
/// plan is the pane's plan box, [`plan_lines`], not repeated per update).
pub fn plan(items: &[PlanItem], explanation: Option<&str>, _layout: Layout) -> Vec<Line> {
    let (done, all) = plan_progress(items);
    let mut head = format!("☰ plan {done}/{all}");
    if let Some(why) = explanation.filter(|w| !w.trim().is_empty()) {
        head.push_str(&format!(" · {}", safe_text(why).replace('\n', " ")));
    }
    let mut out = vec![Line::cut(vec![Piece::new(head, Tone::Title)])];
    if let Some(current) = plan_current(items) {
        out[0].pieces.push(Piece::new(
            format!(" · on: {}", safe_text(&current.text)),
            Tone::Dim,
        ));
    }
    out
}

/// The whole plan: one line per step, marked done, on, or to do.
pub fn plan_lines(items: &[PlanItem]) -> Vec<Line> {
    let mut out = Vec::new();
    for item in items {
        let (mark, tone) = match item.status {
            PlanStatus::Completed => ("  ✓ ", Tone::Dim),
            PlanStatus::InProgress => ("  ▸ ", Tone::Title),
            PlanStatus::Pending => ("  ○ ", Tone::Text),
        };
        out.push(Line::wrap(
            vec![
                Piece::new(mark, tone),
                Piece::new(safe_text(&item.text).replace('\n', " "), tone),
            ],
            Piece::new("    ", tone),
        ));
    }
    out
}

/// An MCP tool call: server and tool named, then the input's gist.
pub fn mcp_call(server: &str, tool: &str, input: &serde_json::Value, gist: usize) -> Vec<Line> {
    vec![Line::cut(vec![
        Piece::new(
            format!("→ {} › {}", safe_text(server), safe_text(tool)),
            Tone::Tool,
        ),
        Piece::new(" ", Tone::Text),
        Piece::new(tool_gist(input, gist), Tone::Text),
    ])]
}

/// A web search or fetch: what was looked for.
pub fn web(what: &str, target: &str) -> Vec<Line> {
    vec![Line::cut(vec![
        Piece::new(format!("→ {what}"), Tone::Tool),
        Piece::new(" ", Tone::Text),
        Piece::new(safe_text(target).replace('\n', " "), Tone::Text),
    ])]
}

/// A compaction: how many tokens before and after, or why it failed.
pub fn compaction(
    trigger: Option<&str>,
    before: Option<u64>,
    after: Option<u64>,
    error: Option<&str>,
) -> Vec<Line> {
    let how = trigger
        .map(|t| format!(" ({})", safe_text(t)))
        .unwrap_or_default();
    if let Some(error) = error {
        return vec![Line::cut(vec![Piece::new(
            format!(
                "⇣ compaction failed{how}: {}",
                safe_text(error).replace('\n', " ")
            ),
            Tone::Warn,
        )])];
    }
    let sizes = match (before, after) {
        (Some(b), Some(a)) => format!(": {} → {} tokens", tokens(b), tokens(a)),
        (Some(b), None) => format!(": {} tokens before", tokens(b)),
        _ => String::new(),
    };
    vec![Line::cut(vec![Piece::new(
        format!("⇣ conversation compacted{how}{sizes}"),
        Tone::Dim,
    )])]
}

/// A hook that ran: its name, outcome and the first line of its output.
pub fn hook(
    name: &str,
    outcome: Option<&str>,
    exit_code: Option<i64>,
    output: Option<&str>,
) -> Vec<Line> {
    let failed = outcome.is_some_and(|o| o != "success") || exit_code.is_some_and(|c| c != 0);
    let mut text = format!("⚓ hook {}", safe_text(name));
    if let Some(outcome) = outcome {
        text.push_str(&format!(": {}", safe_text(outcome)));
    }
    if let Some(code) = exit_code.filter(|c| *c != 0) {
        text.push_str(&format!(" (exit {code})"));
    }
    if let Some(first) = output
        .map(safe_text)
        .and_then(|o| o.lines().find(|l| !l.trim().is_empty()).map(str::to_string))
    {
        text.push_str(&format!(" · {first}"));
    }
    vec![Line::cut(vec![Piece::new(
        text,
        if failed { Tone::Warn } else { Tone::Dim },
    )])]
}

/// Thinking folded to one dim line: how long it is and its latest line
/// (live while it streams).
pub fn thinking_folded(text: &str) -> Vec<Line> {
    let safe = safe_text(text);
    let lines: Vec<&str> = safe.lines().filter(|l| !l.trim().is_empty()).collect();
    let Some(last) = lines.last() else {
        return Vec::new();
    };
    let more = match lines.len() {
        1 => String::new(),
        n => format!(" ({n} lines)"),
    };
    vec![Line::cut(vec![
        Piece::new(format!("✻ thinking{more} · "), Tone::Thinking),
        Piece::new(last.trim().to_string(), Tone::Thinking),
    ])]
}

/// The gist line under a subagent's call; `more` adds how to see all.
pub fn subagent_fold(gist: &str, more: bool) -> Line {
    let mut pieces = vec![Piece::new(format!("{SUBAGENT_MARK}⑂ {gist}"), Tone::Dim)];
    if more {
        pieces.push(Piece::new(" · e expands", Tone::Dim));
    }
    Line::cut(pieces)
}
