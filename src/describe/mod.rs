//! The one describer: a canonical event in, display lines out, for every
//! front end (the cockpit's pane and tiles, `corral run`, `corral logs`,
//! the approval prompt of `corral run`).
//!
//! A line is pieces of text, each tagged with a [`Tone`] (what the text
//! *is*: a tool name, an error, dim detail), and a [`Fit`] saying how it
//! meets a narrow screen (wrapped with a hanging indent, or cut). Each front
//! end only maps tones to its styling (ratatui styles, ANSI, none) and lays
//! the lines out; the words are decided here, once, so the front ends
//! cannot drift apart.
//!
//! Pure: never does IO and never styles. All agent text goes through
//! `present::safe_text` (or `tool_gist`) here, so no escape sequence reaches
//! a terminal through a described line.

pub mod insight;
pub mod printer;

use crate::agent::sanitize::sanitize_line;
use crate::core::event::{AgentEvent, FinishStatus, Finished, Question, QuestionKind};
use crate::present::{cost, duration, safe_text, tokens, tool_gist, tool_label, truncate};

/// Lines of an expanded tool result shown at most.
pub const MAX_EXPANDED_LINES: usize = 400;

/// What a piece of text is; each front end picks its look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Plain text: assistant text, a tool's input.
    Text,
    /// Emphasis: the user's message, the reason a run ended.
    Title,
    /// A marker the user should spot: the `›` of a user message.
    Key,
    /// Secondary: session line, folded results, raw output.
    Dim,
    /// The model's reasoning.
    Thinking,
    /// A tool's name.
    Tool,
    /// Good news: allowed, answered.
    Ok,
    /// A run that succeeded (stronger than [`Tone::Ok`]).
    Success,
    /// Retries, tools not permitted.
    Warn,
    /// The agent waits for the user.
    Question,
    /// Errors, denials, failed runs.
    Error,
}

/// A run of text in one tone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    pub text: String,
    pub tone: Tone,
}

impl Piece {
    /// `text` in `tone`.
    pub fn new(text: impl Into<String>, tone: Tone) -> Piece {
        Piece {
            text: text.into(),
            tone,
        }
    }
}

/// How a line meets a screen narrower than it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fit {
    /// Wrapped; continuation lines start with this piece.
    Wrap(Piece),
    /// Cut at the width, so it stays one screen line (a tool call).
    Cut,
}

/// One logical line: pieces of text and how it fits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub pieces: Vec<Piece>,
    pub fit: Fit,
}

impl Line {
    /// Wrapped pieces, continuation lines starting with `hang`.
    pub fn wrap(pieces: Vec<Piece>, hang: Piece) -> Line {
        Line {
            pieces,
            fit: Fit::Wrap(hang),
        }
    }

    /// Pieces cut at the width.
    pub fn cut(pieces: Vec<Piece>) -> Line {
        Line {
            pieces,
            fit: Fit::Cut,
        }
    }

    /// The line's text, tones dropped.
    pub fn text(&self) -> String {
        self.pieces.iter().map(|p| p.text.as_str()).collect()
    }
}

/// Where the lines go, which decides how much of an event they show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// The cockpit's pane (or a tile) `width` columns wide; a tool result
    /// folded to its first lines unless `expanded`.
    Pane { width: usize, expanded: bool },
    /// A log read top to bottom (`corral run`, `corral logs`): one line per
    /// message and result, gists at most `gist` characters.
    Log { gist: usize },
}

impl Layout {
    fn gist(self) -> usize {
        match self {
            Layout::Pane { width, .. } => width,
            Layout::Log { gist } => gist,
        }
    }
}

