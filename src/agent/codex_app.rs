//! Codex over `codex app-server` (JSON-RPC over stdio): how to start it, the
//! lines corral writes to it, and how its lines become canonical
//! [`AgentEvent`]s. Formats follow codex-cli 0.169.0
//! (`tests/fixtures/codex_app_server`).
//!
//! corral sends `initialize`, the `initialized` notification and
//! `thread/start` (or `thread/resume`) at start; the core sends the prompt
//! as `turn/start` once the thread is announced, answers approval requests,
//! sends follow-ups as new turns of the same thread, and `turn/interrupt`
//! before the kill ladder's signals.
//!
//! | codex line | canonical events |
//! |---|---|
//! | `thread/started`, or the `thread/start`/`thread/resume` answer | `session` (the thread id) |
//! | `turn/started` | `turn_started` (kept by the core for the interrupt, never shown) |
//! | `item/agentMessage/delta` | `text` delta |
//! | `item/reasoning/summaryTextDelta`, `item/reasoning/textDelta` | `thinking` delta (`summaryPartAdded` of a further part: a paragraph break) |
//! | `item/completed` `agentMessage` / `reasoning` that sent no deltas (the API sent it whole) | `text` / `thinking`, whole (the summary's paragraphs, else its raw text) |
//! | `item/started` `commandExecution` / `fileChange` | `tool_call` (`shell` with `command`, `apply_patch` with `changes`) |
//! | `item/completed` of those | `tool_result` (an error unless `completed` with exit code 0) |
//! | `item/started` `mcpToolCall` | `mcp_call` (`server`, `tool`, `arguments`) |
//! | `item/completed` `mcpToolCall` | `tool_result` (its `result` text, or its `error`; an error unless `completed`) |
//! | `item/commandExecution/requestApproval`, `item/fileChange/requestApproval` | `question` (an approval) |
//! | `mcpServer/elicitation/request` marked `codex_approval_kind: "mcp_tool_call"` | `question` (an approval of tool `mcp__<server>__<tool>`, input the tool's arguments), answered `{action: accept \| decline}` |
//! | any other `mcpServer/elicitation/request` (a form for the user) | `error` and a `decline` reply |
//! | any other request | `error` and a JSON-RPC error reply, so codex never waits |
//! | `thread/tokenUsage/updated` | `usage` (its `last` counts: increments) |
//! | `item/completed` `webSearch` | `web_search` (its query; codex reports no result) |
//! | `turn/plan/updated` | `plan` (step status `inProgress` is in progress) |
//! | `mcpServer/startupStatus/updated` with `status: "failed"` | `error` (its message names the server and why) |
//! | `error` | `retry` when `willRetry`, else `error` |
//! | `turn/completed` | `turn_end` (`completed` succeeds; `failed`, `interrupted` fail) |
//! | a line that is not JSON | `raw` |
//! | a stderr line (codex's log lines, even those it marks `ERROR`, such as the missing bubblewrap) | `notice`, but not the ERROR it logs for each declined command |
//!
//! codex's published `codex-app-server-protocol` crate was not used: the
//! newest release is 0.63.0, published from a fork, and lacks messages the
//! 0.169.0 CLI sends (`thread/tokenUsage/updated`); it also pulls in
//! codex-protocol, mcp-types and schemars. The few shapes here are read
//! leniently from `serde_json::Value`, so unknown fields never break.
//!
//! Pure: never spawns, reads, writes or sleeps; never panics on its input.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde_json::{Value, json};

use super::permission::PermissionMode;
use super::sanitize::sanitize_line;
use super::{AgentOptions, Answer, LaunchSpec, OutputParser, StdinMode};
use crate::core::event::{AgentEvent, PlanItem, Question, QuestionKind, Usage};

/// The agent name in [`AgentEvent::Session`].
const AGENT: &str = "codex";

/// JSON-RPC "method not found".
const METHOD_NOT_FOUND: i64 = -32601;

/// What codex's stderr log line for a command the user declined ends with.
const DECLINED_LOG: &str =
    r#"exec_command failed: CreateProcess { message: "Rejected(\"rejected by user\")" }"#;

