//! A scripted Anthropic Messages API on 127.0.0.1, for end-to-end tests and demos.
//!
//! The real `claude` CLI, pointed at it with `ANTHROPIC_BASE_URL`, calls only
//! `POST /v1/messages?beta=true` with `stream: true` (see `shared/transcripts`
//! README, copied facts only). Each such request takes the next [`Reply`] of
//! the script; when the script is used up, a default rule answers: a request
//! whose last user message carries a `tool_result` gets
//! `The tool finished. It returned: <result> -- done.`, any other gets
//! [`DEFAULT_TEXT`]. Every request is recorded so a test can check what the
//! model received.
//!
//! The HTTP part (std only: keep-alive, Content-Length or chunked request
//! bodies, chunked SSE responses, one thread per connection) is
//! [`super::http`]. It must never listen beyond loopback, never panic on
//! what a client sends, and it stops (all threads joined) when dropped.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::io;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Value, json};

use super::http::{Responder, Sse, lock, text_chunks, unique_suffix};
use super::scripted::{Api, Script, ScriptedMock, Step, declare_api};

/// The text of a plain answer when the script has nothing left.
pub const DEFAULT_TEXT: &str = "Hello from the loopback mock model. \
     This answer was streamed in several chunks so the parser sees deltas.";

/// Input tokens reported for every answer (claude prices them, so cost > 0).
pub const INPUT_TOKENS: u64 = 42;

pub use super::scripted::tool_finished_text;

/// How the mock answers one `POST /v1/messages`: an assistant message
/// streamed as SSE, text blocks in several `text_delta` chunks; its stop
/// reason is `tool_use` when a block is a tool use, else `end_turn`. A
/// stall sends the head and `message_start`.
pub type Reply = Step<Block>;

/// One content block of a scripted assistant message.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    Text(String),
    ToolUse {
        name: String,
        input: Value,
    },
    /// A `thinking` block: `thinking_delta` chunks, then a `signature_delta`.
    Thinking(String),
    /// A server tool call (`server_tool_use`, e.g. `web_search`): the API
    /// runs it itself, so the stop reason stays `end_turn`. `id` is what a
    /// following result block refers to.
    ServerToolUse {
        id: String,
        name: String,
        input: Value,
    },
    /// Any other block, sent whole in its `content_block_start` (e.g. a
    /// `web_search_tool_result`).
    Whole(Value),
}

impl Reply {
    /// A plain text answer, streamed in several chunks.
    pub fn text(text: &str) -> Reply {
        Reply::Stream {
            parts: vec![Block::Text(text.to_string())],
            chunk_delay: Duration::from_millis(20),
        }
    }

    /// A text answer streamed slowly: its chunks spread over about `total`.
    pub fn slow_text(text: &str, total: Duration) -> Reply {
        let chunks = text_chunks(text).len().max(1) as u32;
        Reply::Stream {
            parts: vec![Block::Text(text.to_string())],
            chunk_delay: total / chunks,
        }
    }

    /// A tool call, preceded by a text block `preface` unless it is empty.
    pub fn tool_use(name: &str, input: Value, preface: &str) -> Reply {
        let mut blocks = Vec::new();
        if !preface.is_empty() {
            blocks.push(Block::Text(preface.to_string()));
        }
        blocks.push(Block::ToolUse {
            name: name.to_string(),
            input,
        });
        Reply::Stream {
            parts: blocks,
            chunk_delay: Duration::from_millis(20),
        }
    }

    /// A `Bash` tool call. `echo hi` runs without approval in claude's
    /// default mode; `touch FILE` needs permission.
    pub fn bash(command: &str, preface: &str) -> Reply {
        Reply::tool_use(
            "Bash",
            json!({"command": command, "description": "Run a shell command"}),
            preface,
        )
    }

    /// A `Write` tool call (needs permission in claude's default mode).
    pub fn write_file(file_path: &str, content: &str, preface: &str) -> Reply {
        Reply::tool_use(
            "Write",
            json!({"file_path": file_path, "content": content}),
            preface,
        )
    }

