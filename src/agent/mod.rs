//! Agent adapters: how to start each kind of agent and how to read it.
//!
//! Pure: an adapter builds a [`LaunchSpec`] (argv, env, what goes on stdin)
//! and parses output lines into canonical [`AgentEvent`]s. It never spawns,
//! reads, writes or sleeps; the runtime does that.

pub mod acp;
pub mod claude;
pub mod claude_insight;
pub mod codex;
pub mod codex_app;
pub mod command;
pub mod gemini;
mod json;
pub mod lines;
pub mod openai;
pub mod permission;
#[cfg(test)]
mod proptests;
pub mod question_file;
pub mod sanitize;
pub mod sse;

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
    /// An OpenAI-compatible chat completions endpoint over HTTP: no
    /// process; the runtime streams the answer (`Effect::Chat`).
    #[serde(rename = "openai")]
    OpenAi,
    /// Any program, run interactively in a terminal (stdin is the PTY).
    Command,
    /// Any program speaking the Agent Client Protocol over stdio (the
    /// profile's `argv`).
    Acp,
}

impl AgentKind {
    /// The name used in configs, on the command line and in events.
    pub fn name(self) -> &'static str {
        match self {
            AgentKind::Claude => "claude",
            AgentKind::Codex => "codex",
            AgentKind::Gemini => "gemini",
            AgentKind::OpenAi => "openai",
            AgentKind::Command => "command",
            AgentKind::Acp => "acp",
        }
    }

    /// Parses a kind from its name.
    pub fn from_name(name: &str) -> Option<AgentKind> {
        match name {
            "claude" => Some(AgentKind::Claude),
            "codex" => Some(AgentKind::Codex),
            "gemini" => Some(AgentKind::Gemini),
            "openai" => Some(AgentKind::OpenAi),
            "command" => Some(AgentKind::Command),
            "acp" => Some(AgentKind::Acp),
            _ => None,
        }
    }

    /// Every kind's name, for help texts and error messages.
    pub const NAMES: &'static [&'static str] =
        &["claude", "codex", "gemini", "openai", "command", "acp"];

    /// Whether this kind runs as a process (`Effect::Spawn`) rather than as
    /// HTTP requests (`Effect::Chat`, [`AgentKind::OpenAi`]).
    pub fn is_process(self) -> bool {
        self != AgentKind::OpenAi
    }

    /// How to start this kind of agent for `prompt` in `cwd`. For
    /// [`AgentKind::OpenAi`], which has no process, the spec names no
    /// program: build an [`openai::ChatRequest`] instead.
    pub fn launch_spec(self, opts: &AgentOptions, cwd: &Path, prompt: &str) -> LaunchSpec {
        match self {
            AgentKind::Claude => claude::launch(opts, cwd, prompt),
            AgentKind::Codex if self.wire(opts) == Wire::CodexAppServer => {
                codex_app::launch(opts, cwd, prompt)
            }
            AgentKind::Codex => codex::launch(opts, cwd, prompt),
            AgentKind::Gemini if self.wire(opts) == Wire::Acp => {
                acp::launch_gemini(opts, cwd, prompt)
            }
            AgentKind::Gemini => gemini::launch(opts, cwd, prompt),
            AgentKind::Acp => acp::launch_generic(opts, cwd, prompt),
            AgentKind::OpenAi => openai::launch(opts, cwd, prompt),
            AgentKind::Command => command::launch(opts, cwd, prompt),
        }
    }

    /// The protocol this kind speaks with these options: the live one by
    /// default where the kind has one, or the one-shot fallback a profile
    /// asks for (`protocol = "stream-json"` for gemini).
    pub fn wire(self, opts: &AgentOptions) -> Wire {
        match self {
            AgentKind::Claude => Wire::ClaudeStdio,
            AgentKind::Acp => Wire::Acp,
            // A resume stays on stream-json's `--resume`: gemini 0.61.0
            // advertises `loadSession`, but its `session/load` finds no
            // earlier session (tests/fixtures/gemini_acp/load_turn2).
            AgentKind::Gemini if opts.resume.is_some() => Wire::OneShot,
            AgentKind::Gemini => match opts.protocol.as_deref() {
                Some(p) if p == gemini::PROTOCOL_STREAM_JSON => Wire::OneShot,
                _ => Wire::Acp,
            },
            AgentKind::Codex => match opts.protocol.as_deref() {
                Some(p) if p == codex::PROTOCOL_EXEC => Wire::OneShot,
                _ => Wire::CodexAppServer,
            },
            AgentKind::OpenAi | AgentKind::Command => Wire::OneShot,
        }
    }

    /// The `protocol` of this kind's one-shot fallback, where it has a live
    /// protocol and a fallback: codex `exec`, gemini `stream-json`. corral
    /// switches to it when the live protocol does not start (a CLI too old
    /// for it).
    pub fn one_shot_protocol(self) -> Option<&'static str> {
        match self {
            AgentKind::Codex => Some(codex::PROTOCOL_EXEC),
            AgentKind::Gemini => Some(gemini::PROTOCOL_STREAM_JSON),
            _ => None,
        }
    }

    /// A fresh output parser for one run of this kind over `wire`.
    pub fn parser(self, wire: Wire) -> Box<dyn OutputParser> {
        match (self, wire) {
            (_, Wire::Acp) => Box::new(acp::AcpParser::new(self.name())),
            (_, Wire::CodexAppServer) => Box::new(codex_app::CodexAppParser::default()),
            (AgentKind::Claude, _) => Box::new(claude::ClaudeParser::default()),
            (AgentKind::Codex, _) => Box::new(codex::CodexParser::default()),
            (AgentKind::Gemini, _) => Box::new(gemini::GeminiParser::default()),
            // Never used for a process; its stream is read by `openai::ChatStream`.
            (AgentKind::OpenAi | AgentKind::Command | AgentKind::Acp, _) => {
                Box::new(command::RawParser)
            }
        }
    }
}

