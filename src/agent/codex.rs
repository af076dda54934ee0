//! Codex CLI adapter: how to start `codex exec --json` and how to read its
//! JSONL events into canonical [`AgentEvent`]s.
//!
//! Pure: builds a [`LaunchSpec`] and parses lines. It never spawns, reads,
//! writes or sleeps, and it must never panic on whatever the agent prints.
//!
//! Formats follow codex-cli 0.169.0 (`shared/transcripts/codex`):
//!
//! | codex line                                   | canonical events |
//! |----------------------------------------------|------------------|
//! | `thread.started {thread_id}`                 | `session` (the thread id is the session id) |
//! | `turn.started`                               | nothing (starts a new turn) |
//! | `turn.completed {usage}`                     | `usage`, then `turn_end` with the turn's last agent message |
//! | `turn.failed {error}`                        | `error` (unless the same message was just shown), then failed `turn_end` |
//! | item `agent_message {text}`                  | `text` (a whole block: `--json` has no deltas) |
//! | item `reasoning {text}`                      | `thinking` |
//! | item `command_execution`                     | `tool_call` named `shell` with input `{command}` when it starts, `tool_result` (its `aggregated_output`) when it completes |
//! | item `file_change {changes}`                 | `tool_call` named `apply_patch` with input `{changes, summary}`, `tool_result` listing `kind path` per line |
//! | item `mcp_tool_call`                         | `tool_call` named `mcp__<server>__<tool>`, `tool_result` |
//! | item `web_search {query}`                    | `tool_call` named `web_search`, empty `tool_result` |
//! | item `error {message}`                       | `error` (codex's warnings, shown to the user) |
//! | top-level `error` "Reconnecting... n/m (why)"| `retry {attempt: n, max_attempts: m, reason: why}` |
//! | any other top-level `error`                  | `error` |
//! | a line that is not a JSON object             | `raw`, control sequences removed |
//! | a stderr line ("Reading additional input from stdin...", warnings) | `notice` |
//!
//! Usage: codex's `input_tokens` include the cached ones and `output_tokens`
//! include the reasoning ones (as in OpenAI's API and codex's own
//! `blended_total`), so `input_tokens` here is the uncached share, cached
//! tokens are `cache_read_tokens`, and reasoning is not added again. Codex
//! reports no cost.

use std::collections::HashSet;
use std::path::Path;

/// The `protocol` value that keeps codex on `codex exec --json` (one turn
/// per process) instead of `codex app-server`.
pub const PROTOCOL_EXEC: &str = "exec";

use serde_json::{Map, Value, json};

use super::claude_insight::MAX_PLAN_ITEMS;
use super::json::{json_object, str_field};
use super::permission::codex_permission_args;
use super::sanitize::sanitize_line;
use super::{AgentOptions, LaunchSpec, OutputParser, StdinMode};
use crate::core::event::{AgentEvent, PlanItem, Usage};

/// The agent name in [`AgentEvent::Session`].
const AGENT: &str = "codex";

/// The tool name given to codex's shell commands (`command_execution` items).
pub const SHELL_TOOL: &str = "shell";

/// The tool name given to codex's file edits (`file_change` items).
pub const PATCH_TOOL: &str = "apply_patch";

/// Words that `codex exec` would take as a subcommand instead of a prompt.
const EXEC_SUBCOMMANDS: &[&str] = &["resume", "fork", "review", "help"];

