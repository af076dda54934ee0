//! Agent Client Protocol (ACP) adapter: how to start an ACP agent (gemini
//! `--acp`, or any program speaking ACP over stdio), the lines corral writes
//! to it, and how its lines become canonical [`AgentEvent`]s.
//!
//! ACP is JSON-RPC 2.0, one object per line. corral is the client: it sends
//! `initialize` and `session/new` (or `session/load`) at start, then
//! `session/prompt` per turn once the session id is known (the core does
//! that on the [`AgentEvent::Session`] this parser reports), answers
//! `session/request_permission`, and sends `session/cancel` to interrupt.
//! Formats follow gemini-cli 0.61.0 (`tests/fixtures/gemini_acp`).
//!
//! | agent line | canonical events |
//! |---|---|
//! | response to `session/new` / `session/load` | `session` |
//! | `session/update` `agent_message_chunk` / `agent_thought_chunk` | `text` / `thinking` deltas |
//! | `session/update` `tool_call` | `tool_call` (and `tool_result` if it is already done) |
//! | `session/update` `tool_call_update` `completed` / `failed` | `tool_result` |
//! | `session/update` `plan` | `plan` |
//! | `session/request_permission` | `tool_call` (if not announced yet), then `question` (an approval) |
//! | any other request from the agent | `error` for the user and a JSON-RPC error reply (`protocol_reply`), so the agent never waits |
//! | response to `session/prompt` | `usage` (from `_meta.quota.token_count` or `usage`), `turn_end` (`end_turn` is success; anything else, or a JSON-RPC error, is a failed turn) |
//! | a stdout line that is not JSON | `raw` |
//! | a stderr line (stderr is a pipe of its own) | `notice`; for gemini its retry lines become `retry` as in stream-json mode |
//!
//! The ACP types are written here for the few messages corral uses rather
//! than taken from the `agent-client-protocol-schema` crate: that crate
//! turns on serde_json's `preserve_order` feature, which Cargo unifies into
//! the whole build and which would change the key order of every JSON object
//! corral writes and snapshots; the subset here is small and every field
//! is optional, so a newer agent's extra fields never break parsing.
//!
//! Pure: never spawns, reads, writes or sleeps; never panics on agent output.

use std::collections::HashSet;
use std::path::Path;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::permission::{PermissionMode, gemini_permission_args};
use super::sanitize::sanitize_line;
use super::{AgentOptions, Answer, LaunchSpec, OutputParser, StdinMode};
use crate::core::event::{AgentEvent, PlanItem, Question, QuestionKind, Usage};

/// JSON-RPC id of corral's `initialize` request.
const ID_INITIALIZE: &str = "corral-initialize";
/// JSON-RPC id of corral's `session/new` request.
const ID_NEW_SESSION: &str = "corral-session-new";
/// JSON-RPC id prefix of corral's `session/load` request (the session id
/// follows, so the answer, which carries none, can be matched to it).
const ID_LOAD_PREFIX: &str = "corral-session-load:";
/// JSON-RPC id prefix of corral's `session/prompt` requests.
const ID_PROMPT_PREFIX: &str = "corral-prompt-";

/// The ACP protocol version corral speaks.
const PROTOCOL_VERSION: u64 = 1;

/// JSON-RPC "method not found".
const METHOD_NOT_FOUND: i64 = -32601;

/// How gemini is asked to speak ACP (`--experimental-acp` before 0.3x).
pub const GEMINI_ACP_FLAG: &str = "--acp";

/// How to start gemini over ACP for `prompt` in `cwd`: `gemini --acp
/// --skip-trust [-m M] [--approval-mode ...] [--include-directories D]...
/// [extra args]`. The prompt is not on the command line: it is sent as the
/// first `session/prompt` once the session exists.
pub fn launch_gemini(opts: &AgentOptions, cwd: &Path, _prompt: &str) -> LaunchSpec {
    let mut args = vec![GEMINI_ACP_FLAG.to_string(), "--skip-trust".to_string()];
    if let Some(model) = &opts.model {
        args.push(format!("--model={model}"));
    }
    if let Some(mode) = &opts.permission_mode {
        args.extend(gemini_permission_args(mode));
    }
    for dir in &opts.add_dirs {
        args.push(format!("--include-directories={}", dir.to_string_lossy()));
    }
    args.extend(opts.extra_args.iter().cloned());
    LaunchSpec {
        program: opts.binary.clone().unwrap_or_else(|| "gemini".into()),
        args,
        cwd: cwd.to_path_buf(),
        env: opts.env.clone(),
        stdin: StdinMode::Pipe {
            initial_lines: opening_lines(opts, cwd),
        },
    }
}