/// The lines showing `ev` (none for an event that shows nothing, like
/// `usage`).
pub fn describe(ev: &AgentEvent, layout: Layout) -> Vec<Line> {
    let gist = layout.gist();
    match ev {
        AgentEvent::UserMessage { text } => user_message(text, layout),
        AgentEvent::Session {
            session_id,
            model,
            agent,
            ..
        } => {
            let model = model
                .as_deref()
                .map(|m| format!(" · {m}"))
                .unwrap_or_default();
            vec![Line::cut(vec![Piece::new(
                safe_text(&format!("● {agent}{model} · session {session_id}")),
                Tone::Dim,
            )])]
        }
        AgentEvent::Text { text, .. } => paragraphs(text, Tone::Text),
        AgentEvent::Thinking { text, .. } => paragraphs(text, Tone::Thinking),
        AgentEvent::ToolCall { name, input, .. } => vec![Line::cut(vec![
            Piece::new(format!("→ {}", safe_text(name)), Tone::Tool),
            Piece::new(" ", Tone::Text),
            Piece::new(tool_gist(input, gist), Tone::Text),
        ])],
        AgentEvent::ToolResult {
            output, is_error, ..
        } => tool_result(output, *is_error, layout),
        AgentEvent::Question(q) => question(q, gist),
        AgentEvent::Answered {
            decision,
            message,
            answers,
            by,
            ..
        } => answered(decision, message.as_deref(), answers, by),
        AgentEvent::Retry {
            attempt,
            max_attempts,
            delay_ms,
            status,
            reason,
        } => {
            let of = max_attempts.map(|m| format!("/{m}")).unwrap_or_default();
            let wait = delay_ms
                .map(|d| format!(" in {}", duration(d)))
                .unwrap_or_default();
            let status = status.map(|s| format!("{s} ")).unwrap_or_default();
            texty(
                &format!("↻ retry {attempt}{of}{wait}: {status}{reason}"),
                Tone::Warn,
            )
        }
        AgentEvent::Usage(_) => vec![],
        AgentEvent::TurnEnd {
            permission_denials, ..
        } => permission_denials
            .iter()
            .map(|d| {
                Line::cut(vec![Piece::new(
                    format!(
                        "  ! not permitted: {} {}",
                        safe_text(&d.tool),
                        tool_gist(&d.input, gist)
                    ),
                    Tone::Warn,
                )])
            })
            .collect(),
        AgentEvent::ProtocolReply { .. } | AgentEvent::TurnStarted { .. } => vec![],
        AgentEvent::Error { message } => texty(&format!("error: {message}"), Tone::Error),
        AgentEvent::Raw { line } => vec![Line::wrap(
            vec![
                Piece::new("│ ", Tone::Dim),
                Piece::new(safe_text(line), Tone::Dim),
            ],
            Piece::new("│ ", Tone::Dim),
        )],
        // stderr: one dim line, never an error (codex marks harmless log
        // lines ERROR), cut rather than wrapped.
        AgentEvent::Notice { line } => vec![Line::cut(vec![
            Piece::new("· ", Tone::Dim),
            Piece::new(safe_text(line), Tone::Dim),
        ])],
        AgentEvent::Finished(f) => finished(f),
        AgentEvent::Subagent { event, .. } => insight::subagent(event, layout),
        AgentEvent::SubagentStatus(status) => insight::subagent_status(status),
        AgentEvent::Plan { items, explanation } => {
            insight::plan(items, explanation.as_deref(), layout)
        }
        AgentEvent::McpCall {
            server,
            tool,
            input,
            ..
        } => insight::mcp_call(server, tool, input, gist),
        AgentEvent::WebSearch { query, .. } => insight::web("web search", query),
        AgentEvent::WebFetch { url, .. } => insight::web("fetch", url),
        AgentEvent::Compaction {
            trigger,
            tokens_before,
            tokens_after,
            error,
        } => insight::compaction(
            trigger.as_deref(),
            *tokens_before,
            *tokens_after,
            error.as_deref(),
        ),
        AgentEvent::Hook {
            name,
            outcome,
            exit_code,
            output,
            ..
        } => insight::hook(name, outcome.as_deref(), *exit_code, output.as_deref()),
        AgentEvent::PermissionDenied { tool, message, .. } => texty(
            &format!(
                "  ! not permitted: {tool}{}",
                message
                    .as_deref()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            ),
            Tone::Warn,
        ),
    }
}

