//! Agent adapters: how to start each kind of agent and how to read it.
//!
//! Pure: an adapter builds a [`LaunchSpec`] (argv, env, what goes on stdin)
//! and parses output lines into canonical [`AgentEvent`]s. It never spawns,
//! reads, writes or sleeps; the runtime does that.

pub mod claude;
pub mod codex;
pub mod gemini;
pub mod lines;
pub mod permission;
pub mod question_file;
pub mod sanitize;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::core::event::{AgentEvent, Question};

/// The kinds of agent corral can drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentKind {
    Claude,
    /// OpenAI's Codex CLI, `codex exec --json`.
    Codex,
    /// Google's Gemini CLI, `gemini -p ... --output-format stream-json`.
    Gemini,
}

impl AgentKind {
    /// The name used in configs, on the command line and in events.
    pub fn name(self) -> &'static str {
        match self {
            AgentKind::Claude => "claude",
            AgentKind::Codex => "codex",
            AgentKind::Gemini => "gemini",
        }
    }

    /// Parses a kind from its name.
    pub fn from_name(name: &str) -> Option<AgentKind> {
        match name {
            "claude" => Some(AgentKind::Claude),
            "codex" => Some(AgentKind::Codex),
            "gemini" => Some(AgentKind::Gemini),
            _ => None,
        }
    }

    /// How to start this kind of agent for `prompt` in `cwd`.
    pub fn launch_spec(self, opts: &AgentOptions, cwd: &Path, prompt: &str) -> LaunchSpec {
        match self {
            AgentKind::Claude => claude::launch(opts, cwd, prompt),
            AgentKind::Codex => codex::launch(opts, cwd, prompt),
            AgentKind::Gemini => gemini::launch(opts, cwd, prompt),
        }
    }

    /// The stdin line answering `question`, for kinds with a live channel.
    pub fn encode_answer(self, question: &Question, answer: &Answer) -> Option<String> {
        match self {
            AgentKind::Claude => Some(claude::Claude::encode_answer(question, answer)),
            // Neither has a live channel in the mode corral runs them in.
            AgentKind::Codex | AgentKind::Gemini => None,
        }
    }

    /// Whether the agent can be asked and answered while it runs.
    pub fn has_live_channel(self) -> bool {
        matches!(self, AgentKind::Claude)
    }

    /// The stdin line carrying the user's next message, for kinds with a
    /// live channel.
    pub fn encode_user_message(self, text: &str) -> Option<String> {
        match self {
            AgentKind::Claude => Some(claude::Claude::encode_user_message(text)),
            _ => None,
        }
    }

    /// A fresh output parser for one run of this kind.
    pub fn parser(self) -> Box<dyn OutputParser> {
        match self {
            AgentKind::Claude => Box::new(claude::ClaudeParser::default()),
            AgentKind::Codex => Box::new(codex::CodexParser::default()),
            AgentKind::Gemini => Box::new(gemini::GeminiParser::default()),
        }
    }
}

/// What the user asked for, independent of the agent kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentOptions {
    /// The binary to run; `None` means the kind's default name on `PATH`.
    pub binary: Option<String>,
    pub model: Option<String>,
    pub permission_mode: Option<String>,
    pub allowed_tools: Vec<String>,
    pub disallowed_tools: Vec<String>,
    pub append_system_prompt: Option<String>,
    pub add_dirs: Vec<PathBuf>,
    pub max_budget_usd: Option<f64>,
    /// Preset the id of a new session.
    pub session_id: Option<String>,
    /// Resume this existing session.
    pub resume: Option<String>,
    /// Codex `-c key=value` config overrides (the value is TOML), one per
    /// entry, passed as `-c <entry>`. Ignored by other kinds.
    #[serde(default)]
    pub config_overrides: Vec<String>,
    /// Appended verbatim to the agent's argv.
    pub extra_args: Vec<String>,
    /// Extra environment for the agent.
    pub env: Vec<(String, String)>,
    /// Do not tell an agent without a live channel how to ask questions
    /// through the question file.
    #[serde(default)]
    pub no_question_file: bool,
}

/// Everything the runtime needs to start one agent process.
#[derive(Debug, Clone, PartialEq)]
pub struct LaunchSpec {
    pub program: String,
    pub args: Vec<String>,
    pub cwd: PathBuf,
    pub env: Vec<(String, String)>,
    pub stdin: StdinMode,
}

/// What the agent's stdin is.
#[derive(Debug, Clone, PartialEq)]
pub enum StdinMode {
    /// `/dev/null`.
    Null,
    /// A pipe kept open; these lines are written first (each ends in `\n`).
    Pipe { initial_lines: Vec<String> },
}

/// The user's decision on a [`Question`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Answer {
    /// Run the tool (with its input, possibly edited).
    Allow {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        updated_input: Option<Value>,
    },
    /// Do not run it; the message tells the agent why.
    Deny { message: String },
    /// Answers to the questions: question text to the chosen label(s) or
    /// free text (several labels joined with ", ").
    Answer { answers: Vec<(String, String)> },
}

/// Reads one agent's output, line by line, into canonical events.
pub trait OutputParser: Send {
    /// One complete output line: `\r` stripped, invalid UTF-8 replaced.
    fn parse_line(&mut self, line: &str) -> Vec<AgentEvent>;
}

/// How a structured agent is spoken to over stdin, where it has a live channel.
pub trait LiveProtocol {
    /// The line that answers `question` with `answer`.
    fn encode_answer(question: &Question, answer: &Answer) -> String;
    /// The line that sends the user's next message.
    fn encode_user_message(text: &str) -> String;
}