/// How to start any ACP agent: `opts.binary` with `opts.extra_args` (a
/// profile's `argv`), stdin a pipe carrying the protocol.
pub fn launch_generic(opts: &AgentOptions, cwd: &Path, _prompt: &str) -> LaunchSpec {
    LaunchSpec {
        program: opts
            .binary
            .clone()
            .filter(|b| !b.trim().is_empty())
            .unwrap_or_else(|| "acp-agent".into()),
        args: opts.extra_args.clone(),
        cwd: cwd.to_path_buf(),
        env: opts.env.clone(),
        stdin: StdinMode::Pipe {
            initial_lines: opening_lines(opts, cwd),
        },
    }
}

/// `initialize`, then `session/load` of `opts.resume` or `session/new`.
fn opening_lines(opts: &AgentOptions, cwd: &Path) -> Vec<String> {
    let cwd = cwd.to_string_lossy();
    let initialize = request(
        ID_INITIALIZE,
        "initialize",
        json!({
            "protocolVersion": PROTOCOL_VERSION,
            // corral offers no file system or terminal to the agent: it
            // reads and writes files and runs commands itself, and asks.
            "clientCapabilities": {
                "fs": {"readTextFile": false, "writeTextFile": false},
                "terminal": false,
            },
            "clientInfo": {"name": "corral", "version": env!("CARGO_PKG_VERSION")},
        }),
    );
    let session = match &opts.resume {
        Some(id) => request(
            &format!("{ID_LOAD_PREFIX}{id}"),
            "session/load",
            json!({"sessionId": id, "cwd": cwd, "mcpServers": []}),
        ),
        None => request(
            ID_NEW_SESSION,
            "session/new",
            json!({"cwd": cwd, "mcpServers": []}),
        ),
    };
    vec![initialize, session]
}

fn request(id: &str, method: &str, params: Value) -> String {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string()
}

/// The `session/prompt` line for turn `seq` of session `session_id`.
pub fn prompt_line(session_id: &str, seq: u64, text: &str) -> String {
    request(
        &format!("{ID_PROMPT_PREFIX}{seq}"),
        "session/prompt",
        json!({"sessionId": session_id, "prompt": [{"type": "text", "text": text}]}),
    )
}

/// The `session/cancel` notification that interrupts the running turn.
pub fn cancel_line(session_id: &str) -> String {
    json!({"jsonrpc": "2.0", "method": "session/cancel", "params": {"sessionId": session_id}})
        .to_string()
}

/// The reply to a `session/request_permission` question: the agent's
/// option of the kind that means the answer (`allow_once` for allow,
/// `reject_once` for deny; the `_always` kinds when only those exist), or
/// `cancelled` when the agent offered none of that meaning. ACP carries no
/// message with a denial: the core sends it as the next prompt.
pub fn answer_line(question: &Question, answer: &Answer) -> String {
    let request_id = question
        .input
        .get("requestId")
        .cloned()
        .unwrap_or(Value::Null);
    let allow = !matches!(answer, Answer::Deny { .. });
    let wanted: [&str; 2] = if allow {
        ["allow_once", "allow_always"]
    } else {
        ["reject_once", "reject_always"]
    };
    let options = question
        .input
        .get("options")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let chosen = wanted.iter().find_map(|kind| {
        options
            .iter()
            .find(|o| o.get("kind").and_then(Value::as_str) == Some(kind))
            .and_then(|o| o.get("optionId").cloned())
    });
    let outcome = match chosen {
        Some(option) => json!({"outcome": "selected", "optionId": option}),
        None => json!({"outcome": "cancelled"}),
    };
    json!({"jsonrpc": "2.0", "id": request_id, "result": {"outcome": outcome}}).to_string()
}

/// A JSON-RPC error reply to the agent's request `id`.
fn error_reply(id: &Value, code: i64, message: &str) -> String {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}).to_string()
}