/// How to start codex's app server in `cwd`: `codex [-c K=V]... app-server
/// [extra args]`, stdin a pipe carrying the protocol. The prompt is sent
/// as the first `turn/start` once the thread exists.
pub fn launch(opts: &AgentOptions, cwd: &Path, _prompt: &str) -> LaunchSpec {
    let mut args = Vec::new();
    for entry in &opts.config_overrides {
        args.push("-c".to_string());
        args.push(entry.clone());
    }
    args.push("app-server".to_string());
    args.extend(opts.extra_args.iter().cloned());
    LaunchSpec {
        program: opts.binary.clone().unwrap_or_else(|| "codex".into()),
        args,
        cwd: cwd.to_path_buf(),
        env: opts.env.clone(),
        stdin: StdinMode::Pipe {
            initial_lines: opening_lines(opts, cwd),
        },
    }
}

/// codex's approval policy and sandbox for a corral permission mode:
/// `default` and `acceptEdits` ask (`untrusted`) in a workspace-write
/// sandbox (the core lets edits through for `acceptEdits`), `plan` asks in
/// a read-only sandbox, `bypassPermissions` never asks and has no sandbox.
pub fn policy(mode: Option<&str>) -> (&'static str, &'static str) {
    match mode.map(PermissionMode::parse) {
        Some(Ok(PermissionMode::BypassPermissions)) => ("never", "danger-full-access"),
        Some(Ok(PermissionMode::Plan)) => ("untrusted", "read-only"),
        _ => ("untrusted", "workspace-write"),
    }
}

fn opening_lines(opts: &AgentOptions, cwd: &Path) -> Vec<String> {
    let (approval, sandbox) = policy(opts.permission_mode.as_deref());
    let mut params = json!({
        "cwd": cwd.to_string_lossy(),
        "approvalPolicy": approval,
        "sandbox": sandbox,
    });
    if let Some(model) = &opts.model {
        params["model"] = json!(model);
    }
    if let Some(prompt) = &opts.append_system_prompt {
        params["developerInstructions"] = json!(prompt);
    }
    let thread = match &opts.resume {
        Some(id) => {
            params["threadId"] = json!(id);
            request("corral-thread-resume", "thread/resume", params)
        }
        None => request("corral-thread-start", "thread/start", params),
    };
    vec![
        request(
            "corral-initialize",
            "initialize",
            json!({"clientInfo": {"name": "corral", "title": "corral",
                                  "version": env!("CARGO_PKG_VERSION")}}),
        ),
        json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}).to_string(),
        thread,
    ]
}

fn request(id: &str, method: &str, params: Value) -> String {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string()
}

/// The `turn/start` line for turn `seq` of thread `thread`.
pub fn turn_line(thread: &str, seq: u64, text: &str) -> String {
    request(
        &format!("corral-turn-{seq}"),
        "turn/start",
        json!({"threadId": thread, "input": [{"type": "text", "text": text}]}),
    )
}

/// The `turn/interrupt` line for the running turn.
pub fn interrupt_line(thread: &str, turn: &str) -> String {
    request(
        "corral-interrupt",
        "turn/interrupt",
        json!({"threadId": thread, "turnId": turn}),
    )
}

/// The answer to an approval request: `accept` or `decline` (codex's
/// decision carries no message: the core sends it as the next turn). An
/// MCP tool's approval is an MCP elicitation, answered with its `action`.
pub fn answer_line(question: &Question, answer: &Answer) -> String {
    let id = question
        .input
        .get("requestId")
        .cloned()
        .unwrap_or_else(|| request_id_of(&question.id));
    let allow = !matches!(answer, Answer::Deny { .. });
    let result = if is_mcp_approval(question) {
        let action = if allow { "accept" } else { "decline" };
        json!({"action": action, "content": null, "_meta": null})
    } else {
        json!({"decision": if allow { "accept" } else { "decline" }})
    };
    json!({"jsonrpc": "2.0", "id": id, "result": result}).to_string()
}

/// The tool name prefix of an MCP tool's approval (`mcp__<server>__<tool>`,
/// as claude names MCP tools).
const MCP_PREFIX: &str = "mcp__";