    /// An `AskUserQuestion` tool call with one question; `options` are
    /// `(label, description)` pairs.
    pub fn ask_user_question(
        question: &str,
        header: &str,
        options: &[(&str, &str)],
        multi_select: bool,
    ) -> Reply {
        let options: Vec<Value> = options
            .iter()
            .map(|(label, description)| json!({"label": label, "description": description}))
            .collect();
        Reply::tool_use(
            "AskUserQuestion",
            json!({"questions": [{
                "question": question,
                "header": header,
                "options": options,
                "multiSelect": multi_select,
            }]}),
            "I need to ask you something first.",
        )
    }

    /// A 429 with a `retry-after` header.
    pub fn rate_limited(retry_after_secs: u64) -> Reply {
        let message = "Number of requests has exceeded your rate limit (mock).";
        Reply::limited(message, retry_after_secs.to_string())
    }
}

/// A `tool_result` block found in a request's messages.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolResult {
    pub tool_use_id: String,
    /// The result's text (text blocks joined when it is a list).
    pub content: String,
    pub is_error: bool,
}

declare_api!(
    "The Anthropic Messages API, as a [`ScriptedMock`].",
    Anthropic,
    MockAnthropic
);

impl RecordedRequest {
    /// Whether this is a `POST /v1/messages` (any query).
    pub fn is_messages(&self) -> bool {
        self.is_post("/v1/messages")
    }

    /// The conversation sent to the model (empty when there is none).
    pub fn messages(&self) -> &[Value] {
        self.body_list("messages")
    }

    /// The last message with role `user` (claude also sends `system` ones).
    pub fn last_user_message(&self) -> Option<&Value> {
        self.messages()
            .iter()
            .rev()
            .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
    }

    /// All text of the last user message (text blocks and tool results).
    pub fn last_user_text(&self) -> String {
        self.last_user_message()
            .map(|m| content_text(m.get("content").unwrap_or(&Value::Null)))
            .unwrap_or_default()
    }

    /// The text of every message with `role` (`user`, `assistant`), oldest
    /// first: what the model is told the conversation was.
    pub fn texts_of(&self, role: &str) -> Vec<String> {
        self.messages()
            .iter()
            .filter(|m| m.get("role").and_then(Value::as_str) == Some(role))
            .map(|m| content_text(m.get("content").unwrap_or(&Value::Null)))
            .collect()
    }

    /// The last `tool_result` of the last user message, if any.
    pub fn last_tool_result(&self) -> Option<ToolResult> {
        let message = self.last_user_message()?;
        tool_results_of(message).pop()
    }

    /// Every `tool_result` anywhere in the conversation, oldest first.
    pub fn tool_results(&self) -> Vec<ToolResult> {
        self.messages().iter().flat_map(tool_results_of).collect()
    }
}

fn tool_results_of(message: &Value) -> Vec<ToolResult> {
    let Some(blocks) = message.get("content").and_then(Value::as_array) else {
        return Vec::new();
    };
    blocks
        .iter()
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("tool_result"))
        .map(|b| ToolResult {
            tool_use_id: b
                .get("tool_use_id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            content: content_text(b.get("content").unwrap_or(&Value::Null)),
            is_error: b.get("is_error").and_then(Value::as_bool).unwrap_or(false),
        })
        .collect()
}

/// Text of a message or tool-result `content`: a string, or blocks.
fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .map(|b| match b.get("type").and_then(Value::as_str) {
                Some("text") => b
                    .get("text")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                Some("tool_result") => content_text(b.get("content").unwrap_or(&Value::Null)),
                _ => String::new(),
            })
            .collect::<Vec<_>>()
            .join(""),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// What the Anthropic mock keeps beyond its script.
pub struct Extra {
    looping: bool,
    original: Vec<Reply>,
    /// Side scripts: a request whose first user message contains the
    /// marker takes its reply from that script (a subagent's conversation).
    routes: Mutex<Vec<(String, VecDeque<Reply>)>>,
}