/// Streamed text as lines: one paragraph per line break; a final line
/// break adds nothing. Splitting the text after any line break and joining
/// the lines of both parts gives the lines of the whole, which is what lets
/// the cockpit keep the finished paragraphs of a growing entry.
pub fn paragraphs(text: &str, tone: Tone) -> Vec<Line> {
    text.split_inclusive('\n')
        .map(|p| {
            let p = sanitize_line(p.strip_suffix('\n').unwrap_or(p));
            Line::wrap(vec![Piece::new(p, tone)], Piece::new("", tone))
        })
        .collect()
}

/// `text` made safe, one wrapped line per line of it.
fn texty(text: &str, tone: Tone) -> Vec<Line> {
    let safe = safe_text(text);
    safe.trim_end_matches('\n')
        .split('\n')
        .map(|l| Line::wrap(vec![Piece::new(l, tone)], Piece::new("", tone)))
        .collect()
}

fn user_message(text: &str, layout: Layout) -> Vec<Line> {
    match layout {
        Layout::Pane { .. } => safe_text(text)
            .split('\n')
            .enumerate()
            .map(|(i, l)| {
                let mark = if i == 0 { "› " } else { "  " };
                Line::wrap(
                    vec![Piece::new(mark, Tone::Key), Piece::new(l, Tone::Title)],
                    Piece::new("  ", Tone::Title),
                )
            })
            .collect(),
        Layout::Log { gist } => {
            let flat = safe_text(text)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            vec![Line::cut(vec![Piece::new(
                format!("› {}", truncate(&flat, gist)),
                Tone::Title,
            )])]
        }
    }
}

fn tool_result(output: &str, is_error: bool, layout: Layout) -> Vec<Line> {
    let output = safe_text(output);
    let (mark, tone) = if is_error {
        ("  ✗ ", Tone::Error)
    } else {
        ("  ← ", Tone::Dim)
    };
    let lines: Vec<&str> = output.lines().filter(|l| !l.trim().is_empty()).collect();
    let first = lines.first().map(|l| l.trim_end()).unwrap_or("(no output)");
    let (width, expanded) = match layout {
        Layout::Log { gist } => {
            // A log says how much more there is; the store has it all.
            let more = match lines.len() {
                0 | 1 => String::new(),
                n => format!(" (+{} lines)", n - 1),
            };
            return vec![Line::cut(vec![Piece::new(
                format!("{mark}{}{more}", truncate(first, gist)),
                tone,
            )])];
        }
        Layout::Pane { width, expanded } => (width, expanded),
    };
    if !expanded || lines.len() <= 1 {
        // Folded: the first line, cut to fit, and how much more there is.
        let mut pieces = vec![Piece::new(format!("{mark}{first}"), tone)];
        if lines.len() > 1 {
            pieces.push(Piece::new(
                format!(" (+{} lines, e expands)", lines.len() - 1),
                Tone::Dim,
            ));
        }
        let mut out = vec![Line::cut(pieces)];
        if lines.len() > 1 && width > 40 {
            out.push(Line::cut(vec![Piece::new(
                format!("    {}", lines[1].trim_end()),
                Tone::Dim,
            )]));
        }
        return out;
    }
    let mut out = vec![Line::wrap(
        vec![Piece::new(format!("{mark}{} lines", lines.len()), tone)],
        Piece::new("", tone),
    )];
    for l in lines.iter().take(MAX_EXPANDED_LINES) {
        out.push(Line::wrap(
            vec![Piece::new("  │ ", tone), Piece::new(*l, tone)],
            Piece::new("  │ ", tone),
        ));
    }
    if lines.len() > MAX_EXPANDED_LINES {
        out.push(Line::wrap(
            vec![Piece::new(
                format!("  │ … {} more lines", lines.len() - MAX_EXPANDED_LINES),
                Tone::Dim,
            )],
            Piece::new("", Tone::Dim),
        ));
    }
    out
}