fn is_mcp_approval(question: &Question) -> bool {
    question
        .tool
        .as_deref()
        .is_some_and(|t| t.starts_with(MCP_PREFIX))
}

/// The JSON-RPC id of a request from a question id made by
/// [`CodexAppParser`]: a number's digits, else the string itself.
fn request_id_of(id: &str) -> Value {
    match serde_json::from_str::<Value>(id) {
        Ok(number @ Value::Number(_)) => number,
        _ => Value::String(id.to_string()),
    }
}

/// Reads `codex app-server` output. Stateful: one per process.
#[derive(Debug, Default)]
pub struct CodexAppParser {
    /// The thread was announced.
    session: Option<String>,
    /// What each tool item was announced as (for approvals that name only
    /// the item).
    items: HashMap<String, (String, Value)>,
    /// Assistant text of the turn's last message.
    answer: String,
    /// MCP tool calls started and not yet completed, in order: (item id,
    /// `mcp__<server>__<tool>`), to tie codex's approval request (which
    /// names no item) to its call.
    mcp_calls: Vec<(String, String)>,
    /// Message and reasoning items that sent deltas this turn.
    streamed: HashSet<String>,
}

impl OutputParser for CodexAppParser {
    /// codex's log lines, as notices; not the ERROR it logs for every
    /// command the user declined (the declined tool result says so).
    fn parse_stderr_line(&mut self, line: &str) -> Vec<AgentEvent> {
        if sanitize_line(line).contains(DECLINED_LOG) {
            return Vec::new();
        }
        super::notice(line)
    }

    fn parse_line(&mut self, line: &str) -> Vec<AgentEvent> {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            return Vec::new();
        }
        let Ok(Value::Object(msg)) = serde_json::from_str::<Value>(trimmed) else {
            let clean = sanitize_line(line);
            return if clean.trim().is_empty() {
                Vec::new()
            } else {
                vec![AgentEvent::Raw { line: clean }]
            };
        };
        let params = msg.get("params").cloned().unwrap_or(Value::Null);
        match (msg.get("id"), msg.get("method").and_then(Value::as_str)) {
            (Some(id), Some(method)) => self.request(id, method, &params),
            (None, Some(method)) => self.notification(method, &params),
            (Some(_), None) => self.response(&msg),
            (None, None) => vec![AgentEvent::Error {
                message: format!("malformed message from codex app-server: {}", clip(trimmed)),
            }],
        }
    }
}

impl CodexAppParser {
    fn session(&mut self, thread: &Value) -> Vec<AgentEvent> {
        let Some(id) = thread.get("id").and_then(Value::as_str) else {
            return Vec::new();
        };
        if self.session.as_deref() == Some(id) {
            return Vec::new();
        }
        self.session = Some(id.to_string());
        vec![AgentEvent::Session {
            session_id: id.to_string(),
            model: None,
            cwd: thread
                .get("environments")
                .and_then(|e| e.get(0))
                .and_then(|e| e.get("cwd"))
                .and_then(Value::as_str)
                .map(str::to_string),
            agent: AGENT.into(),
        }]
    }

    fn response(&mut self, msg: &serde_json::Map<String, Value>) -> Vec<AgentEvent> {
        if let Some(error) = msg.get("error") {
            let text = error
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("error")
                .to_string();
            let id = msg.get("id").and_then(Value::as_str).unwrap_or_default();
            let failed_start = matches!(id, "corral-thread-start" | "corral-thread-resume")
                || id.starts_with("corral-turn-");
            let mut events = vec![AgentEvent::Error {
                message: format!("codex app-server answered an error: {text}"),
            }];
            if failed_start {
                events.push(AgentEvent::TurnEnd {
                    is_error: true,
                    result: Some(text),
                    api_error_status: None,
                    num_turns: Some(0),
                    permission_denials: Vec::new(),
                    terminal_reason: None,
                    api_error_type: None,
                });
            }
            return events;
        }
        match msg.get("result").and_then(|r| r.get("thread")) {
            Some(thread) => self.session(thread),
            None => Vec::new(),
        }
    }