/// Whether a permission mode lets an ACP agent through without asking
/// (for agents other than gemini, whose own flag does this): corral answers
/// the agent's permission requests by the mode. `None`: ask the user.
pub fn mode_answer(mode: Option<&str>, tool_kind: Option<&str>) -> Option<bool> {
    match mode.map(PermissionMode::parse) {
        Some(Ok(PermissionMode::BypassPermissions)) => Some(true),
        Some(Ok(PermissionMode::AcceptEdits)) if tool_kind == Some("edit") => Some(true),
        Some(Ok(PermissionMode::Plan))
            if !matches!(tool_kind, Some("read") | Some("search") | Some("think")) =>
        {
            Some(false)
        }
        _ => None,
    }
}

/// One JSON-RPC message as an ACP agent sends it; every field optional.
#[derive(Debug, Default, Deserialize)]
struct Message {
    id: Option<Value>,
    method: Option<String>,
    params: Option<Value>,
    result: Option<Value>,
    error: Option<RpcError>,
}

#[derive(Debug, Default, Deserialize)]
struct RpcError {
    code: Option<i64>,
    message: Option<String>,
    data: Option<Value>,
}

impl RpcError {
    /// The message, with `data.details` when the agent gave one.
    fn text(&self) -> String {
        let message = self.message.clone().unwrap_or_else(|| "error".into());
        match self
            .data
            .as_ref()
            .and_then(|d| d.get("details"))
            .and_then(Value::as_str)
        {
            Some(details) => format!("{message}: {details}"),
            None => message,
        }
    }
}

/// A tool call as ACP describes it (`tool_call`, `tool_call_update`, and
/// the `toolCall` of a permission request).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ToolCall {
    tool_call_id: Option<String>,
    title: Option<String>,
    kind: Option<String>,
    status: Option<String>,
    content: Option<Vec<Value>>,
    raw_input: Option<Value>,
    raw_output: Option<Value>,
    locations: Option<Vec<Value>>,
}

impl ToolCall {
    /// The tool's name: gemini's tool name, which starts its call ids
    /// (`run_shell_command__...`), else the call's kind (`execute`,
    /// `edit`, ...), else its title.
    fn name(&self) -> String {
        let from_id = self
            .tool_call_id
            .as_deref()
            .and_then(|id| id.split_once("__"))
            .map(|(name, _)| name.to_string())
            .filter(|name| !name.is_empty());
        from_id
            .or_else(|| self.kind.clone())
            .or_else(|| self.title.clone())
            .unwrap_or_else(|| "tool".into())
    }

    /// The input shown and matched by allow rules: the raw input if the
    /// agent sent one, else what is known (`kind`, `title`, `locations`);
    /// for a command (`kind` `execute`), `command` is the title.
    fn input(&self) -> Value {
        let mut input = match &self.raw_input {
            Some(Value::Object(map)) => map.clone(),
            _ => Map::new(),
        };
        if let Some(kind) = &self.kind {
            input.entry("kind").or_insert_with(|| json!(kind));
        }
        if let Some(title) = &self.title {
            input.entry("title").or_insert_with(|| json!(title));
            if self.kind.as_deref() == Some("execute") {
                input.entry("command").or_insert_with(|| json!(title));
            }
        }
        if let Some(locations) = self.locations.as_ref().filter(|l| !l.is_empty()) {
            input
                .entry("locations")
                .or_insert_with(|| Value::Array(locations.clone()));
        }
        Value::Object(input)
    }

    /// The output text of a finished call: its text contents, diffs as
    /// `path: N lines`, else the raw output.
    fn output(&self) -> String {
        let mut parts = Vec::new();
        for item in self.content.iter().flatten() {
            match item.get("type").and_then(Value::as_str) {
                Some("content") => {
                    if let Some(text) = item
                        .get("content")
                        .and_then(|c| c.get("text"))
                        .and_then(Value::as_str)
                    {
                        parts.push(text.to_string());
                    }
                }
                Some("diff") => {
                    let path = item.get("path").and_then(Value::as_str).unwrap_or("?");
                    let lines = item
                        .get("newText")
                        .and_then(Value::as_str)
                        .map(|t| t.lines().count())
                        .unwrap_or(0);
                    parts.push(format!("{path}: {lines} lines written"));
                }
                _ => {}
            }
        }
        if parts.is_empty()
            && let Some(raw) = &self.raw_output
        {
            parts.push(match raw {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            });
        }
        parts.join("\n")
    }
}

