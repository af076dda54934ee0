//! Claude Code adapter: how to start `claude` and how to read and answer it.
//!
//! claude runs as `claude -p --input-format stream-json --output-format
//! stream-json --verbose --permission-prompt-tool stdio`: stdin is a pipe of
//! JSON lines (the initialize control request, then user turns and answers to
//! control requests), stdout is one JSON object per line. The formats are
//! recorded in `shared/transcripts/claude` (copied to `tests/fixtures/claude`).
//!
//! Pure: builds a [`LaunchSpec`], parses lines into [`AgentEvent`]s and
//! encodes stdin lines. Never spawns, reads, writes or sleeps, and never
//! panics on agent output, however malformed.

use std::path::Path;

use serde_json::{Map, Value, json};

use super::claude_insight::{PlanTracker, SubagentIds, special_call};
use super::json::str_field;
use super::sanitize::sanitize_line;
use super::{AgentOptions, Answer, LaunchSpec, LiveProtocol, OutputParser, StdinMode};
use crate::core::event::{
    AgentEvent, Denial, Question, QuestionItem, QuestionKind, QuestionOption, Usage,
};

/// The agent name used in [`AgentEvent::Session`].
const AGENT_NAME: &str = "claude";

/// The tool whose permission request is really a question for the user.
const ASK_USER_QUESTION: &str = "AskUserQuestion";

/// The model name claude gives to messages it makes up itself (API errors
/// after the retries ran out).
const SYNTHETIC_MODEL: &str = "<synthetic>";

/// The first stdin line of every run: the stdio control protocol handshake.
pub const INITIALIZE_REQUEST: &str = r#"{"type":"control_request","request_id":"init-1","request":{"subtype":"initialize","hooks":null}}"#;

/// How many recent assistant messages the parser remembers streamed blocks
/// for. Only the message being streamed matters; a few more are a margin.
const REMEMBERED_MESSAGES: usize = 8;