    fn request(&mut self, id: &Value, method: &str, params: &Value) -> Vec<AgentEvent> {
        let (tool, kind) = match method {
            "item/commandExecution/requestApproval" => ("shell", "execute"),
            "item/fileChange/requestApproval" => ("apply_patch", "edit"),
            "mcpServer/elicitation/request" => return self.elicitation(id, params),
            _ => {
                let reply = json!({"jsonrpc": "2.0", "id": id, "error": {
                    "code": METHOD_NOT_FOUND,
                    "message": format!("corral does not support {method}")}})
                .to_string();
                return vec![
                    AgentEvent::Error {
                        message: format!(
                            "codex asked for `{method}`, which corral does not offer; it was told so"
                        ),
                    },
                    AgentEvent::ProtocolReply { line: reply },
                ];
            }
        };
        let item = params
            .get("itemId")
            .and_then(Value::as_str)
            .map(str::to_string);
        let mut input = serde_json::Map::new();
        if let Some((_, announced)) = item.as_ref().and_then(|i| self.items.get(i))
            && let Value::Object(map) = announced
        {
            input.extend(map.clone());
        }
        if let Some(command) = params.get("command").and_then(Value::as_str) {
            input.insert("command".into(), json!(unwrap_shell(command)));
        }
        for key in ["cwd", "reason"] {
            if let Some(value) = params.get(key).filter(|v| !v.is_null()) {
                input.insert(key.into(), value.clone());
            }
        }
        input.insert("kind".into(), json!(kind));
        input.insert("requestId".into(), id.clone());
        vec![AgentEvent::Question(Question {
            id: match id {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            },
            kind: QuestionKind::Approval,
            tool: Some(tool.into()),
            input: Value::Object(input),
            tool_use_id: item,
            questions: Vec::new(),
        })]
    }

    /// An MCP elicitation: codex asking before an MCP tool runs (an
    /// approval of `mcp__<server>__<tool>` whose input is the tool's
    /// arguments, as claude's MCP approvals), or an MCP server asking the
    /// user to fill a form, which corral cannot show: declined, so codex
    /// never waits.
    fn elicitation(&mut self, id: &Value, params: &Value) -> Vec<AgentEvent> {
        let meta = params.get("_meta").unwrap_or(&Value::Null);
        let server = params
            .get("serverName")
            .and_then(Value::as_str)
            .unwrap_or("mcp");
        if meta.get("codex_approval_kind").and_then(Value::as_str) != Some("mcp_tool_call") {
            let message = params
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let reply = json!({"jsonrpc": "2.0", "id": id,
                               "result": {"action": "decline", "content": null, "_meta": null}})
            .to_string();
            return vec![
                AgentEvent::Error {
                    message: format!(
                        "the MCP server {server} asked for input corral cannot show ({}); it was declined",
                        clip(message)
                    ),
                },
                AgentEvent::ProtocolReply { line: reply },
            ];
        }
        let tool = meta
            .get("tool_name")
            .and_then(Value::as_str)
            .unwrap_or("tool");
        let name = format!("{MCP_PREFIX}{server}__{tool}");
        let item = self
            .mcp_calls
            .iter()
            .find(|(_, called)| *called == name)
            .map(|(item, _)| item.clone());
        // The input is the tool's arguments alone, as claude's: shown and
        // matched alike; the reply finds the request by the question id.
        let input = match meta.get("tool_params") {
            Some(args @ Value::Object(_)) => args.clone(),
            _ => json!({}),
        };
        vec![AgentEvent::Question(Question {
            id: match id {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            },
            kind: QuestionKind::Approval,
            tool: Some(name),
            input,
            tool_use_id: item,
            questions: Vec::new(),
        })]
    }