/// How corral talks to a running agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Wire {
    /// claude's stdio control protocol (stream-json in and out).
    ClaudeStdio,
    /// The Agent Client Protocol (JSON-RPC over stdio).
    Acp,
    /// `codex app-server` (JSON-RPC over stdio: threads and turns).
    CodexAppServer,
    /// No live channel: the agent runs one turn with its prompt on the
    /// command line (codex `exec`, gemini stream-json, a chat request, a
    /// terminal program).
    OneShot,
}

impl Wire {
    /// Whether the agent can be asked and answered while it runs.
    pub fn is_live(self) -> bool {
        self != Wire::OneShot
    }

    /// The stdin line answering `question`, for live wires.
    pub fn encode_answer(self, question: &Question, answer: &Answer) -> Option<String> {
        match self {
            Wire::ClaudeStdio => Some(claude::Claude::encode_answer(question, answer)),
            Wire::Acp => Some(acp::answer_line(question, answer)),
            Wire::CodexAppServer => Some(codex_app::answer_line(question, answer)),
            Wire::OneShot => None,
        }
    }

    /// The stdin line carrying the user's next message: turn `seq` of
    /// `session` (the agent's session id, needed by ACP).
    pub fn encode_user_message(
        self,
        session: Option<&str>,
        seq: u64,
        text: &str,
    ) -> Option<String> {
        match self {
            Wire::ClaudeStdio => Some(claude::Claude::encode_user_message(text)),
            Wire::Acp => session.map(|id| acp::prompt_line(id, seq, text)),
            Wire::CodexAppServer => session.map(|id| codex_app::turn_line(id, seq, text)),
            Wire::OneShot => None,
        }
    }

    /// Whether the first prompt waits for the agent's session (it is sent
    /// on [`AgentEvent::Session`], not at launch).
    pub fn prompt_after_session(self) -> bool {
        matches!(self, Wire::Acp | Wire::CodexAppServer)
    }

    /// Whether a denial's message cannot travel with the denial itself and
    /// must follow as the next message once the turn ends.
    pub fn denial_message_follows(self) -> bool {
        matches!(self, Wire::Acp | Wire::CodexAppServer)
    }

    /// The stdin line that interrupts the running turn (`turn`, where the
    /// protocol names turns) of `session`: the first step of the kill
    /// ladder.
    pub fn encode_interrupt(self, session: Option<&str>, turn: Option<&str>) -> Option<String> {
        match self {
            Wire::Acp => session.map(acp::cancel_line),
            Wire::CodexAppServer => Some(codex_app::interrupt_line(session?, turn?)),
            Wire::ClaudeStdio | Wire::OneShot => None,
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
    /// The protocol to speak where a kind has more than one: gemini
    /// `"acp"` (the default) or `"stream-json"`, codex `"app-server"` (the
    /// default) or `"exec"`.
    #[serde(default)]
    pub protocol: Option<String>,
    /// Extra environment for the agent.
    pub env: Vec<(String, String)>,
    /// Do not tell an agent without a live channel how to ask questions
    /// through the question file.
    #[serde(default)]
    pub no_question_file: bool,
    /// OpenAI kind: the endpoint base (`http://127.0.0.1:11434/v1`);
    /// `None` means `OPENAI_BASE_URL`, else the OpenAI API.
    #[serde(default)]
    pub base_url: Option<String>,
    /// OpenAI kind: the NAME of the variable holding the API key (default
    /// `OPENAI_API_KEY`). The key itself is never stored or logged.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// OpenAI kind: the system prompt (`append_system_prompt` is added to it).
    #[serde(default)]
    pub system_prompt: Option<String>,
    /// OpenAI kind: sampling temperature.
    #[serde(default)]
    pub temperature: Option<f64>,
    /// OpenAI kind: the answer's token limit (`max_tokens`).
    #[serde(default)]
    pub max_tokens: Option<u32>,
    /// Price of input tokens in US dollars per million, for agents that
    /// report no cost (cost is shown only when a price is set).
    #[serde(default)]
    pub input_price_per_mtok: Option<f64>,
    /// Price of output tokens in US dollars per million.
    #[serde(default)]
    pub output_price_per_mtok: Option<f64>,
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
    /// The terminal itself, as for an interactive program: the user's
    /// keystrokes go to the PTY (`Effect::WriteInput`). These bytes are
    /// typed first.
    Terminal { initial_input: Vec<u8> },
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
    /// One complete line of the agent's stderr (structured agents have it
    /// on a pipe of its own): a dim notice unless the kind reads more in
    /// it (gemini's retries).
    fn parse_stderr_line(&mut self, line: &str) -> Vec<AgentEvent> {
        notice(line)
    }
}

/// A stderr line as a notice: control sequences removed, blank lines none.
pub fn notice(line: &str) -> Vec<AgentEvent> {
    let clean = sanitize::sanitize_line(line);
    if clean.trim().is_empty() {
        Vec::new()
    } else {
        vec![AgentEvent::Notice { line: clean }]
    }
}

/// How a structured agent is spoken to over stdin, where it has a live channel.
pub trait LiveProtocol {
    /// The line that answers `question` with `answer`.
    fn encode_answer(question: &Question, answer: &Answer) -> String;
    /// The line that sends the user's next message.
    fn encode_user_message(text: &str) -> String;
}