/// How to start claude for `prompt` in `cwd`.
///
/// The prompt goes on stdin as the first user turn (after the initialize
/// request), never on the command line, so the process stays alive for
/// approvals, questions and follow-up turns until stdin is closed.
pub fn launch(opts: &AgentOptions, cwd: &Path, prompt: &str) -> LaunchSpec {
    let mut args: Vec<String> = [
        "-p",
        "--input-format",
        "stream-json",
        "--output-format",
        "stream-json",
        "--verbose",
        // Text and thinking as they stream, not a block at a time.
        "--include-partial-messages",
        // Hooks of the user's own settings, as `system/hook_*` lines
        // (nothing when none are configured).
        "--include-hook-events",
        "--permission-prompt-tool",
        "stdio",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();

    let mut pair = |flag: &str, value: &str| {
        args.push(flag.to_string());
        args.push(value.to_string());
    };
    if let Some(model) = &opts.model {
        pair("--model", model);
    }
    if let Some(mode) = &opts.permission_mode {
        // corral's names in claude's spelling (`manual`, which 2.1.197
        // rejects, becomes `default`, which every release takes); a mode
        // corral does not know goes through for claude to judge.
        match super::permission::PermissionMode::parse(mode) {
            Ok(known) => pair("--permission-mode", known.name()),
            Err(_) => pair("--permission-mode", mode),
        }
    }
    if let Some(prompt) = &opts.append_system_prompt {
        pair("--append-system-prompt", prompt);
    }
    if let Some(budget) = opts.max_budget_usd {
        pair("--max-budget-usd", &budget.to_string());
    }
    if let Some(id) = &opts.session_id {
        pair("--session-id", id);
    }
    if let Some(id) = &opts.resume {
        pair("--resume", id);
    }
    // Variadic options (`<tools...>`, `<directories...>`) take the `=` form:
    // as separate words they would swallow any positional argument that
    // follows them (in `extra_args`, say).
    for tool in &opts.allowed_tools {
        args.push(format!("--allowedTools={tool}"));
    }
    for tool in &opts.disallowed_tools {
        args.push(format!("--disallowedTools={tool}"));
    }
    for dir in &opts.add_dirs {
        args.push(format!("--add-dir={}", dir.to_string_lossy()));
    }
    args.extend(opts.extra_args.iter().cloned());

    LaunchSpec {
        program: opts.binary.clone().unwrap_or_else(|| "claude".to_string()),
        args,
        cwd: cwd.to_path_buf(),
        env: opts.env.clone(),
        stdin: StdinMode::Pipe {
            initial_lines: vec![
                INITIALIZE_REQUEST.to_string(),
                Claude::encode_user_message(prompt),
            ],
        },
    }
}

/// The stdio control protocol: answers to `can_use_tool` requests and user
/// turns, as stdin lines (without the trailing `\n`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Claude;

impl LiveProtocol for Claude {
    fn encode_answer(question: &Question, answer: &Answer) -> String {
        let original = || match &question.input {
            Value::Object(map) => map.clone(),
            _ => Map::new(),
        };
        let decision = match answer {
            Answer::Allow { updated_input } => json!({
                "behavior": "allow",
                "updatedInput": updated_input
                    .clone()
                    .unwrap_or_else(|| Value::Object(original())),
            }),
            Answer::Deny { message } => json!({
                "behavior": "deny",
                "message": message,
            }),
            Answer::Answer { answers } => {
                let mut input = original();
                let chosen: Map<String, Value> = answers
                    .iter()
                    .map(|(q, a)| (q.clone(), Value::String(a.clone())))
                    .collect();
                input.insert("answers".to_string(), Value::Object(chosen));
                json!({
                    "behavior": "allow",
                    "updatedInput": Value::Object(input),
                })
            }
        };
        json!({
            "type": "control_response",
            "response": {
                "subtype": "success",
                "request_id": question.id,
                "response": decision,
            }
        })
        .to_string()
    }

    fn encode_user_message(text: &str) -> String {
        json!({
            "type": "user",
            "message": {"role": "user", "content": text},
            "parent_tool_use_id": null,
            "session_id": "default",
        })
        .to_string()
    }
}

/// What was streamed of one content block through `stream_event` deltas.
#[derive(Debug)]
struct StreamedBlock {
    index: u64,
    thinking: bool,
    text: String,
    /// The full `assistant` block for it has been seen (and suppressed).
    done: bool,
}

/// The blocks of one assistant message: streamed deltas and how many full
/// blocks claude has already repeated as `assistant` lines.
#[derive(Debug)]
struct MessageBlocks {
    id: String,
    streamed: Vec<StreamedBlock>,
    /// Position of the next full block (claude writes one per line, in
    /// order, so this matches the stream's block index).
    next_position: u64,
}

/// Parses claude's `stream-json` output. Stateful: use one per run.
///
/// Remembers streamed text so a block already shown as deltas is not shown
/// again when claude repeats it whole, and the cumulative cost already
/// reported so each [`Usage`] carries an increment.
#[derive(Debug, Default)]
pub struct ClaudeParser {
    /// Recent assistant messages, newest last, at most
    /// [`REMEMBERED_MESSAGES`].
    messages: Vec<MessageBlocks>,
    /// Id of the message being streamed (from `message_start`).
    streaming_message: Option<String>,
    /// Sum of the cost increments reported so far in this process.
    cost_reported: f64,
    /// Token totals reported so far from `modelUsage` (cumulative over the
    /// process, subagents included).
    tokens_reported: Usage,
    /// The task list built by the plan tools.
    plan: PlanTracker,
    /// Which tool call started which subagent.
    subagents: SubagentIds,
}

/// The line claude writes most while it streams: one text or thinking
/// delta. Read into borrowed fields without building a JSON tree; any
/// other shape (a subagent's line, another event, a field of another
/// type, a duplicate key) fails here and takes the general path, so the
/// events are the same either way.
#[derive(serde::Deserialize)]
struct DeltaLine<'a> {
    #[serde(rename = "type", borrow)]
    kind: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    event: DeltaEvent<'a>,
    #[serde(default)]
    parent_tool_use_id: Option<serde::de::IgnoredAny>,
}

#[derive(serde::Deserialize)]
struct DeltaEvent<'a> {
    #[serde(rename = "type", borrow)]
    kind: std::borrow::Cow<'a, str>,
    #[serde(default)]
    index: Option<u64>,
    #[serde(borrow)]
    delta: DeltaBody<'a>,
}

#[derive(serde::Deserialize)]
struct DeltaBody<'a> {
    #[serde(rename = "type", borrow)]
    kind: std::borrow::Cow<'a, str>,
    #[serde(default, borrow)]
    text: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    thinking: Option<std::borrow::Cow<'a, str>>,
}