    fn notification(&mut self, method: &str, params: &Value) -> Vec<AgentEvent> {
        match method {
            "thread/started" => params
                .get("thread")
                .map(|t| self.session(t))
                .unwrap_or_default(),
            "turn/started" => {
                self.answer.clear();
                params
                    .get("turn")
                    .and_then(|t| t.get("id"))
                    .and_then(Value::as_str)
                    .map(|id| {
                        vec![AgentEvent::TurnStarted {
                            turn_id: id.to_string(),
                        }]
                    })
                    .unwrap_or_default()
            }
            "item/agentMessage/delta" => self
                .delta(params)
                .map(|text| vec![AgentEvent::Text { text, delta: true }])
                .unwrap_or_default(),
            "item/reasoning/summaryTextDelta" | "item/reasoning/textDelta" => self
                .delta(params)
                .map(|text| vec![AgentEvent::Thinking { text, delta: true }])
                .unwrap_or_default(),
            // A further part of a reasoning summary starts a new paragraph.
            "item/reasoning/summaryPartAdded"
                if params.get("summaryIndex").and_then(Value::as_u64) > Some(0) =>
            {
                vec![AgentEvent::Thinking {
                    text: "\n\n".into(),
                    delta: true,
                }]
            }
            "item/started" => self.item_started(params.get("item").unwrap_or(&Value::Null)),
            "item/completed" => self.item_completed(params.get("item").unwrap_or(&Value::Null)),
            "thread/tokenUsage/updated" => usage(params).into_iter().collect(),
            "turn/plan/updated" => plan(params),
            "mcpServer/startupStatus/updated" => mcp_startup(params),
            "error" => error(params),
            "turn/completed" => self.turn_completed(params.get("turn").unwrap_or(&Value::Null)),
            _ => Vec::new(),
        }
    }

    fn item_started(&mut self, item: &Value) -> Vec<AgentEvent> {
        let Some(id) = item.get("id").and_then(Value::as_str) else {
            return Vec::new();
        };
        let (name, input) = match item.get("type").and_then(Value::as_str) {
            Some("mcpToolCall") => return self.mcp_started(id, item),
            Some("commandExecution") => (
                "shell",
                json!({"command": unwrap_shell(item.get("command").and_then(Value::as_str).unwrap_or_default())}),
            ),
            Some("fileChange") => ("apply_patch", json!({"changes": changes(item)})),
            _ => return Vec::new(),
        };
        self.items
            .insert(id.to_string(), (name.to_string(), input.clone()));
        vec![AgentEvent::ToolCall {
            id: id.to_string(),
            name: name.into(),
            input,
        }]
    }

    fn item_completed(&mut self, item: &Value) -> Vec<AgentEvent> {
        let id = item.get("id").and_then(Value::as_str).unwrap_or_default();
        let status = item.get("status").and_then(Value::as_str).unwrap_or("");
        match item.get("type").and_then(Value::as_str) {
            Some("agentMessage") => {
                let text = item.get("text").and_then(Value::as_str).unwrap_or_default();
                self.answer = text.to_string();
                // Shown whole when the API sent it whole (no deltas).
                match self.streamed.remove(id) || text.is_empty() {
                    true => Vec::new(),
                    false => vec![AgentEvent::Text {
                        text: text.to_string(),
                        delta: false,
                    }],
                }
            }
            Some("reasoning") => {
                let text = reasoning_text(item);
                match self.streamed.remove(id) || text.is_empty() {
                    true => Vec::new(),
                    false => vec![AgentEvent::Thinking { text, delta: false }],
                }
            }
            Some("commandExecution") => {
                let exit = item.get("exitCode").and_then(Value::as_i64);
                let output = match item.get("aggregatedOutput").and_then(Value::as_str) {
                    Some(out) => out.to_string(),
                    None if status == "declined" => "declined".to_string(),
                    None => String::new(),
                };
                vec![AgentEvent::ToolResult {
                    id: id.to_string(),
                    output,
                    is_error: status != "completed" || exit.is_some_and(|c| c != 0),
                }]
            }
            Some("mcpToolCall") => {
                let mut events = Vec::new();
                let before = self.mcp_calls.len();
                self.mcp_calls.retain(|(started, _)| started != id);
                if self.mcp_calls.len() == before {
                    // Never announced as started: the call, then its end.
                    events.extend(self.mcp_started(id, item));
                    self.mcp_calls.retain(|(started, _)| started != id);
                }
                let error = item.get("error").filter(|e| !e.is_null()).map(|e| {
                    e.get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("the tool failed")
                        .to_string()
                });
                events.push(AgentEvent::ToolResult {
                    id: id.to_string(),
                    is_error: status != "completed" || error.is_some(),
                    output: error.unwrap_or_else(|| super::codex::mcp_output(item.get("result"))),
                });
                events
            }
            // codex runs web searches itself and reports no result.
            Some("webSearch") => {
                let query = item
                    .get("query")
                    .or_else(|| item.get("action").and_then(|a| a.get("query")))
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                vec![AgentEvent::WebSearch {
                    id: id.to_string(),
                    query: query.to_string(),
                }]
            }
            Some("fileChange") => {
                let paths: Vec<String> = changes(item)
                    .iter()
                    .filter_map(|c| c.get("path").and_then(Value::as_str))
                    .map(str::to_string)
                    .collect();
                vec![AgentEvent::ToolResult {
                    id: id.to_string(),
                    output: if status == "completed" {
                        paths.join("\n")
                    } else {
                        status.to_string()
                    },
                    is_error: status != "completed",
                }]
            }
            _ => Vec::new(),
        }
    }