impl Api for Anthropic {
    type Reply = Reply;
    type Extra = Extra;
    const NAME: &'static str = "mock-anthropic";

    fn answer(
        responder: &mut Responder<'_>,
        script: &Script<Anthropic>,
        request: &RecordedRequest,
        n: u64,
    ) -> io::Result<bool> {
        match (request.method.as_str(), request.route()) {
            ("POST", "/v1/messages") => {
                let reply = choose_reply(script, request);
                let what = format!(
                    "({} messages) {}",
                    request.messages().len(),
                    describe(&reply)
                );
                script.log(n, request, &what);
                let model = request.body_str("model").unwrap_or("claude-sonnet-4-5");
                send_reply(responder, reply, model, n)
            }
            ("POST", "/v1/messages/count_tokens") => {
                script.log(n, request, "count_tokens");
                responder.json(200, &[], &json!({"input_tokens": INPUT_TOKENS}))
            }
            ("GET", "/") => responder.plain(200, "text/plain", &[], "corral mock Anthropic API\n"),
            ("HEAD", "/") => responder.head_only(200, "text/plain", "corral mock Anthropic API\n"),
            _ => {
                eprintln!(
                    "mock-anthropic: 404 for {} {} (not part of the mock)",
                    request.method, request.path
                );
                let body = error_body("not_found_error", "Not found (mock Anthropic API)");
                if request.method == "HEAD" {
                    responder.head_only(404, "application/json", &body)
                } else {
                    responder.plain(404, "application/json", &[], &body)
                }
            }
        }
    }
}

impl MockAnthropic {
    /// Starts a mock on 127.0.0.1 (a free port) with this script.
    ///
    /// Panics if no loopback port can be bound (test support only).
    pub fn start(script: Vec<Reply>) -> MockAnthropic {
        MockAnthropic::try_start(script, false).expect("bind the mock Anthropic API on 127.0.0.1")
    }

    /// Like [`MockAnthropic::start`], but a conversation's first request
    /// (no tool result in it) after the script ran out starts the script
    /// again: for a long-running demo server that serves many runs.
    pub fn start_looping(script: Vec<Reply>) -> MockAnthropic {
        MockAnthropic::try_start(script, true).expect("bind the mock Anthropic API on 127.0.0.1")
    }

    /// Starts a mock; `looping` as in [`MockAnthropic::start_looping`].
    pub fn try_start(script: Vec<Reply>, looping: bool) -> io::Result<MockAnthropic> {
        let extra = Extra {
            looping,
            original: script.clone(),
            routes: Mutex::new(Vec::new()),
        };
        ScriptedMock::serve(script, extra)
    }

    /// `http://127.0.0.1:PORT`, the value for `ANTHROPIC_BASE_URL`.
    pub fn base_url(&self) -> String {
        self.server_url()
    }

    /// Answers every conversation whose first user message contains
    /// `marker` from `script` instead of the main script (a subagent runs
    /// its own conversation, possibly at the same time as its parent's).
    pub fn route(&self, marker: &str, script: Vec<Reply>) {
        lock(&self.extra().routes).push((marker.to_string(), script.into()));
    }

    /// The `POST /v1/messages` requests received so far.
    pub fn message_requests(&self) -> Vec<RecordedRequest> {
        self.requests_where(RecordedRequest::is_messages)
    }

    /// Waits until at least `n` message requests arrived; false on timeout.
    pub fn wait_for_message_requests(&self, n: usize, timeout: Duration) -> bool {
        self.wait_for(timeout, |m| m.message_requests().len() >= n)
    }
}