impl ClaudeParser {
    /// The events of a plain delta line, or `None` for the general path.
    fn fast_delta(&mut self, line: &str) -> Option<Vec<AgentEvent>> {
        let d: DeltaLine<'_> = serde_json::from_str(line).ok()?;
        if d.kind != "stream_event"
            || d.parent_tool_use_id.is_some()
            || d.event.kind != "content_block_delta"
        {
            return None;
        }
        let (thinking, text) = match d.event.delta.kind.as_ref() {
            "text_delta" => (false, d.event.delta.text),
            "thinking_delta" => (true, d.event.delta.thinking),
            _ => return None,
        };
        let Some(text) = text else {
            return Some(Vec::new());
        };
        self.record_delta(d.event.index.unwrap_or(0), thinking, &text);
        let text = text.into_owned();
        Some(vec![if thinking {
            AgentEvent::Thinking { text, delta: true }
        } else {
            AgentEvent::Text { text, delta: true }
        }])
    }
}

impl OutputParser for ClaudeParser {
    fn parse_line(&mut self, line: &str) -> Vec<AgentEvent> {
        match self.fast_delta(line) {
            Some(events) => events,
            None => self.parse_tree(line),
        }
    }
}

impl ClaudeParser {
    /// Any line, read as a JSON tree.
    fn parse_tree(&mut self, line: &str) -> Vec<AgentEvent> {
        let value = match serde_json::from_str::<Value>(line) {
            Ok(value) => value,
            Err(_) => {
                let clean = sanitize_line(line);
                // Escape sequences glued to a JSON line (seen under a PTY):
                // the clean text may still be one of claude's objects.
                match serde_json::from_str::<Value>(&clean) {
                    Ok(value @ Value::Object(_)) if clean != line => value,
                    _ => return raw(clean),
                }
            }
        };
        let Some(obj) = value.as_object() else {
            return raw(sanitize_line(line));
        };
        // A subagent's lines name the tool call that started it.
        let parent = str_field(obj, "parent_tool_use_id").map(str::to_string);
        let events = match str_field(obj, "type") {
            Some("system") => self.system(obj),
            Some("assistant") => self.assistant(obj, parent.is_some()),
            Some("user") => self.tool_results(obj, parent.is_some()),
            Some("stream_event") => self.stream_event(obj),
            Some("control_request") => control_request(obj).into_iter().collect(),
            Some("control_response") | Some("control_cancel_request") => Vec::new(),
            Some("result") => self.result(obj),
            _ => raw(sanitize_line(line)),
        };
        match parent {
            Some(parent) => events
                .into_iter()
                .map(|event| AgentEvent::Subagent {
                    parent_tool_id: parent.clone(),
                    event: Box::new(event),
                })
                .collect(),
            None => events,
        }
    }
}

impl ClaudeParser {
    fn system(&mut self, obj: &Map<String, Value>) -> Vec<AgentEvent> {
        match str_field(obj, "subtype") {
            Some("init") => match str_field(obj, "session_id") {
                Some(session_id) => vec![AgentEvent::Session {
                    session_id: session_id.to_string(),
                    model: str_field(obj, "model").map(str::to_string),
                    cwd: str_field(obj, "cwd").map(str::to_string),
                    agent: AGENT_NAME.to_string(),
                }],
                None => Vec::new(),
            },
            Some("api_retry") => vec![AgentEvent::Retry {
                attempt: u32_field(obj, "attempt").unwrap_or(0),
                max_attempts: u32_field(obj, "max_retries"),
                delay_ms: obj
                    .get("retry_delay_ms")
                    .and_then(Value::as_f64)
                    .filter(|ms| ms.is_finite() && *ms >= 0.0)
                    // Saturating conversion of a finite, non-negative float.
                    .map(|ms| ms.round() as u64),
                status: u16_field(obj, "error_status"),
                reason: str_field(obj, "error").unwrap_or("API error").to_string(),
            }],
            Some(subtype @ ("task_started" | "task_progress" | "task_notification")) => {
                self.subagents.status(subtype, obj).into_iter().collect()
            }
            Some(subtype) => super::claude_insight::system_notice(subtype, obj)
                .into_iter()
                .collect(),
            _ => Vec::new(),
        }
    }