/// Reads an ACP agent's stdout (stderr merged by the PTY). Stateful: one per
/// process.
#[derive(Debug)]
pub struct AcpParser {
    /// The agent name for [`AgentEvent::Session`] (`gemini`, `acp`).
    agent: String,
    /// Tool calls already announced as `tool_call` events.
    announced: HashSet<String>,
    /// Tool calls whose result was reported.
    finished: HashSet<String>,
    /// Assistant text since the turn's last tool call: the turn's result.
    answer: String,
    tool_since_answer: bool,
    /// gemini's stderr (merged by the PTY) carries its retries: lines that
    /// are not JSON go through the stream-json parser, which reads them.
    stderr: Option<super::gemini::GeminiParser>,
}

impl AcpParser {
    pub fn new(agent: &str) -> AcpParser {
        AcpParser {
            stderr: (agent == "gemini").then(super::gemini::GeminiParser::default),
            agent: agent.to_string(),
            announced: HashSet::new(),
            finished: HashSet::new(),
            answer: String::new(),
            tool_since_answer: false,
        }
    }
}

impl OutputParser for AcpParser {
    /// Gemini's retries arrive on stderr; every other line is a notice.
    fn parse_stderr_line(&mut self, line: &str) -> Vec<AgentEvent> {
        match &mut self.stderr {
            Some(stderr) => stderr.parse_stderr_line(line),
            None => super::notice(line),
        }
    }

    fn parse_line(&mut self, line: &str) -> Vec<AgentEvent> {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            return Vec::new();
        }
        let value = match serde_json::from_str::<Value>(trimmed) {
            Ok(value @ Value::Object(_)) => value,
            _ => {
                return match &mut self.stderr {
                    Some(stderr) => stderr.parse_line(line),
                    None => raw(line),
                };
            }
        };
        let message = match serde_json::from_value::<Message>(value) {
            Ok(message) => message,
            Err(err) => {
                return vec![AgentEvent::Error {
                    message: format!(
                        "malformed ACP message from the agent ({err}): {}",
                        clip(trimmed)
                    ),
                }];
            }
        };
        match (&message.id, &message.method) {
            (Some(id), Some(method)) => self.request(id, method, message.params.as_ref()),
            (None, Some(method)) => self.notification(method, message.params.as_ref()),
            (Some(id), None) => self.response(id, &message),
            (None, None) => vec![AgentEvent::Error {
                message: format!(
                    "malformed ACP message from the agent (neither a request, a notification nor a response): {}",
                    clip(trimmed)
                ),
            }],
        }
    }
}

impl AcpParser {
    fn request(&mut self, id: &Value, method: &str, params: Option<&Value>) -> Vec<AgentEvent> {
        if method == "session/request_permission" {
            return self.permission(id, params);
        }
        let message =
            format!("the agent asked for `{method}`, which corral does not offer; it was told so");
        vec![
            AgentEvent::Error {
                message: message.clone(),
            },
            AgentEvent::ProtocolReply {
                line: error_reply(
                    id,
                    METHOD_NOT_FOUND,
                    &format!("corral does not support {method}"),
                ),
            },
        ]
    }

