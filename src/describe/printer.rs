//! Described lines as terminal text, for `corral run` and `corral logs`:
//! one canonical event in, the text to print out, plain or with ANSI
//! colours.
//!
//! Pure: returns strings, never prints. The words come from the describer
//! (which made agent text safe); this only maps tones to colours and keeps
//! streamed text flowing.

use super::{Layout, Line, Tone, describe};
use crate::core::event::AgentEvent;
use crate::present::safe_text;

/// Widest gist of a tool call, a result line or a message in a log.
pub const GIST_CHARS: usize = 160;

/// Turns events into printable text, remembering whether streamed text left
/// the cursor in the middle of a line.
#[derive(Debug, Default)]
pub struct Printer {
    color: bool,
    mid_line: bool,
}

/// The ANSI style of a tone (`None`: the terminal's own).
fn sgr(tone: Tone) -> Option<&'static str> {
    match tone {
        Tone::Text => None,
        Tone::Title | Tone::Key => Some("1"),
        Tone::Dim | Tone::Thinking => Some("2"),
        Tone::Tool => Some("36"),
        Tone::Ok | Tone::Success => Some("32"),
        Tone::Warn | Tone::Question => Some("33"),
        Tone::Error => Some("31"),
    }
}

/// `lines` as text, one per line, ANSI-coloured when `color`.
pub fn paint(lines: &[Line], color: bool) -> String {
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        for piece in &line.pieces {
            match sgr(piece.tone) {
                Some(code) if color && !piece.text.is_empty() => {
                    out.push_str(&format!("\x1b[{code}m{}\x1b[0m", piece.text));
                }
                _ => out.push_str(&piece.text),
            }
        }
    }
    out
}

impl Printer {
    /// A printer; `color` turns on ANSI colours.
    pub fn new(color: bool) -> Printer {
        Printer {
            color,
            mid_line: false,
        }
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
        let lines = describe(event, Layout::Log { gist: GIST_CHARS });
        if lines.is_empty() {
            return String::new();
        }
        let mut out = String::new();
        if self.mid_line {
            out.push('\n');
            self.mid_line = false;
        }
        out.push_str(&paint(&lines, self.color));
        if !out.ends_with('\n') {
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::event::{Denial, FinishStatus, Finished, Usage};
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
                terminal_reason: None,
                api_error_type: None,
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
    fn a_long_message_is_one_line_in_a_log() {
        let long = format!("Fix it.\n{}", "word ".repeat(100));
        let out = plain(&[AgentEvent::UserMessage { text: long }]);
        assert_eq!(out.lines().count(), 1, "{out}");
        assert!(out.starts_with("› Fix it. word word"), "{out}");
        assert!(out.trim_end().ends_with('…'), "{out}");
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