    /// An MCP tool call: the server and tool named, its arguments.
    fn mcp_started(&mut self, id: &str, item: &Value) -> Vec<AgentEvent> {
        let text = |key: &str, or: &str| {
            item.get(key)
                .and_then(Value::as_str)
                .unwrap_or(or)
                .to_string()
        };
        let (server, tool) = (text("server", "mcp"), text("tool", "tool"));
        self.mcp_calls
            .push((id.to_string(), format!("{MCP_PREFIX}{server}__{tool}")));
        vec![AgentEvent::McpCall {
            id: id.to_string(),
            server,
            tool,
            input: item.get("arguments").cloned().unwrap_or(Value::Null),
        }]
    }

    /// A delta's text; remembers that its item streamed, so the item's
    /// whole text is not shown again when it completes.
    fn delta(&mut self, params: &Value) -> Option<String> {
        if let Some(item) = params.get("itemId").and_then(Value::as_str) {
            self.streamed.insert(item.to_string());
        }
        params
            .get("delta")
            .and_then(Value::as_str)
            .map(str::to_string)
    }

    fn turn_completed(&mut self, turn: &Value) -> Vec<AgentEvent> {
        let status = turn.get("status").and_then(Value::as_str).unwrap_or("");
        let answer = std::mem::take(&mut self.answer);
        self.mcp_calls.clear();
        self.streamed.clear();
        let (is_error, result) = match status {
            "completed" => (false, answer),
            "interrupted" => (true, "the turn was interrupted".to_string()),
            _ => (
                true,
                turn.get("error")
                    .and_then(|e| e.get("message"))
                    .and_then(Value::as_str)
                    .unwrap_or("the turn failed")
                    .to_string(),
            ),
        };
        vec![AgentEvent::TurnEnd {
            is_error,
            result: Some(result),
            api_error_status: None,
            num_turns: Some(1),
            permission_denials: Vec::new(),
            terminal_reason: Some(status.to_string()).filter(|s| !s.is_empty()),
            api_error_type: None,
        }]
    }
}

/// `/bin/bash -lc '<cmd>'` as codex reports it, back to `<cmd>` (what
/// the model asked for, and what an allow-always rule should match).
fn unwrap_shell(command: &str) -> String {
    for shell in ["/bin/bash -lc ", "/bin/sh -c ", "bash -lc "] {
        if let Some(rest) = command.strip_prefix(shell)
            && rest.len() >= 2
            && rest.starts_with('\'')
            && rest.ends_with('\'')
            && !rest[1..rest.len() - 1].contains('\'')
        {
            return rest[1..rest.len() - 1].to_string();
        }
        // A single word needs no quotes: `/bin/bash -lc ls`.
        if let Some(word) = command.strip_prefix(shell)
            && !word.is_empty()
            && !word.contains(|c: char| c.is_whitespace() || c == '\'' || c == '"')
        {
            return word.to_string();
        }
    }
    command.to_string()
}