    fn permission(&mut self, id: &Value, params: Option<&Value>) -> Vec<AgentEvent> {
        let params = params.cloned().unwrap_or(Value::Null);
        let call: ToolCall = params
            .get("toolCall")
            .cloned()
            .and_then(|c| serde_json::from_value(c).ok())
            .unwrap_or_default();
        let call_id = call.tool_call_id.clone();
        let mut events = Vec::new();
        if let Some(call_id) = &call_id
            && self.announced.insert(call_id.clone())
        {
            self.tool_since_answer = true;
            events.push(AgentEvent::ToolCall {
                id: call_id.clone(),
                name: call.name(),
                input: call.input(),
            });
        }
        let mut input = match call.input() {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        input.insert("requestId".into(), id.clone());
        input.insert(
            "options".into(),
            params.get("options").cloned().unwrap_or(json!([])),
        );
        events.push(AgentEvent::Question(Question {
            id: match id {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            },
            kind: QuestionKind::Approval,
            tool: Some(call.name()),
            input: Value::Object(input),
            tool_use_id: call_id,
            questions: Vec::new(),
        }));
        events
    }

    fn notification(&mut self, method: &str, params: Option<&Value>) -> Vec<AgentEvent> {
        if method != "session/update" {
            return Vec::new();
        }
        let Some(update) = params.and_then(|p| p.get("update")) else {
            return Vec::new();
        };
        match update.get("sessionUpdate").and_then(Value::as_str) {
            Some("agent_message_chunk") => match chunk_text(update) {
                Some(text) => {
                    if self.tool_since_answer {
                        self.answer.clear();
                        self.tool_since_answer = false;
                    }
                    self.answer.push_str(&text);
                    vec![AgentEvent::Text { text, delta: true }]
                }
                None => Vec::new(),
            },
            Some("agent_thought_chunk") => chunk_text(update)
                .map(|text| vec![AgentEvent::Thinking { text, delta: true }])
                .unwrap_or_default(),
            Some("tool_call") | Some("tool_call_update") => self.tool_call(update),
            Some("plan") => plan(update),
            _ => Vec::new(),
        }
    }

    fn tool_call(&mut self, update: &Value) -> Vec<AgentEvent> {
        let Ok(call) = serde_json::from_value::<ToolCall>(update.clone()) else {
            return Vec::new();
        };
        let Some(id) = call.tool_call_id.clone() else {
            return Vec::new();
        };
        let mut events = Vec::new();
        if self.announced.insert(id.clone()) {
            self.tool_since_answer = true;
            events.push(AgentEvent::ToolCall {
                id: id.clone(),
                name: call.name(),
                input: call.input(),
            });
        }
        let done = matches!(call.status.as_deref(), Some("completed") | Some("failed"));
        if done && self.finished.insert(id.clone()) {
            events.push(AgentEvent::ToolResult {
                id,
                output: call.output(),
                is_error: call.status.as_deref() == Some("failed"),
            });
        }
        events
    }

    fn response(&mut self, id: &Value, message: &Message) -> Vec<AgentEvent> {
        let id = id.as_str().unwrap_or_default();
        if id == ID_NEW_SESSION || id.starts_with(ID_LOAD_PREFIX) {
            return self.session(id, message);
        }
        if id.starts_with(ID_PROMPT_PREFIX) {
            return self.turn_end(message);
        }
        match &message.error {
            Some(error) if id == ID_INITIALIZE => vec![AgentEvent::Error {
                message: format!("the ACP agent refused to initialize: {}", error.text()),
            }],
            Some(error) => vec![AgentEvent::Error {
                message: format!("the ACP agent answered an error: {}", error.text()),
            }],
            None => Vec::new(),
        }
    }

    fn session(&mut self, id: &str, message: &Message) -> Vec<AgentEvent> {
        let loading = id.strip_prefix(ID_LOAD_PREFIX);
        if let Some(error) = &message.error {
            let message = match loading {
                Some(session) => format!("could not resume session {session}: {}", error.text()),
                None => format!("the ACP agent could not start a session: {}", error.text()),
            };
            return vec![
                AgentEvent::Error {
                    message: message.clone(),
                },
                AgentEvent::TurnEnd {
                    is_error: true,
                    result: Some(message),
                    api_error_status: None,
                    num_turns: Some(0),
                    permission_denials: Vec::new(),
                    terminal_reason: None,
                    api_error_type: None,
                },
            ];
        }
        let result = message.result.clone().unwrap_or(Value::Null);
        let session_id = match loading {
            Some(session) => Some(session.to_string()),
            None => result
                .get("sessionId")
                .and_then(Value::as_str)
                .map(str::to_string),
        };
        let Some(session_id) = session_id else {
            return vec![AgentEvent::Error {
                message: "the ACP agent started a session but gave no session id".into(),
            }];
        };
        let model = result
            .get("models")
            .and_then(|m| m.get("currentModelId"))
            .and_then(Value::as_str)
            .map(str::to_string);
        vec![AgentEvent::Session {
            session_id,
            model,
            cwd: None,
            agent: self.agent.clone(),
        }]
    }

    fn turn_end(&mut self, message: &Message) -> Vec<AgentEvent> {
        let answer = std::mem::take(&mut self.answer);
        self.tool_since_answer = false;
        if let Some(error) = &message.error {
            let text = error.text();
            let status = error
                .code
                .and_then(|c| u16::try_from(c).ok())
                .filter(|c| (400..600).contains(c))
                .or_else(|| embedded_status(&text));
            return vec![
                AgentEvent::Error {
                    message: text.clone(),
                },
                AgentEvent::TurnEnd {
                    is_error: true,
                    result: Some(text),
                    api_error_status: status,
                    num_turns: Some(1),
                    permission_denials: Vec::new(),
                    terminal_reason: None,
                    api_error_type: None,
                },
            ];
        }
        let result = message.result.clone().unwrap_or(Value::Null);
        let mut events = Vec::new();
        if let Some(usage) = usage(&result) {
            events.push(AgentEvent::Usage(usage));
        }
        let stop = result
            .get("stopReason")
            .and_then(Value::as_str)
            .unwrap_or("end_turn");
        let is_error = stop != "end_turn";
        events.push(AgentEvent::TurnEnd {
            is_error,
            result: Some(if is_error {
                format!("the turn ended: {stop}")
            } else {
                answer
            }),
            api_error_status: None,
            num_turns: Some(1),
            permission_denials: Vec::new(),
            terminal_reason: None,
            api_error_type: None,
        });
        events
    }
}

/// Token counts of a prompt result: gemini's `_meta.quota.token_count`, or
/// ACP's (unstable) `usage {inputTokens, outputTokens, cachedReadTokens}`.
fn usage(result: &Value) -> Option<Usage> {
    let count = |v: &Value, key: &str| v.get(key).and_then(Value::as_u64).unwrap_or(0);
    if let Some(tokens) = result
        .get("_meta")
        .and_then(|m| m.get("quota"))
        .and_then(|q| q.get("token_count"))
    {
        return Some(Usage {
            input_tokens: count(tokens, "input_tokens"),
            output_tokens: count(tokens, "output_tokens"),
            ..Usage::default()
        });
    }
    let usage = result.get("usage")?;
    Some(Usage {
        input_tokens: count(usage, "inputTokens"),
        output_tokens: count(usage, "outputTokens"),
        cache_read_tokens: count(usage, "cachedReadTokens"),
        cache_creation_tokens: count(usage, "cachedWriteTokens"),
        cost_usd: None,
    })
}

/// An HTTP status quoted in an error body (`{"error":{"code":429,...}}`).
fn embedded_status(text: &str) -> Option<u16> {
    let body: Value = serde_json::from_str(text).ok()?;
    let code = body.get("error")?.get("code")?.as_u64()?;
    u16::try_from(code).ok().filter(|c| (400..600).contains(c))
}

/// The text of a message or thought chunk (`content {type:"text", text}`).
fn chunk_text(update: &Value) -> Option<String> {
    let content = update.get("content")?;
    match content.get("type").and_then(Value::as_str) {
        Some("text") | None => content
            .get("text")
            .and_then(Value::as_str)
            .map(str::to_string),
        Some(other) => Some(format!("[{other}]")),
    }
}

/// A `plan` update: the whole plan, every time.
fn plan(update: &Value) -> Vec<AgentEvent> {
    let entries = update
        .get("entries")
        .and_then(Value::as_array)
        .map(|entries| {
            entries
                .iter()
                .filter_map(|e| {
                    Some(PlanItem::new(
                        e.get("content")?.as_str()?,
                        e.get("status").and_then(Value::as_str).unwrap_or("pending"),
                    ))
                })
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    vec![AgentEvent::Plan {
        items: entries,
        explanation: None,
    }]
}

fn raw(line: &str) -> Vec<AgentEvent> {
    let clean = sanitize_line(line);
    if clean.trim().is_empty() {
        Vec::new()
    } else {
        vec![AgentEvent::Raw { line: clean }]
    }
}

/// At most 200 characters of a line, for error messages.
fn clip(line: &str) -> String {
    let clean = sanitize_line(line);
    match clean.char_indices().nth(200) {
        Some((at, _)) => format!("{}…", &clean[..at]),
        None => clean,
    }
}

#[cfg(test)]
#[path = "acp_tests.rs"]
mod tests;
