//! Claude Code adapter (interim; the full parser lands from its branch).

use std::path::Path;

use super::{AgentOptions, Answer, LaunchSpec, LiveProtocol, OutputParser, StdinMode};
use crate::core::event::{AgentEvent, Question};

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

/// Builds claude's argv.
pub fn launch(opts: &AgentOptions, cwd: &Path, prompt: &str) -> LaunchSpec {
    LaunchSpec {
        program: opts.binary.clone().unwrap_or_else(|| "claude".into()),
        args: vec![],
        cwd: cwd.to_path_buf(),
        env: opts.env.clone(),
        stdin: StdinMode::Pipe {
            initial_lines: vec![Claude::encode_user_message(prompt)],
        },
    }
}

/// Claude's stdio control protocol.
pub struct Claude;

impl LiveProtocol for Claude {
    fn encode_answer(question: &Question, _answer: &Answer) -> String {
        question.id.clone()
    }
    fn encode_user_message(text: &str) -> String {
        text.to_string()
    }
}