fn choose_reply(shared: &Script<Anthropic>, request: &RecordedRequest) -> Reply {
    let tool_result = request.last_tool_result();
    let first_user = request
        .messages()
        .iter()
        .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        .map(|m| content_text(m.get("content").unwrap_or(&Value::Null)))
        .unwrap_or_default();
    {
        let mut routes = lock(&shared.extra.routes);
        // The first script of this marker not used up (a subagent per run
        // when the same marker was routed several times).
        let matching =
            |(marker, _): &&mut (String, VecDeque<Reply>)| first_user.contains(marker.as_str());
        let open = routes.iter().position(|(marker, script)| {
            first_user.contains(marker.as_str()) && !script.is_empty()
        });
        let chosen = match open {
            Some(at) => routes.get_mut(at),
            None => routes.iter_mut().find(matching),
        };
        if let Some((_, script)) = chosen {
            return or_default(script.pop_front(), tool_result);
        }
    }
    let mut script = shared.replies();
    if script.is_empty() && shared.extra.looping && tool_result.is_none() {
        script.extend(shared.extra.original.iter().cloned());
    }
    or_default(script.pop_front(), tool_result)
}

/// `step`, or the default rule's answer when the script gave none or
/// asked for it.
fn or_default(step: Option<Reply>, tool_result: Option<ToolResult>) -> Reply {
    match step {
        Some(Reply::Auto) | None => match tool_result {
            Some(result) => Reply::text(&tool_finished_text(&result.content)),
            None => Reply::text(DEFAULT_TEXT),
        },
        Some(reply) => reply,
    }
}

fn describe(reply: &Reply) -> String {
    match reply {
        Reply::Stream { parts: blocks, .. } => blocks
            .iter()
            .map(|b| match b {
                Block::Text(t) => format!("text {:?}", t.chars().take(40).collect::<String>()),
                Block::ToolUse { name, input } => format!("tool_use {name} {input}"),
                Block::Thinking(t) => {
                    format!("thinking {:?}", t.chars().take(40).collect::<String>())
                }
                Block::ServerToolUse { name, input, .. } => {
                    format!("server_tool_use {name} {input}")
                }
                Block::Whole(v) => format!("block {}", v.get("type").unwrap_or(&Value::Null)),
            })
            .collect::<Vec<_>>()
            .join(", "),
        Reply::Error { status, .. } => format!("HTTP {status}"),
        Reply::Stall => "stall".to_string(),
        Reply::Auto => "auto".to_string(),
    }
}

fn error_body(kind: &str, message: &str) -> String {
    json!({"type": "error", "error": {"type": kind, "message": message}}).to_string()
}