/// The lines of a question in a transcript: an approval says which tool
/// wants to run what (its input's gist at most `gist` characters); a
/// question lists its choices.
pub fn question(q: &Question, gist: usize) -> Vec<Line> {
    match q.kind {
        QuestionKind::Approval => texty(
            &format!(
                "? {} wants to run: {}",
                tool_label(q.tool.as_deref().unwrap_or("a tool")),
                tool_gist(&q.input, gist)
            ),
            Tone::Question,
        ),
        QuestionKind::Question => q
            .questions
            .iter()
            .flat_map(|item| {
                let options = item
                    .options
                    .iter()
                    .map(|o| o.label.as_str())
                    .collect::<Vec<_>>()
                    .join(" / ");
                let options = if options.is_empty() {
                    String::new()
                } else {
                    format!(" [{options}]")
                };
                texty(&format!("? {}{options}", item.question), Tone::Question)
            })
            .collect(),
    }
}

/// Who answered, as the end of "allowed…": the user says nothing, a
/// policy or an earlier "allow always" says so.
fn answered_by(by: &str) -> &'static str {
    match by {
        "policy" => " by policy",
        "rule" => " (you allowed it always for this task)",
        _ => "",
    }
}

fn answered(
    decision: &str,
    message: Option<&str>,
    answers: &[(String, String)],
    by: &str,
) -> Vec<Line> {
    let who = answered_by(by);
    match decision {
        "allow" => texty(&format!("  ✓ allowed{who}"), Tone::Ok),
        "deny" => {
            let why = message.map(|m| format!(": {m}")).unwrap_or_default();
            let text = safe_text(&format!("  ✗ denied{who}{why}")).replace('\n', " ");
            vec![Line::wrap(
                vec![Piece::new(text, Tone::Error)],
                Piece::new("    ", Tone::Error),
            )]
        }
        _ => {
            // One line per question: what was asked, what you said.
            let mut out = texty(&format!("  ✓ answered{who}"), Tone::Ok);
            for (q, a) in answers {
                out.push(Line::wrap(
                    vec![
                        Piece::new("    ", Tone::Dim),
                        Piece::new(safe_text(q).replace('\n', " "), Tone::Dim),
                        Piece::new(" → ", Tone::Dim),
                        Piece::new(safe_text(a).replace('\n', " "), Tone::Ok),
                    ],
                    Piece::new("      ", Tone::Dim),
                ));
            }
            out
        }
    }
}

fn finished(f: &Finished) -> Vec<Line> {
    let (mark, word, tone) = match f.status {
        FinishStatus::Succeeded => ("✓", "succeeded", Tone::Success),
        FinishStatus::Failed => ("✗", "failed", Tone::Error),
        FinishStatus::Killed => ("☠", "killed", Tone::Error),
        FinishStatus::TimedOut => ("⏱", "timed out", Tone::Error),
    };
    let mut parts = vec![
        duration(f.duration_ms),
        format!(
            "{} in / {} out tokens",
            tokens(f.usage.input_total()),
            tokens(f.usage.output_tokens)
        ),
    ];
    if let Some(c) = f.usage.cost_usd {
        parts.push(cost(c));
    }
    let mut out = vec![Line::wrap(
        vec![
            Piece::new(format!("{mark} {word}"), tone),
            Piece::new(format!(" · {}", parts.join(" · ")), Tone::Text),
        ],
        Piece::new("  ", Tone::Text),
    )];
    if let Some(reason) = &f.reason {
        out.extend(texty(&format!("  {reason}"), Tone::Title));
    }
    if let Some(n) = f.killed_outside_group {
        out.extend(texty(
            &format!("  killed {n} process(es) that had left the agent's process group"),
            Tone::Text,
        ));
    }
    out
}

#[cfg(test)]
pub(crate) mod samples;

#[cfg(test)]
mod tests;