fn changes(item: &Value) -> Vec<Value> {
    item.get("changes")
        .and_then(Value::as_array)
        .map(|c| {
            c.iter()
                .map(|change| {
                    json!({"path": change.get("path").cloned().unwrap_or(Value::Null),
                           "kind": change.get("kind").and_then(|k| k.get("type")).cloned()
                               .unwrap_or(Value::Null)})
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A reasoning item's summary paragraphs, else its raw text parts.
fn reasoning_text(item: &Value) -> String {
    let parts = |key: &str| -> Vec<&str> {
        item.get(key)
            .and_then(Value::as_array)
            .map(|p| p.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    };
    let summary = parts("summary");
    let parts = if summary.is_empty() {
        parts("content")
    } else {
        summary
    };
    parts.join("\n\n")
}

/// The `last` counts of a token usage update: what the latest model call
/// used, an increment.
fn usage(params: &Value) -> Option<AgentEvent> {
    let last = params.get("tokenUsage")?.get("last")?;
    let count = |key: &str| last.get(key).and_then(Value::as_u64).unwrap_or(0);
    Some(AgentEvent::Usage(Usage {
        input_tokens: count("inputTokens").saturating_sub(count("cachedInputTokens")),
        output_tokens: count("outputTokens"),
        cache_read_tokens: count("cachedInputTokens"),
        cache_creation_tokens: count("cacheWriteInputTokens"),
        cost_usd: None,
    }))
}

fn plan(params: &Value) -> Vec<AgentEvent> {
    let items = params
        .get("plan")
        .and_then(Value::as_array)
        .map(|steps| {
            steps
                .iter()
                .filter_map(|s| {
                    Some(PlanItem::new(
                        s.get("step")?.as_str()?,
                        s.get("status").and_then(Value::as_str).unwrap_or("pending"),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    vec![AgentEvent::Plan {
        items,
        explanation: params
            .get("explanation")
            .and_then(Value::as_str)
            .map(str::to_string),
    }]
}

/// An MCP server that failed to start, as an error (codex logs nothing
/// about it: without this the user would only miss the server's tools).
fn mcp_startup(params: &Value) -> Vec<AgentEvent> {
    if params.get("status").and_then(Value::as_str) != Some("failed") {
        return Vec::new();
    }
    let name = params.get("name").and_then(Value::as_str).unwrap_or("?");
    let message = params
        .get("error")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("the MCP server {name} failed to start"));
    vec![AgentEvent::Error { message }]
}

/// An `error` notification: a retry when codex will retry, else an error.
fn error(params: &Value) -> Vec<AgentEvent> {
    let error = params.get("error").unwrap_or(&Value::Null);
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("error")
        .to_string();
    let status = error
        .get("codexErrorInfo")
        .and_then(|i| i.as_object())
        .and_then(|i| i.values().find_map(|v| v.get("httpStatusCode")))
        .and_then(Value::as_u64)
        .and_then(|s| u16::try_from(s).ok());
    let details = error
        .get("additionalDetails")
        .and_then(Value::as_str)
        .map(|d| format!("{message}: {d}"))
        .unwrap_or_else(|| message.clone());
    if params.get("willRetry").and_then(Value::as_bool) == Some(true) {
        // "Reconnecting... 1/5": the attempt and its maximum.
        let (attempt, max) = message
            .rsplit_once(' ')
            .and_then(|(_, n)| n.split_once('/'))
            .map(|(a, m)| (a.parse().ok(), m.parse().ok()))
            .unwrap_or((None, None));
        return vec![AgentEvent::Retry {
            attempt: attempt.unwrap_or(1),
            max_attempts: max,
            delay_ms: None,
            status,
            reason: details,
        }];
    }
    vec![AgentEvent::Error { message: details }]
}

fn clip(line: &str) -> String {
    let clean = sanitize_line(line);
    match clean.char_indices().nth(200) {
        Some((at, _)) => format!("{}…", &clean[..at]),
        None => clean,
    }
}

#[cfg(test)]
#[path = "codex_app_tests.rs"]
mod tests;