    fn assistant(&mut self, obj: &Map<String, Value>, in_subagent: bool) -> Vec<AgentEvent> {
        let Some(message) = obj.get("message").and_then(Value::as_object) else {
            return Vec::new();
        };
        let Some(content) = message.get("content").and_then(Value::as_array) else {
            return Vec::new();
        };
        if str_field(message, "model") == Some(SYNTHETIC_MODEL) {
            return content
                .iter()
                .filter_map(|block| block_text(block, "text"))
                .map(|text| AgentEvent::Error {
                    message: text.to_string(),
                })
                .collect();
        }
        let message_id = str_field(message, "id").map(str::to_string);
        let mut events = Vec::new();
        for block in content {
            let position = match &message_id {
                Some(id) => {
                    let entry = self.message_entry(id);
                    let position = entry.next_position;
                    entry.next_position = entry.next_position.saturating_add(1);
                    Some(position)
                }
                None => None,
            };
            let Some(block) = block.as_object() else {
                continue;
            };
            match str_field(block, "type") {
                Some("text") => {
                    if let Some(text) = str_field(block, "text") {
                        if !self.was_streamed(message_id.as_deref(), position, false, text) {
                            events.push(AgentEvent::Text {
                                text: text.to_string(),
                                delta: false,
                            });
                        }
                    }
                }
                Some("thinking") => {
                    if let Some(text) = str_field(block, "thinking") {
                        if !self.was_streamed(message_id.as_deref(), position, true, text) {
                            events.push(AgentEvent::Thinking {
                                text: text.to_string(),
                                delta: false,
                            });
                        }
                    }
                }
                Some("tool_use") => {
                    if let (Some(id), Some(name)) =
                        (str_field(block, "id"), str_field(block, "name"))
                    {
                        let input = block.get("input").cloned().unwrap_or(Value::Null);
                        // The parent's plan tools show as the plan once
                        // they succeed; a subagent's are ordinary tools.
                        if !in_subagent && self.plan.take_call(id, name, &input) {
                            continue;
                        }
                        events.push(special_call(id, name, &input).unwrap_or_else(|| {
                            AgentEvent::ToolCall {
                                id: id.to_string(),
                                name: name.to_string(),
                                input,
                            }
                        }));
                    }
                }
                _ => {}
            }
        }
        events
    }

    fn stream_event(&mut self, obj: &Map<String, Value>) -> Vec<AgentEvent> {
        let Some(event) = obj.get("event").and_then(Value::as_object) else {
            return Vec::new();
        };
        match str_field(event, "type") {
            Some("message_start") => {
                self.streaming_message = event
                    .get("message")
                    .and_then(Value::as_object)
                    .and_then(|m| str_field(m, "id"))
                    .map(str::to_string);
                Vec::new()
            }
            Some("content_block_delta") => {
                let Some(delta) = event.get("delta").and_then(Value::as_object) else {
                    return Vec::new();
                };
                let (thinking, text) = match str_field(delta, "type") {
                    Some("text_delta") => (false, str_field(delta, "text")),
                    Some("thinking_delta") => (true, str_field(delta, "thinking")),
                    _ => return Vec::new(),
                };
                let Some(text) = text else {
                    return Vec::new();
                };
                let index = event.get("index").and_then(Value::as_u64).unwrap_or(0);
                self.record_delta(index, thinking, text);
                let text = text.to_string();
                vec![if thinking {
                    AgentEvent::Thinking { text, delta: true }
                } else {
                    AgentEvent::Text { text, delta: true }
                }]
            }
            _ => Vec::new(),
        }
    }