/// How to start codex for `prompt` in `cwd`.
///
/// A new session: `codex exec --json --skip-git-repo-check [-m M]
/// [permission flags] [-c K=V]... -C <cwd> [--add-dir D]... [extra args]
/// <prompt>`. With `opts.resume`: `codex exec resume --json
/// --skip-git-repo-check [-m M] [permission flags] [-c K=V]... [extra args]
/// <thread_id> <prompt>` (`exec resume` has no `--cd`, `--add-dir` or
/// `--sandbox`; the process's cwd still applies and the sandbox goes in as
/// `-c sandbox_mode=...`). `opts.config_overrides` become `-c` flags. A
/// prompt that starts with `-` or is a subcommand name (`resume`, ...) is
/// put after `--` so codex reads it as the prompt. stdin is `/dev/null`:
/// codex reads stdin when it is not a terminal.
///
/// Not applicable to codex and ignored: `session_id` (codex picks the
/// thread id), `allowed_tools`, `disallowed_tools`, `append_system_prompt`,
/// `max_budget_usd`.
pub fn launch(opts: &AgentOptions, cwd: &Path, prompt: &str) -> LaunchSpec {
    let resume = opts.resume.as_deref();
    let mut args: Vec<String> = vec!["exec".into()];
    if resume.is_some() {
        args.push("resume".into());
    }
    args.push("--json".into());
    args.push("--skip-git-repo-check".into());
    if let Some(model) = &opts.model {
        args.push("-m".into());
        args.push(model.clone());
    }
    if let Some(mode) = &opts.permission_mode {
        args.extend(codex_permission_args(mode, resume.is_some()));
    }
    for kv in &opts.config_overrides {
        args.push("-c".into());
        args.push(kv.clone());
    }
    if resume.is_none() {
        args.push("-C".into());
        args.push(cwd.to_string_lossy().into_owned());
        for dir in &opts.add_dirs {
            args.push("--add-dir".into());
            args.push(dir.to_string_lossy().into_owned());
        }
    }
    args.extend(opts.extra_args.iter().cloned());
    let needs_separator = prompt.starts_with('-')
        || resume.is_some_and(|id| id.starts_with('-'))
        || (resume.is_none() && EXEC_SUBCOMMANDS.contains(&prompt));
    if needs_separator {
        args.push("--".into());
    }
    if let Some(id) = resume {
        args.push(id.to_string());
    }
    args.push(prompt.to_string());
    LaunchSpec {
        program: opts.binary.clone().unwrap_or_else(|| "codex".into()),
        args,
        cwd: cwd.to_path_buf(),
        env: opts.env.clone(),
        stdin: StdinMode::Null,
    }
}

/// Reads `codex exec --json` output, one line at a time.
#[derive(Debug, Default)]
pub struct CodexParser {
    /// Items whose `tool_call` was already emitted (at `item.started`).
    started: HashSet<String>,
    /// The latest agent message of the current turn: the turn's result.
    last_message: Option<String>,
    /// The latest top-level error shown, so `turn.failed` does not repeat it.
    last_error: Option<String>,
    /// The plan last shown, so an unchanged todo list is not shown again.
    last_plan: Option<Vec<PlanItem>>,
}

impl OutputParser for CodexParser {
    fn parse_line(&mut self, line: &str) -> Vec<AgentEvent> {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            return Vec::new();
        }
        match json_object(trimmed) {
            Some(obj) => self.parse_event(&obj),
            None => vec![AgentEvent::Raw {
                line: sanitize_line(line),
            }],
        }
    }
}

impl CodexParser {
    fn parse_event(&mut self, obj: &Map<String, Value>) -> Vec<AgentEvent> {
        match str_field(obj, "type").unwrap_or_default() {
            "thread.started" => match str_field(obj, "thread_id") {
                Some(id) => vec![AgentEvent::Session {
                    session_id: id.to_string(),
                    model: None,
                    cwd: None,
                    agent: AGENT.into(),
                }],
                None => Vec::new(),
            },
            "turn.started" => {
                self.last_message = None;
                self.last_error = None;
                Vec::new()
            }
            "turn.completed" => {
                let mut out = Vec::new();
                if let Some(usage) = obj.get("usage").and_then(Value::as_object) {
                    out.push(AgentEvent::Usage(usage_from(usage)));
                }
                out.push(AgentEvent::TurnEnd {
                    is_error: false,
                    result: self.last_message.take(),
                    api_error_status: None,
                    num_turns: None,
                    permission_denials: Vec::new(),
                    terminal_reason: None,
                    api_error_type: None,
                });
                self.last_error = None;
                out
            }
            "turn.failed" => {
                let message = obj
                    .get("error")
                    .and_then(|e| e.get("message"))
                    .and_then(Value::as_str)
                    .unwrap_or("the turn failed")
                    .to_string();
                let mut out = Vec::new();
                if self.last_error.as_deref() != Some(message.as_str()) {
                    out.push(AgentEvent::Error {
                        message: message.clone(),
                    });
                }
                out.push(AgentEvent::TurnEnd {
                    is_error: true,
                    api_error_status: http_status_in(&message),
                    result: Some(message),
                    num_turns: None,
                    permission_denials: Vec::new(),
                    terminal_reason: None,
                    api_error_type: None,
                });
                self.last_message = None;
                self.last_error = None;
                out
            }
            "item.started" | "item.updated" | "item.completed"
                if obj
                    .get("item")
                    .and_then(|i| i.get("type"))
                    .and_then(Value::as_str)
                    == Some("todo_list") =>
            {
                self.todo_list(obj.get("item").unwrap_or(&Value::Null))
            }
            "item.started" => match obj.get("item").and_then(Value::as_object) {
                Some(item) => self.item_started(item),
                None => Vec::new(),
            },
            "item.completed" => match obj.get("item").and_then(Value::as_object) {
                Some(item) => self.item_completed(item),
                None => Vec::new(),
            },
            "error" => {
                let message = str_field(obj, "message").unwrap_or("error").to_string();
                match reconnect(&message) {
                    Some(retry) => vec![retry],
                    None => {
                        self.last_error = Some(message.clone());
                        vec![AgentEvent::Error { message }]
                    }
                }
            }
            // Other `item.updated` lines and event types newer than this
            // adapter carry nothing to show.
            _ => Vec::new(),
        }
    }

