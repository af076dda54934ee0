//! The readable live transcript of `corral run`: one canonical event in,
//! the text to print out.
//!
//! Pure: returns strings, never prints. Agent text is made safe before it
//! is shown; colour only when asked for.

use crate::core::event::{AgentEvent, FinishStatus, Finished, Question, QuestionKind};
use crate::present::{cost, duration, safe_text, tokens, tool_gist, truncate};

/// `text` on one line, safe to print.
fn one_line(text: &str) -> String {
    safe_text(text)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Widest gist of a tool call or result line.
const GIST_CHARS: usize = 160;

/// Turns events into printable text, remembering whether streamed text left
/// the cursor in the middle of a line.
#[derive(Debug, Default)]
pub struct Printer {
    color: bool,
    mid_line: bool,
}

#[derive(Clone, Copy)]
enum Style {
    Dim,
    Red,
    Green,
    Yellow,
    Cyan,
    Bold,
}

impl Printer {
    /// A printer; `color` turns on ANSI colours.
    pub fn new(color: bool) -> Printer {
        Printer {
            color,
            mid_line: false,
        }
    }

    fn paint(&self, style: Style, s: &str) -> String {
        if !self.color {
            return s.to_string();
        }
        let code = match style {
            Style::Dim => "2",
            Style::Red => "31",
            Style::Green => "32",
            Style::Yellow => "33",
            Style::Cyan => "36",
            Style::Bold => "1",
        };
        format!("\x1b[{code}m{s}\x1b[0m")
    }

    /// The text to print for `event` (possibly empty).
    pub fn render(&mut self, event: &AgentEvent) -> String {
        if let AgentEvent::Text { text, delta: true } = event {
            let text = safe_text(text);
            if !text.is_empty() {
                self.mid_line = !text.ends_with('\n');
            }
            return text;
        }
        let body = self.line_for(event);
        if body.is_empty() {
            return body;
        }
        let mut out = String::new();
        if self.mid_line {
            out.push('\n');
            self.mid_line = false;
        }
        out.push_str(&body);
        if !out.ends_with('\n') {
            out.push('\n');
        }
        out
    }

    fn line_for(&self, event: &AgentEvent) -> String {
        match event {
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
                self.paint(
                    Style::Dim,
                    &safe_text(&format!("● {agent}{model} · session {session_id}")),
                )
            }
            AgentEvent::UserMessage { text } => self.paint(
                Style::Bold,
                &format!("› {}", truncate(&one_line(text), GIST_CHARS)),
            ),
            AgentEvent::Text { text, .. } => safe_text(text),
            AgentEvent::Thinking { text, .. } => self.paint(Style::Dim, &safe_text(text)),
            AgentEvent::ToolCall { name, input, .. } => format!(
                "{} {}",
                self.paint(Style::Cyan, &format!("→ {}", safe_text(name))),
                tool_gist(input, GIST_CHARS)
            ),
            AgentEvent::ToolResult {
                output, is_error, ..
            } => self.tool_result(output, *is_error),
            AgentEvent::Question(q) => self.question(q),
            AgentEvent::Answered {
                decision,
                message,
                answers,
                by,
                ..
            } => {
                let who = if by == "policy" { " by policy" } else { "" };
                match decision.as_str() {
                    "allow" => self.paint(Style::Green, &format!("  ✓ allowed{who}")),
                    "deny" => {
                        let why = message
                            .as_deref()
                            .map(|m| format!(": {}", safe_text(m)))
                            .unwrap_or_default();
                        self.paint(Style::Red, &format!("  ✗ denied{who}{why}"))
                    }
                    _ => {
                        let list = answers
                            .iter()
                            .map(|(q, a)| format!("{} → {}", safe_text(q), safe_text(a)))
                            .collect::<Vec<_>>()
                            .join("; ");
                        self.paint(Style::Green, &format!("  ✓ answered{who}: {list}"))
                    }
                }
            }
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
                self.paint(
                    Style::Yellow,
                    &format!("↻ retry {attempt}{of}{wait}: {status}{}", safe_text(reason)),
                )
            }
            AgentEvent::Usage(_) => String::new(),
            AgentEvent::TurnEnd {
                permission_denials, ..
            } => permission_denials
                .iter()
                .map(|d| {
                    self.paint(
                        Style::Yellow,
                        &format!(
                            "  ! not permitted: {} {}",
                            safe_text(&d.tool),
                            tool_gist(&d.input, GIST_CHARS)
                        ),
                    )
                })
                .collect::<Vec<_>>()
                .join("\n"),
            AgentEvent::Error { message } => {
                self.paint(Style::Red, &format!("error: {}", safe_text(message)))
            }
            AgentEvent::Raw { line } => self.paint(Style::Dim, &format!("│ {}", safe_text(line))),
            AgentEvent::Finished(f) => self.finished(f),
        }
    }

    fn tool_result(&self, output: &str, is_error: bool) -> String {
        let output = safe_text(output);
        let mut lines = output.lines().filter(|l| !l.trim().is_empty());
        let first = lines.next().unwrap_or("(no output)");
        let more = lines.count();
        let more = if more > 0 {
            format!(" (+{more} lines)")
        } else {
            String::new()
        };
        let text = format!("{}{more}", truncate(first.trim_end(), GIST_CHARS));
        if is_error {
            self.paint(Style::Red, &format!("  ✗ {text}"))
        } else {
            self.paint(Style::Dim, &format!("  ← {text}"))
        }
    }

    fn question(&self, q: &Question) -> String {
        match q.kind {
            QuestionKind::Approval => self.paint(
                Style::Yellow,
                &format!(
                    "? {} wants to run: {}",
                    safe_text(q.tool.as_deref().unwrap_or("a tool")),
                    tool_gist(&q.input, GIST_CHARS)
                ),
            ),
            QuestionKind::Question => q
                .questions
                .iter()
                .map(|item| {
                    let options = item
                        .options
                        .iter()
                        .map(|o| safe_text(&o.label))
                        .collect::<Vec<_>>()
                        .join(" / ");
                    let options = if options.is_empty() {
                        String::new()
                    } else {
                        format!(" [{options}]")
                    };
                    self.paint(
                        Style::Yellow,
                        &format!("? {}{options}", safe_text(&item.question)),
                    )
                })
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }

    fn finished(&self, f: &Finished) -> String {
        let (mark, word, style) = match f.status {
            FinishStatus::Succeeded => ("✓", "succeeded", Style::Green),
            FinishStatus::Failed => ("✗", "failed", Style::Red),
            FinishStatus::Killed => ("✗", "killed", Style::Red),
            FinishStatus::TimedOut => ("⏱", "timed out", Style::Red),
        };
        let mut parts = vec![
            self.paint(style, &format!("{mark} {word}")),
            duration(f.duration_ms),
            format!(
                "{} in / {} out tokens",
                tokens(
                    f.usage.input_tokens
                        + f.usage.cache_read_tokens
                        + f.usage.cache_creation_tokens
                ),
                tokens(f.usage.output_tokens)
            ),
        ];
        if let Some(c) = f.usage.cost_usd {
            parts.push(cost(c));
        }
        let mut line = parts.join(" · ");
        if let Some(reason) = &f.reason {
            line.push_str(&self.paint(Style::Bold, &format!("\n  {}", safe_text(reason))));
        }
        if let Some(n) = f.killed_outside_group {
            line.push_str(&format!(
                "\n  killed {n} process(es) that had left the agent's process group"
            ));
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::event::{Denial, Usage};
    use serde_json::json;

    fn plain(events: &[AgentEvent]) -> String {
        let mut p = Printer::new(false);
        events.iter().map(|e| p.render(e)).collect()
    }

    #[test]
    fn streamed_text_flows_and_the_next_event_starts_a_new_line() {
        let out = plain(&[
            AgentEvent::Text {
                text: "Let me ".into(),
                delta: true,
            },
            AgentEvent::Text {
                text: "look.".into(),
                delta: true,
            },
            AgentEvent::ToolCall {
                id: "t".into(),
                name: "Bash".into(),
                input: json!({"command": "echo hi", "description": "Print hi"}),
            },
            AgentEvent::ToolResult {
                id: "t".into(),
                output: "hi\nthere\n".into(),
                is_error: false,
            },
        ]);
        assert_eq!(out, "Let me look.\n→ Bash echo hi\n  ← hi (+1 lines)\n");
    }

    #[test]
    fn the_last_line_says_status_time_tokens_and_cost() {
        let out = plain(&[AgentEvent::Finished(Finished {
            status: FinishStatus::Succeeded,
            exit_code: Some(0),
            signal: None,
            reason: None,
            result: Some("ok".into()),
            session_id: None,
            duration_ms: 2_400,
            usage: Usage {
                input_tokens: 84,
                output_tokens: 34,
                cost_usd: Some(0.00127),
                ..Default::default()
            },
            killed_outside_group: None,
        })]);
        assert_eq!(
            out,
            "✓ succeeded · 2.4s · 84 in / 34 out tokens · $0.0013\n"
        );
    }

    #[test]
    fn failures_say_why_and_denials_are_shown() {
        let out = plain(&[
            AgentEvent::TurnEnd {
                is_error: false,
                result: None,
                api_error_status: None,
                num_turns: None,
                permission_denials: vec![Denial {
                    tool: "Bash".into(),
                    input: json!({"command": "touch x"}),
                }],
            },
            AgentEvent::Finished(Finished {
                status: FinishStatus::TimedOut,
                exit_code: None,
                signal: Some("SIGINT".into()),
                reason: Some("still running after 3s (timeout)".into()),
                result: None,
                session_id: None,
                duration_ms: 3_010,
                usage: Usage::default(),
                killed_outside_group: None,
            }),
        ]);
        assert!(out.contains("! not permitted: Bash touch x"), "{out}");
        assert!(out.contains("⏱ timed out · 3.0s"), "{out}");
        assert!(
            out.ends_with("  still running after 3s (timeout)\n"),
            "{out}"
        );
    }

    #[test]
    fn agent_text_cannot_reach_the_terminal_raw() {
        let out = plain(&[
            AgentEvent::Text {
                text: "x\u{1b}]0;pwned\u{7}".into(),
                delta: true,
            },
            AgentEvent::Raw {
                line: "\u{1b}[2Jboom".into(),
            },
        ]);
        assert!(!out.contains('\u{1b}'), "{out:?}");
    }

    #[test]
    fn colour_only_when_asked() {
        let mut p = Printer::new(true);
        let out = p.render(&AgentEvent::Error {
            message: "bad".into(),
        });
        assert_eq!(out, "\u{1b}[31merror: bad\u{1b}[0m\n");
    }
}