    fn result(&mut self, obj: &Map<String, Value>) -> Vec<AgentEvent> {
        let mut events = Vec::new();
        let usage = obj.get("usage").and_then(Value::as_object);
        // `total_cost_usd` is cumulative over the process (it grows turn by
        // turn in a live session) while `usage` is per turn: report the
        // difference so that usage events stay increments.
        let cost_usd = obj
            .get("total_cost_usd")
            .and_then(Value::as_f64)
            .filter(|c| c.is_finite())
            .map(crate::core::event::sane_cost)
            .map(|total| {
                // A total below what was already reported cannot be undone:
                // report nothing new rather than a negative cost.
                let increment = crate::core::event::sane_cost(total - self.cost_reported);
                self.cost_reported = self.cost_reported.max(total);
                increment
            });
        if usage.is_some() || cost_usd.is_some() {
            let tokens = |key: &str| usage.and_then(|u| u.get(key)).and_then(Value::as_u64);
            // `modelUsage` counts subagents too, cumulatively like the cost;
            // `usage` only the parent's turn. Prefer the first when there.
            let tokens = match self.model_usage_increment(obj) {
                Some(increment) => increment,
                None => Usage {
                    input_tokens: tokens("input_tokens").unwrap_or(0),
                    output_tokens: tokens("output_tokens").unwrap_or(0),
                    cache_read_tokens: tokens("cache_read_input_tokens").unwrap_or(0),
                    cache_creation_tokens: tokens("cache_creation_input_tokens").unwrap_or(0),
                    cost_usd: None,
                },
            };
            events.push(AgentEvent::Usage(Usage { cost_usd, ..tokens }));
        }
        let is_error = obj
            .get("is_error")
            .and_then(Value::as_bool)
            .unwrap_or_else(|| str_field(obj, "subtype").is_some_and(|s| s != "success"));
        let permission_denials = obj
            .get("permission_denials")
            .and_then(Value::as_array)
            .map(|denials| {
                denials
                    .iter()
                    .filter_map(Value::as_object)
                    .filter_map(|d| {
                        Some(Denial {
                            tool: str_field(d, "tool_name")?.to_string(),
                            input: d.get("tool_input").cloned().unwrap_or(Value::Null),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        events.push(AgentEvent::TurnEnd {
            is_error,
            result: str_field(obj, "result").map(str::to_string),
            api_error_status: u16_field(obj, "api_error_status"),
            num_turns: u32_field(obj, "num_turns"),
            permission_denials,
            terminal_reason: str_field(obj, "terminal_reason").map(str::to_string),
            api_error_type: str_field(obj, "api_error_type").map(str::to_string),
        });
        events
    }

    /// `tool_result` blocks of a `user` line; anything else there is the
    /// conversation echoing back and yields nothing. The result of a plan
    /// tool becomes the new plan.
    fn tool_results(&mut self, obj: &Map<String, Value>, in_subagent: bool) -> Vec<AgentEvent> {
        let Some(content) = obj
            .get("message")
            .and_then(Value::as_object)
            .and_then(|m| m.get("content"))
            .and_then(Value::as_array)
        else {
            return Vec::new();
        };
        // The id TaskCreate gave the new task (one result per line).
        let created_id = obj
            .get("tool_use_result")
            .and_then(|r| r.get("task"))
            .and_then(|t| t.get("id"))
            .and_then(Value::as_str);
        let mut events = Vec::new();
        for block in content.iter().filter_map(Value::as_object) {
            if str_field(block, "type") != Some("tool_result") {
                continue;
            }
            let Some(id) = str_field(block, "tool_use_id") else {
                continue;
            };
            let output = result_text(block.get("content"));
            let is_error = block
                .get("is_error")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            if !in_subagent {
                if let Some(plan) = self.plan.take_result(id, &output, is_error, created_id) {
                    events.extend(plan);
                    continue;
                }
            }
            events.push(AgentEvent::ToolResult {
                id: id.to_string(),
                output,
                is_error,
            });
        }
        events
    }

    /// Tokens since the last report, from a result's `modelUsage` (totals
    /// per model over the whole process, subagents included); `None` when
    /// the line has none.
    fn model_usage_increment(&mut self, obj: &Map<String, Value>) -> Option<Usage> {
        let models = obj.get("modelUsage").and_then(Value::as_object)?;
        let mut total = Usage::default();
        for model in models.values().filter_map(Value::as_object) {
            let count = |key: &str| model.get(key).and_then(Value::as_u64).unwrap_or(0);
            total.add(&Usage {
                input_tokens: count("inputTokens"),
                output_tokens: count("outputTokens"),
                cache_read_tokens: count("cacheReadInputTokens"),
                cache_creation_tokens: count("cacheCreationInputTokens"),
                cost_usd: None,
            });
        }
        let before = std::mem::replace(&mut self.tokens_reported, total.clone());
        // Totals never shrink; if they do, report nothing new.
        Some(Usage {
            input_tokens: total.input_tokens.saturating_sub(before.input_tokens),
            output_tokens: total.output_tokens.saturating_sub(before.output_tokens),
            cache_read_tokens: total
                .cache_read_tokens
                .saturating_sub(before.cache_read_tokens),
            cache_creation_tokens: total
                .cache_creation_tokens
                .saturating_sub(before.cache_creation_tokens),
            cost_usd: None,
        })
    }

    /// The remembered blocks of message `id`, created (and the oldest
    /// forgotten) if needed.
    fn message_entry(&mut self, id: &str) -> &mut MessageBlocks {
        let found = self.messages.iter().position(|m| m.id == id);
        let at = match found {
            Some(at) => at,
            None => {
                if self.messages.len() >= REMEMBERED_MESSAGES {
                    self.messages.remove(0);
                }
                self.messages.push(MessageBlocks {
                    id: id.to_string(),
                    streamed: Vec::new(),
                    next_position: 0,
                });
                self.messages.len() - 1
            }
        };
        &mut self.messages[at]
    }

    fn record_delta(&mut self, index: u64, thinking: bool, text: &str) {
        // Deltas before any `message_start` cannot be matched to a full
        // block later; they are still shown, just not remembered.
        let Some(id) = self.streaming_message.clone() else {
            return;
        };
        let entry = self.message_entry(&id);
        match entry.streamed.iter_mut().find(|b| b.index == index) {
            Some(block) => block.text.push_str(text),
            None => entry.streamed.push(StreamedBlock {
                index,
                thinking,
                text: text.to_string(),
                done: false,
            }),
        }
    }

    /// Whether the full block at `position` of `message_id` was already
    /// shown as deltas (and marks it as seen). Matches by position first,
    /// then by identical text, in case claude skipped a block.
    fn was_streamed(
        &mut self,
        message_id: Option<&str>,
        position: Option<u64>,
        thinking: bool,
        text: &str,
    ) -> bool {
        let Some(id) = message_id else {
            return false;
        };
        let Some(entry) = self.messages.iter_mut().find(|m| m.id == id) else {
            return false;
        };
        let by_position = entry
            .streamed
            .iter()
            .position(|b| Some(b.index) == position && b.thinking == thinking && !b.done);
        let by_text = || {
            entry
                .streamed
                .iter()
                .position(|b| b.thinking == thinking && !b.done && b.text == text)
        };
        match by_position.or_else(by_text) {
            Some(at) => {
                entry.streamed[at].done = true;
                true
            }
            None => false,
        }
    }
}

/// A tool result's content: a string, or text blocks joined by newlines.
fn result_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(blocks)) => blocks
            .iter()
            .filter_map(|b| block_text(b, "text"))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// A `can_use_tool` control request as a [`Question`]; other requests are
/// not for the user.
fn control_request(obj: &Map<String, Value>) -> Option<AgentEvent> {
    let id = str_field(obj, "request_id")?;
    let request = obj.get("request").and_then(Value::as_object)?;
    if str_field(request, "subtype") != Some("can_use_tool") {
        return None;
    }
    let tool = str_field(request, "tool_name");
    let input = request.get("input").cloned().unwrap_or(Value::Null);
    let kind = if tool == Some(ASK_USER_QUESTION) {
        QuestionKind::Question
    } else {
        QuestionKind::Approval
    };
    let questions = input
        .get("questions")
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(question_item).collect())
        .unwrap_or_default();
    Some(AgentEvent::Question(Question {
        id: id.to_string(),
        kind,
        tool: tool.map(str::to_string),
        input,
        tool_use_id: str_field(request, "tool_use_id").map(str::to_string),
        questions,
    }))
}

/// One entry of AskUserQuestion's `questions`.
fn question_item(item: &Value) -> Option<QuestionItem> {
    let item = item.as_object()?;
    let options = item
        .get("options")
        .and_then(Value::as_array)
        .map(|options| {
            options
                .iter()
                .filter_map(Value::as_object)
                .filter_map(|o| {
                    Some(QuestionOption {
                        label: str_field(o, "label")?.to_string(),
                        description: str_field(o, "description").map(str::to_string),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Some(QuestionItem {
        question: str_field(item, "question")?.to_string(),
        header: str_field(item, "header").map(str::to_string),
        options,
        multi_select: item
            .get("multiSelect")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    })
}

/// A non-JSON (or unrecognised) line as raw output, unless nothing is left
/// of it once sanitized.
fn raw(clean: String) -> Vec<AgentEvent> {
    if clean.trim().is_empty() {
        Vec::new()
    } else {
        vec![AgentEvent::Raw { line: clean }]
    }
}

/// The text of a content block of type `kind` (`{"type": kind, "text": ..}`).
fn block_text<'a>(block: &'a Value, kind: &str) -> Option<&'a str> {
    let block = block.as_object()?;
    if str_field(block, "type") != Some(kind) {
        return None;
    }
    str_field(block, "text")
}

fn u32_field(obj: &Map<String, Value>, key: &str) -> Option<u32> {
    obj.get(key)
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
}

fn u16_field(obj: &Map<String, Value>, key: &str) -> Option<u16> {
    obj.get(key)
        .and_then(Value::as_u64)
        .and_then(|n| u16::try_from(n).ok())
}

#[cfg(test)]
#[path = "claude_tests.rs"]
mod tests;