    /// A `todo_list` item as the plan (its steps have no in-progress
    /// state: each is done or not), unless it is the plan already shown.
    fn todo_list(&mut self, item: &Value) -> Vec<AgentEvent> {
        let items: Vec<PlanItem> = item
            .get("items")
            .and_then(Value::as_array)
            .map(|steps| {
                steps
                    .iter()
                    .filter_map(|step| {
                        let text = step.get("text").and_then(Value::as_str)?;
                        let done = step.get("completed").and_then(Value::as_bool) == Some(true);
                        Some(PlanItem::new(
                            text,
                            if done { "completed" } else { "pending" },
                        ))
                    })
                    .take(MAX_PLAN_ITEMS)
                    .collect()
            })
            .unwrap_or_default();
        if self.last_plan.as_ref() == Some(&items) {
            return Vec::new();
        }
        self.last_plan = Some(items.clone());
        vec![AgentEvent::Plan {
            items,
            explanation: None,
        }]
    }

    fn item_started(&mut self, item: &Map<String, Value>) -> Vec<AgentEvent> {
        let Some(call) = tool_call(item) else {
            return Vec::new();
        };
        self.started.insert(item_id(item));
        vec![call]
    }

    fn item_completed(&mut self, item: &Map<String, Value>) -> Vec<AgentEvent> {
        match str_field(item, "type").unwrap_or_default() {
            "agent_message" => {
                let text = str_field(item, "text").unwrap_or_default();
                if text.is_empty() {
                    return Vec::new();
                }
                self.last_message = Some(text.to_string());
                vec![AgentEvent::Text {
                    text: text.to_string(),
                    delta: false,
                }]
            }
            "reasoning" => match str_field(item, "text") {
                Some(text) if !text.is_empty() => vec![AgentEvent::Thinking {
                    text: text.to_string(),
                    delta: false,
                }],
                _ => Vec::new(),
            },
            "error" => vec![AgentEvent::Error {
                message: str_field(item, "message").unwrap_or("error").to_string(),
            }],
            _ => {
                let mut out = Vec::new();
                if !self.started.remove(&item_id(item)) {
                    out.extend(tool_call(item));
                }
                out.extend(tool_result(item));
                out
            }
        }
    }
}

/// The `tool_call` for a tool-like item, `None` for other items.
fn tool_call(item: &Map<String, Value>) -> Option<AgentEvent> {
    let (name, input) = match str_field(item, "type")? {
        "command_execution" => (
            SHELL_TOOL.to_string(),
            json!({ "command": str_field(item, "command").unwrap_or_default() }),
        ),
        "file_change" => {
            let changes = item.get("changes").cloned().unwrap_or(Value::Null);
            (
                PATCH_TOOL.to_string(),
                json!({ "changes": changes, "summary": change_summary(&changes).join(", ") }),
            )
        }
        "mcp_tool_call" => {
            return Some(AgentEvent::McpCall {
                id: item_id(item),
                server: str_field(item, "server").unwrap_or("mcp").to_string(),
                tool: str_field(item, "tool").unwrap_or("tool").to_string(),
                input: item.get("arguments").cloned().unwrap_or(Value::Null),
            });
        }
        "web_search" => {
            let query = str_field(item, "query")
                .or_else(|| item.get("action")?.get("query")?.as_str())
                .unwrap_or_default();
            return Some(AgentEvent::WebSearch {
                id: item_id(item),
                query: query.to_string(),
            });
        }
        _ => return None,
    };
    Some(AgentEvent::ToolCall {
        id: item_id(item),
        name,
        input,
    })
}

