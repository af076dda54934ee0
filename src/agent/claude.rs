//! Claude Code adapter (placeholder until the parser lands).

use super::OutputParser;
use crate::core::event::AgentEvent;

/// Parses claude's `stream-json` output.
#[derive(Debug, Default)]
pub struct ClaudeParser {}

impl OutputParser for ClaudeParser {
    fn parse_line(&mut self, line: &str) -> Vec<AgentEvent> {
        vec![AgentEvent::Raw {
            line: line.to_string(),
        }]
    }
}