fn send_reply(
    responder: &mut Responder<'_>,
    reply: Reply,
    model: &str,
    n: u64,
) -> io::Result<bool> {
    let request_id = vec![("request-id".to_string(), format!("req_mock_{n:08}"))];
    match reply {
        Reply::Error {
            status,
            message,
            retry_after,
        } => {
            let kind = match status {
                400 => "invalid_request_error",
                401 => "authentication_error",
                403 => "permission_error",
                404 => "not_found_error",
                429 => "rate_limit_error",
                529 => "overloaded_error",
                _ => "api_error",
            };
            let mut headers = request_id;
            headers.extend(retry_after.map(|secs| ("retry-after".to_string(), secs)));
            let body = error_body(kind, &message);
            responder.plain(status, "application/json", &headers, &body)
        }
        Reply::Stall => {
            let mut sse = responder.sse(&request_id)?;
            sse.event("message_start", &message_start(model, n))?;
            sse.event("ping", &json!({"type": "ping"}))?;
            sse.stall()
        }
        Reply::Stream {
            parts: blocks,
            chunk_delay,
        } => {
            let mut sse = responder.sse(&request_id)?;
            sse.event("message_start", &message_start(model, n))?;
            let mut output_tokens = 1u64;
            let mut stop_reason = "end_turn";
            for (index, block) in blocks.iter().enumerate() {
                match block {
                    Block::Text(text) => {
                        let start = json!({"type": "text", "text": ""});
                        let delta = Deltas::new(index, start, "text", chunk_delay);
                        if !delta.stream(&mut sse, text, &mut output_tokens)? {
                            return Ok(false);
                        }
                    }
                    Block::Thinking(text) => {
                        let start = json!({"type": "thinking", "thinking": "", "signature": ""});
                        let delta = Deltas::new(index, start, "thinking", chunk_delay);
                        if !delta.stream(&mut sse, text, &mut output_tokens)? {
                            return Ok(false);
                        }
                        sse.event(
                            "content_block_delta",
                            &json!({"type": "content_block_delta", "index": index,
                                    "delta": {"type": "signature_delta",
                                              "signature": format!("sig_mock_{n}")}}),
                        )?;
                    }
                    Block::Whole(block) => {
                        sse.event(
                            "content_block_start",
                            &json!({"type": "content_block_start", "index": index,
                                    "content_block": block}),
                        )?;
                    }
                    Block::ToolUse { name, input } | Block::ServerToolUse { name, input, .. } => {
                        let (kind, id) = match block {
                            Block::ServerToolUse { id, .. } => ("server_tool_use", id.clone()),
                            _ => {
                                stop_reason = "tool_use";
                                ("tool_use", format!("toolu_mock_{}_{n}", unique_suffix()))
                            }
                        };
                        sse.event(
                            "content_block_start",
                            &json!({"type": "content_block_start", "index": index,
                                    "content_block": {"type": kind, "id": id,
                                                      "name": name, "input": {}}}),
                        )?;
                        let json_text = input.to_string();
                        let (first, second) = split_half(&json_text);
                        for part in [first, second] {
                            output_tokens += 5;
                            sse.event(
                                "content_block_delta",
                                &json!({"type": "content_block_delta", "index": index,
                                        "delta": {"type": "input_json_delta",
                                                  "partial_json": part}}),
                            )?;
                        }
                    }
                }
                sse.event(
                    "content_block_stop",
                    &json!({"type": "content_block_stop", "index": index}),
                )?;
            }
            sse.event(
                "message_delta",
                &json!({"type": "message_delta",
                        "delta": {"stop_reason": stop_reason, "stop_sequence": null},
                        "usage": {"output_tokens": output_tokens}}),
            )?;
            sse.event("message_stop", &json!({"type": "message_stop"}))?;
            sse.finish()
        }
        Reply::Auto => {
            // choose_reply never hands this out; answer like it would.
            send_reply(responder, Reply::text(DEFAULT_TEXT), model, n)
        }
    }
}

fn message_start(model: &str, n: u64) -> Value {
    json!({"type": "message_start", "message": {
        "id": format!("msg_mock_{}_{n}", unique_suffix()),
        "type": "message", "role": "assistant", "model": model, "content": [],
        "stop_reason": null, "stop_sequence": null,
        "usage": {"input_tokens": INPUT_TOKENS, "output_tokens": 1,
                  "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}})
}

/// Two halves split at a char boundary.
fn split_half(s: &str) -> (&str, &str) {
    let mut mid = s.len() / 2;
    while !s.is_char_boundary(mid) {
        mid += 1;
    }
    s.split_at(mid)
}

/// A text or thinking block streamed as its start event, then `{kind}_delta`
/// chunks `delay` apart.
struct Deltas {
    index: usize,
    start: Value,
    kind: &'static str,
    delay: Duration,
}

impl Deltas {
    fn new(index: usize, start: Value, kind: &'static str, delay: Duration) -> Deltas {
        Deltas {
            index,
            start,
            kind,
            delay,
        }
    }

    /// Sends the block; `Ok(false)` when the mock stopped meanwhile.
    fn stream(&self, sse: &mut Sse<'_>, text: &str, output_tokens: &mut u64) -> io::Result<bool> {
        let index = self.index;
        sse.event(
            "content_block_start",
            &json!({"type": "content_block_start", "index": index,
                    "content_block": self.start}),
        )?;
        let delta_type = format!("{}_delta", self.kind);
        for chunk in text_chunks(text) {
            if !sse.sleep(self.delay) {
                return Ok(false);
            }
            *output_tokens += 1;
            let mut delta = json!({"type": delta_type});
            delta[self.kind] = Value::String(chunk);
            sse.event(
                "content_block_delta",
                &json!({"type": "content_block_delta", "index": index, "delta": delta}),
            )?;
        }
        Ok(true)
    }
}