/// The `tool_result` for a completed tool-like item, `None` for other items.
fn tool_result(item: &Map<String, Value>) -> Option<AgentEvent> {
    let status = str_field(item, "status").unwrap_or_default();
    let failed = matches!(status, "failed" | "declined");
    let (output, is_error) = match str_field(item, "type")? {
        "command_execution" => {
            let exit_code = item.get("exit_code").and_then(Value::as_i64);
            let output = str_field(item, "aggregated_output")
                .unwrap_or_default()
                .to_string();
            (output, failed || exit_code.is_some_and(|c| c != 0))
        }
        "file_change" => {
            let changes = item.get("changes").cloned().unwrap_or(Value::Null);
            (change_summary(&changes).join("\n"), failed)
        }
        "mcp_tool_call" => match item.get("error").filter(|e| !e.is_null()) {
            Some(err) => (
                err.get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("the tool failed")
                    .to_string(),
                true,
            ),
            None => (mcp_output(item.get("result")), failed),
        },
        // A search reports no result of its own: only a failure shows.
        "web_search" if !failed => return None,
        "web_search" => ("the web search failed".to_string(), true),
        _ => return None,
    };
    Some(AgentEvent::ToolResult {
        id: item_id(item),
        output,
        is_error,
    })
}

/// `kind path` for each file change (`add src/x.rs`).
fn change_summary(changes: &Value) -> Vec<String> {
    changes
        .as_array()
        .map(|list| {
            list.iter()
                .map(|c| {
                    let kind = c.get("kind").and_then(Value::as_str).unwrap_or("change");
                    let path = c.get("path").and_then(Value::as_str).unwrap_or("?");
                    format!("{kind} {path}")
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The text blocks of an MCP result, or its JSON when it has none.
pub(super) fn mcp_output(result: Option<&Value>) -> String {
    let Some(result) = result.filter(|r| !r.is_null()) else {
        return String::new();
    };
    let texts: Vec<&str> = result
        .get("content")
        .and_then(Value::as_array)
        .map(|blocks| {
            blocks
                .iter()
                .filter_map(|b| b.get("text").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    if texts.is_empty() {
        serde_json::to_string(result).unwrap_or_default()
    } else {
        texts.join("\n")
    }
}

/// Codex's usage object as a canonical increment (see the module docs).
fn usage_from(usage: &Map<String, Value>) -> Usage {
    let n = |k: &str| usage.get(k).and_then(Value::as_u64).unwrap_or(0);
    let cache_read = n("cached_input_tokens");
    let cache_write = n("cache_write_input_tokens");
    Usage {
        input_tokens: n("input_tokens").saturating_sub(cache_read.saturating_add(cache_write)),
        output_tokens: n("output_tokens"),
        cache_read_tokens: cache_read,
        cache_creation_tokens: cache_write,
        cost_usd: None,
    }
}

/// A `retry` from "Reconnecting... 2/5 (why)", `None` for other messages.
fn reconnect(message: &str) -> Option<AgentEvent> {
    let rest = message.strip_prefix("Reconnecting...")?.trim_start();
    let (count, reason) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let (attempt, max) = count.split_once('/')?;
    let attempt: u32 = attempt.parse().ok()?;
    let max_attempts: Option<u32> = max.parse().ok();
    let reason = reason.trim();
    let reason = reason
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or(reason);
    Some(AgentEvent::Retry {
        attempt,
        max_attempts,
        delay_ms: None,
        status: http_status_in(reason),
        reason: if reason.is_empty() {
            message.to_string()
        } else {
            reason.to_string()
        },
    })
}

/// The HTTP status in "... status: 429 Too Many Requests", if any.
fn http_status_in(text: &str) -> Option<u16> {
    let (_, after) = text.split_once("status: ")?;
    let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
    digits
        .parse::<u16>()
        .ok()
        .filter(|s| (100..=599).contains(s))
}

fn item_id(item: &Map<String, Value>) -> String {
    str_field(item, "id").unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn parse_all(lines: &[&str]) -> Vec<AgentEvent> {
        let mut p = CodexParser::default();
        lines.iter().flat_map(|l| p.parse_line(l)).collect()
    }

    fn cwd() -> PathBuf {
        PathBuf::from("work")
    }

    #[test]
    fn launch_new_session_minimal() {
        let spec = launch(&AgentOptions::default(), &cwd(), "Say hello.");
        assert_eq!(spec.program, "codex");
        assert_eq!(
            spec.args,
            [
                "exec",
                "--json",
                "--skip-git-repo-check",
                "-C",
                "work",
                "Say hello."
            ]
        );
        assert_eq!(spec.stdin, StdinMode::Null);
        assert_eq!(spec.cwd, cwd());
    }

    #[test]
    fn launch_new_session_with_everything() {
        let opts = AgentOptions {
            binary: Some("/opt/codex".into()),
            model: Some("gpt-5.5".into()),
            permission_mode: Some("acceptEdits".into()),
            config_overrides: vec!["model_reasoning_effort=\"high\"".into()],
            add_dirs: vec![PathBuf::from("other")],
            extra_args: vec!["--ephemeral".into()],
            env: vec![("CODEX_HOME".into(), "h".into())],
            ..AgentOptions::default()
        };
        let spec = launch(&opts, &cwd(), "Fix it.");
        assert_eq!(spec.program, "/opt/codex");
        assert_eq!(
            spec.args,
            [
                "exec",
                "--json",
                "--skip-git-repo-check",
                "-m",
                "gpt-5.5",
                "--sandbox",
                "workspace-write",
                "-c",
                "model_reasoning_effort=\"high\"",
                "-C",
                "work",
                "--add-dir",
                "other",
                "--ephemeral",
                "Fix it."
            ]
        );
        assert_eq!(spec.env, [("CODEX_HOME".to_string(), "h".to_string())]);
    }

    #[test]
    fn launch_each_permission_mode() {
        let expect: [(&str, &[&str]); 4] = [
            ("default", &[]),
            ("acceptEdits", &["--sandbox", "workspace-write"]),
            ("plan", &["--sandbox", "read-only"]),
            (
                "bypassPermissions",
                &["--dangerously-bypass-approvals-and-sandbox"],
            ),
        ];
        for (mode, flags) in expect {
            let opts = AgentOptions {
                permission_mode: Some(mode.into()),
                ..AgentOptions::default()
            };
            let spec = launch(&opts, &cwd(), "p");
            let mut want: Vec<&str> = vec!["exec", "--json", "--skip-git-repo-check"];
            want.extend(flags);
            want.extend(["-C", "work", "p"]);
            assert_eq!(spec.args, want, "{mode}");
        }
    }

    #[test]
    fn launch_resume_puts_flags_before_the_thread_id() {
        let opts = AgentOptions {
            model: Some("gpt-5.5".into()),
            permission_mode: Some("plan".into()),
            resume: Some("01a1fee7-f502-7a20-abb8-db0173de4cfe".into()),
            add_dirs: vec![PathBuf::from("ignored")],
            session_id: Some("ignored-too".into()),
            ..AgentOptions::default()
        };
        let spec = launch(&opts, &cwd(), "What was the codeword?");
        assert_eq!(
            spec.args,
            [
                "exec",
                "resume",
                "--json",
                "--skip-git-repo-check",
                "-m",
                "gpt-5.5",
                "-c",
                "sandbox_mode=\"read-only\"",
                "01a1fee7-f502-7a20-abb8-db0173de4cfe",
                "What was the codeword?"
            ]
        );
        assert_eq!(spec.stdin, StdinMode::Null);
    }

    #[test]
    fn launch_resume_with_bypass() {
        let opts = AgentOptions {
            permission_mode: Some("bypass".into()),
            resume: Some("t1".into()),
            ..AgentOptions::default()
        };
        let spec = launch(&opts, &cwd(), "go on");
        assert_eq!(
            spec.args,
            [
                "exec",
                "resume",
                "--json",
                "--skip-git-repo-check",
                "--dangerously-bypass-approvals-and-sandbox",
                "t1",
                "go on"
            ]
        );
    }

    #[test]
    fn prompts_that_look_like_flags_or_subcommands_go_after_separator() {
        let spec = launch(&AgentOptions::default(), &cwd(), "--help me");
        assert_eq!(spec.args[spec.args.len() - 2..], ["--", "--help me"]);
        let spec = launch(&AgentOptions::default(), &cwd(), "review");
        assert_eq!(spec.args[spec.args.len() - 2..], ["--", "review"]);
        let opts = AgentOptions {
            resume: Some("t1".into()),
            ..AgentOptions::default()
        };
        let spec = launch(&opts, &cwd(), "-v");
        assert_eq!(spec.args[spec.args.len() - 3..], ["--", "t1", "-v"]);
    }

    #[test]
    fn command_without_started_event_still_gets_its_call() {
        let events = parse_all(&[
            r#"{"type":"item.completed","item":{"id":"i9","type":"command_execution","command":"false","aggregated_output":"","exit_code":1,"status":"failed"}}"#,
        ]);
        assert_eq!(
            events,
            [
                AgentEvent::ToolCall {
                    id: "i9".into(),
                    name: SHELL_TOOL.into(),
                    input: json!({"command": "false"}),
                },
                AgentEvent::ToolResult {
                    id: "i9".into(),
                    output: String::new(),
                    is_error: true,
                },
            ]
        );
    }

    #[test]
    fn nonzero_exit_is_an_error_even_when_completed() {
        let events = parse_all(&[
            r#"{"type":"item.started","item":{"id":"a","type":"command_execution","command":"ls nope","aggregated_output":"","exit_code":null,"status":"in_progress"}}"#,
            r#"{"type":"item.completed","item":{"id":"a","type":"command_execution","command":"ls nope","aggregated_output":"ls: nope: No such file\n","exit_code":2,"status":"completed"}}"#,
        ]);
        assert_eq!(events.len(), 2);
        assert!(matches!(
            &events[1],
            AgentEvent::ToolResult { is_error: true, output, .. } if output.contains("No such file")
        ));
    }

    #[test]
    fn mcp_tool_call_maps_to_call_and_result() {
        let events = parse_all(&[
            r#"{"type":"item.completed","item":{"id":"m1","type":"mcp_tool_call","server":"docs","tool":"search","arguments":{"q":"x"},"result":{"content":[{"type":"text","text":"found"}]},"status":"completed"}}"#,
        ]);
        assert_eq!(
            events,
            [
                AgentEvent::McpCall {
                    id: "m1".into(),
                    server: "docs".into(),
                    tool: "search".into(),
                    input: json!({"q": "x"}),
                },
                AgentEvent::ToolResult {
                    id: "m1".into(),
                    output: "found".into(),
                    is_error: false,
                },
            ]
        );
    }

    #[test]
    fn item_error_is_shown_as_an_error() {
        let events = parse_all(&[
            r#"{"type":"item.completed","item":{"id":"e","type":"error","message":"model fell back"}}"#,
        ]);
        assert_eq!(
            events,
            [AgentEvent::Error {
                message: "model fell back".into()
            }]
        );
    }

    #[test]
    fn reconnect_messages_become_retries() {
        let events = parse_all(&[
            r#"{"type":"error","message":"Reconnecting... 1/5 (exceeded retry limit, last status: 429 Too Many Requests)"}"#,
            r#"{"type":"error","message":"Reconnecting... 2/5"}"#,
            r#"{"type":"error","message":"Reconnecting... x/5 (odd)"}"#,
        ]);
        assert_eq!(
            events[0],
            AgentEvent::Retry {
                attempt: 1,
                max_attempts: Some(5),
                delay_ms: None,
                status: Some(429),
                reason: "exceeded retry limit, last status: 429 Too Many Requests".into(),
            }
        );
        assert!(matches!(
            &events[1],
            AgentEvent::Retry { attempt: 2, max_attempts: Some(5), reason, .. } if reason == "Reconnecting... 2/5"
        ));
        assert!(matches!(&events[2], AgentEvent::Error { .. }));
    }

    #[test]
    fn failed_turn_does_not_repeat_the_error_just_shown() {
        let events = parse_all(&[
            r#"{"type":"turn.started"}"#,
            r#"{"type":"error","message":"boom"}"#,
            r#"{"type":"turn.failed","error":{"message":"boom"}}"#,
        ]);
        assert_eq!(
            events
                .iter()
                .filter(|e| matches!(e, AgentEvent::Error { .. }))
                .count(),
            1
        );
        assert!(matches!(
            events.last(),
            Some(AgentEvent::TurnEnd { is_error: true, result: Some(r), .. }) if r == "boom"
        ));
    }

    #[test]
    fn usage_splits_cached_input_and_keeps_reasoning_inside_output() {
        let events = parse_all(&[
            r#"{"type":"turn.completed","usage":{"input_tokens":100,"cached_input_tokens":60,"cache_write_input_tokens":10,"output_tokens":20,"reasoning_output_tokens":5}}"#,
        ]);
        assert_eq!(
            events[0],
            AgentEvent::Usage(Usage {
                input_tokens: 30,
                output_tokens: 20,
                cache_read_tokens: 60,
                cache_creation_tokens: 10,
                cost_usd: None,
            })
        );
    }

    #[test]
    fn turn_result_is_the_last_message_of_that_turn_only() {
        let events = parse_all(&[
            r#"{"type":"turn.started"}"#,
            r#"{"type":"item.completed","item":{"id":"1","type":"agent_message","text":"first"}}"#,
            r#"{"type":"turn.completed","usage":{}}"#,
            r#"{"type":"turn.started"}"#,
            r#"{"type":"turn.completed","usage":{}}"#,
        ]);
        let results: Vec<Option<String>> = events
            .iter()
            .filter_map(|e| match e {
                AgentEvent::TurnEnd { result, .. } => Some(result.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(results, [Some("first".to_string()), None]);
    }

    #[test]
    fn non_json_is_raw_and_sanitized_and_blank_is_nothing() {
        let events = parse_all(&[
            "Reading additional input from stdin...",
            "",
            "   ",
            "a\u{7}b",
        ]);
        assert_eq!(
            events,
            [
                AgentEvent::Raw {
                    line: "Reading additional input from stdin...".into()
                },
                AgentEvent::Raw { line: "ab".into() },
            ]
        );
    }

    #[test]
    fn garbage_never_panics() {
        let garbage = [
            "{",
            "}",
            "null",
            "[1,2]",
            "\"str\"",
            "{\"type\":5}",
            "{\"type\":\"thread.started\"}",
            "{\"type\":\"thread.started\",\"thread_id\":7}",
            "{\"type\":\"turn.completed\",\"usage\":[]}",
            "{\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":-4,\"output_tokens\":1e99}}",
            "{\"type\":\"turn.failed\"}",
            "{\"type\":\"turn.failed\",\"error\":\"flat\"}",
            "{\"type\":\"item.started\"}",
            "{\"type\":\"item.completed\",\"item\":null}",
            "{\"type\":\"item.completed\",\"item\":{\"type\":\"file_change\",\"changes\":\"x\"}}",
            "{\"type\":\"item.completed\",\"item\":{\"type\":\"file_change\",\"changes\":[1,{}]}}",
            "{\"type\":\"item.completed\",\"item\":{\"type\":\"mcp_tool_call\",\"result\":{\"content\":7}}}",
            "{\"type\":\"item.completed\",\"item\":{\"type\":\"agent_message\",\"text\":null}}",
            "{\"type\":\"error\"}",
            "{\"type\":\"error\",\"message\":\"Reconnecting...\"}",
            "{\"type\":\"error\",\"message\":\"Reconnecting... 99999999999/1\"}",
            "{\"type\":\"error\",\"message\":\"Reconnecting... 1/5 (status: 99999999999999)\"}",
            "\u{1b}[31m{\"type\":\"turn.started\"}",
            "\u{0}\u{ffff}\u{10ffff}",
        ];
        let mut p = CodexParser::default();
        for line in garbage {
            let _ = p.parse_line(line);
        }
        let events = parse_all(&[
            "{\"type\":\"item.completed\",\"item\":{\"type\":\"file_change\",\"changes\":[1,{}]}}",
        ]);
        assert!(matches!(
            &events[1],
            AgentEvent::ToolResult { output, .. } if output == "change ?\nchange ?"
        ));
    }

    #[test]
    fn escape_prefix_before_json_is_skipped_only_when_invisible() {
        let mut p = CodexParser::default();
        let visible = p.parse_line("warn {\"type\":\"turn.started\"}");
        assert!(matches!(visible.as_slice(), [AgentEvent::Raw { .. }]));
        let invisible = p.parse_line("\u{7}{\"type\":\"thread.started\",\"thread_id\":\"t\"}");
        assert!(matches!(invisible.as_slice(), [AgentEvent::Session { .. }]));
    }
}
