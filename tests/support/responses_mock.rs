//! A scripted OpenAI Responses API on 127.0.0.1, for end-to-end tests with
//! the real `codex` CLI.
//!
//! codex, given a `mock` model provider with `wire_api = "responses"` and
//! `base_url = "http://127.0.0.1:PORT/v1"`, calls `POST /v1/responses` with
//! `stream: true` (see `shared/transcripts/codex/*.requests.jsonl`, facts
//! only). Each such request takes the next [`Reply`] of the script; when
//! the script is used up, a default rule answers: a request whose last
//! input item is a `function_call_output` gets
//! `The tool finished. It returned: <output> -- done.`, any other gets
//! [`DEFAULT_TEXT`]. Answers are SSE: `response.created`,
//! `response.output_item.added`, `response.output_text.delta` chunks,
//! `response.output_item.done`, `response.completed` with usage. Every
//! request is recorded so a test can check what the model received.
//!
//! The HTTP part is [`super::http`] (which also refuses codex's attempts to
//! reach public hosts through `HTTPS_PROXY`). It must never listen beyond
//! loopback, never panic on what a client sends, and it stops (all threads
//! joined) when dropped.

#![allow(dead_code)]

use std::io;
use std::time::Duration;

use serde_json::{Value, json};

use super::http::{Responder, Sse, text_chunks, unique_suffix};
use super::scripted::{Api, Script, ScriptedMock, Step, declare_api};

/// The text of a plain answer when the script has nothing left.
pub const DEFAULT_TEXT: &str = "Hello from the loopback Responses mock. \
     This answer was streamed in several chunks.";

/// Input tokens reported for every answer.
pub const INPUT_TOKENS: u64 = 42;

/// The name of codex's shell tool (a `function` tool taking `{"cmd"}`).
pub const SHELL_TOOL: &str = "exec_command";

pub use super::scripted::tool_finished_text;

/// How the mock answers one `POST /v1/responses` (an error has an OpenAI
/// error body; a stall sends the head and `response.created`).
pub type Reply = Step<Item>;

/// One output item of a scripted response.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// A `reasoning` item whose summary text is streamed in chunks
    /// (`response.reasoning_summary_text.delta`); a reasoning item sent
    /// only whole is an [`Item::Whole`].
    Reasoning(String),
    /// An assistant `message` with one `output_text`.
    Text(String),
    /// A `function_call` of a tool with JSON arguments.
    FunctionCall { name: String, arguments: Value },
    /// A `custom_tool_call` of a freeform tool (codex's `apply_patch`
    /// takes the patch text as its whole input).
    CustomToolCall { name: String, input: String },
    /// Any other output item, sent as it is (e.g. a `tool_search_call`);
    /// `{n}` in its `call_id` becomes a unique suffix.
    Whole(Value),
}

impl Reply {
    /// A plain text answer, streamed in several chunks.
    pub fn text(text: &str) -> Reply {
        Reply::Stream {
            parts: vec![Item::Text(text.to_string())],
            chunk_delay: Duration::from_millis(10),
        }
    }

    /// A shell command through codex's `exec_command` tool, preceded by an
    /// assistant message `preface` unless it is empty.
    pub fn shell(command: &str, preface: &str) -> Reply {
        let mut items = Vec::new();
        if !preface.is_empty() {
            items.push(Item::Text(preface.to_string()));
        }
        items.push(Item::FunctionCall {
            name: SHELL_TOOL.to_string(),
            arguments: json!({"cmd": command}),
        });
        Reply::Stream {
            parts: items,
            chunk_delay: Duration::from_millis(10),
        }
    }

    /// An `apply_patch` call adding `path` (relative) with `contents`.
    pub fn add_file(path: &str, contents: &str) -> Reply {
        let body: String = contents.lines().map(|l| format!("+{l}\n")).collect();
        Reply::Stream {
            parts: vec![Item::CustomToolCall {
                name: "apply_patch".to_string(),
                input: format!("*** Begin Patch\n*** Add File: {path}\n{body}*** End Patch\n"),
            }],
            chunk_delay: Duration::from_millis(10),
        }
    }

    /// The model's search for a deferred tool: codex offers MCP tools only
    /// after a `tool_search_call`, answered with the server's namespace
    /// (`mcp__<server>`; see `tests/fixtures/codex/README.md`).
    pub fn tool_search(query: &str) -> Reply {
        Reply::Stream {
            parts: vec![Item::Whole(json!({
                "type": "tool_search_call", "call_id": "call_search_{n}",
                "status": "completed", "execution": "client",
                "arguments": {"query": query}}))],
            chunk_delay: Duration::from_millis(10),
        }
    }

    /// A call of MCP tool `tool` of server `server` (found by a
    /// [`Reply::tool_search`] before): a `function_call` in the
    /// `mcp__<server>` namespace.
    pub fn mcp_call(server: &str, tool: &str, arguments: &Value) -> Reply {
        Reply::Stream {
            parts: vec![Item::Whole(json!({
                "type": "function_call", "id": "fc_mock_mcp", "call_id": "call_mcp_{n}",
                "namespace": format!("mcp__{server}"), "name": tool,
                "arguments": arguments.to_string(), "status": "completed"}))],
            chunk_delay: Duration::from_millis(10),
        }
    }

    /// A 429 with a `retry-after` header.
    pub fn rate_limited(retry_after_secs: u64) -> Reply {
        Reply::limited("Rate limit reached (mock).", retry_after_secs.to_string())
    }

    /// A call of codex's plan tool (`update_plan`) with `steps` as (step,
    /// status). codex offers the tool only with `[tools.update_plan]
    /// enabled = true` in its config.
    pub fn plan(explanation: &str, steps: &[(&str, &str)]) -> Reply {
        let plan: Vec<Value> = steps
            .iter()
            .map(|(step, status)| json!({"step": step, "status": status}))
            .collect();
        Reply::Stream {
            parts: vec![Item::FunctionCall {
                name: "update_plan".into(),
                arguments: json!({"explanation": explanation, "plan": plan}),
            }],
            chunk_delay: Duration::from_millis(10),
        }
    }

    /// This reply with `chunk_delay` between its chunks (slow enough to
    /// watch, in a demo).
    pub fn paced(self, chunk_delay: Duration) -> Reply {
        match self {
            Reply::Stream { parts, .. } => Reply::Stream { parts, chunk_delay },
            other => other,
        }
    }
}

/// The three steps of a fix in the given states (read the code, write the
/// fix, run the tests), as codex's plan: the todo-list scripts walk them.
pub fn fix_plan(read: &str, write: &str, test: &str) -> Reply {
    Reply::plan(
        "Working through the fix.",
        &[
            ("Read the code", read),
            ("Write the fix", write),
            ("Run the tests", test),
        ],
    )
}

/// The model finds the adder MCP server's tools (codex defers MCP tools
/// behind a tool search), calls its `add` with `arguments`, then answers
/// `answer`.
pub fn adder_script(arguments: Value, answer: &str) -> Vec<Reply> {
    vec![
        Reply::tool_search("add numbers"),
        Reply::mcp_call("adder", "add", &arguments),
        Reply::text(answer),
    ]
}

/// `[mcp_servers.adder]` for codex's config: the stdio MCP server of
/// `tests/fixtures/mcp`.
pub fn adder_config() -> String {
    let server =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mcp/adder_mcp.py");
    format!(
        "\n[mcp_servers.adder]\ncommand = \"python3\"\nargs = [\"{}\"]\n",
        server.display()
    )
}

declare_api!(
    "The OpenAI Responses API, as a [`ScriptedMock`].",
    Responses,
    MockResponses
);

impl RecordedRequest {
    /// Whether this is a `POST /v1/responses`.
    pub fn is_responses(&self) -> bool {
        self.is_post("/v1/responses")
    }

    /// The `input` items (the whole conversation codex sends).
    pub fn input(&self) -> &[Value] {
        self.body_list("input")
    }

    /// The text of every `message` with this role, oldest first (codex
    /// also sends its environment context as `user` messages).
    pub fn texts_of(&self, role: &str) -> Vec<String> {
        self.input()
            .iter()
            .filter(|i| i.get("type").and_then(Value::as_str) == Some("message"))
            .filter(|i| i.get("role").and_then(Value::as_str) == Some(role))
            .map(|i| content_text(i.get("content").unwrap_or(&Value::Null)))
            .collect()
    }

    /// The last user message's text.
    pub fn last_user_text(&self) -> String {
        self.texts_of("user").pop().unwrap_or_default()
    }

    /// Every `function_call_output` as (call id, output), oldest first.
    pub fn function_call_outputs(&self) -> Vec<(String, String)> {
        self.input()
            .iter()
            .filter(|i| i.get("type").and_then(Value::as_str) == Some("function_call_output"))
            .map(|i| {
                let id = i
                    .get("call_id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let output = match i.get("output") {
                    Some(Value::String(s)) => s.clone(),
                    Some(other) => content_text(other),
                    None => String::new(),
                };
                (id, output)
            })
            .collect()
    }

    /// The output of the last input item when it is a tool output.
    pub fn trailing_tool_output(&self) -> Option<String> {
        let last = self.input().last()?;
        if last.get("type").and_then(Value::as_str) != Some("function_call_output") {
            return None;
        }
        self.function_call_outputs().pop().map(|(_, out)| out)
    }
}

/// Text of a message's `content`: a string, or `input_text`/`output_text`
/// blocks joined.
fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

impl MockResponses {
    /// Starts a mock on 127.0.0.1 (a free port) with this script.
    ///
    /// Panics if no loopback port can be bound (test support only).
    pub fn start(script: Vec<Reply>) -> MockResponses {
        ScriptedMock::serve(script, ()).expect("bind the mock Responses API on 127.0.0.1")
    }

    /// `http://127.0.0.1:PORT/v1`, the provider's `base_url`.
    pub fn base_url(&self) -> String {
        format!("{}/v1", self.server_url())
    }

    /// The `POST /v1/responses` requests received so far.
    pub fn model_requests(&self) -> Vec<RecordedRequest> {
        self.requests_where(RecordedRequest::is_responses)
    }

    /// Waits until at least `n` model requests arrived; false on timeout.
    pub fn wait_for_model_requests(&self, n: usize, timeout: Duration) -> bool {
        self.wait_for(timeout, |m| m.model_requests().len() >= n)
    }
}

impl Api for Responses {
    type Reply = Reply;
    type Extra = ();
    const NAME: &'static str = "mock-responses";

    fn is_auto(reply: &Reply) -> bool {
        matches!(reply, Reply::Auto)
    }

    fn answer(
        responder: &mut Responder<'_>,
        script: &Script<Responses>,
        request: &RecordedRequest,
        n: u64,
    ) -> io::Result<bool> {
        if !request.is_responses() {
            script.log(n, request, "404");
            let body = json!({"error": {"message": "Not found (mock Responses API)",
                                        "type": "invalid_request_error", "code": null}});
            return responder.json(404, &[], &body);
        }
        let reply = script.next_or(|| match request.trailing_tool_output() {
            Some(output) => Reply::text(&tool_finished_text(&output)),
            None => Reply::text(DEFAULT_TEXT),
        });
        let what = format!("({} input items) {reply:?}", request.input().len());
        script.log(n, request, &what);
        let model = request.body_str("model").unwrap_or("gpt-5.5");
        send_reply(responder, reply, model, n)
    }
}

fn send_reply(
    responder: &mut Responder<'_>,
    reply: Reply,
    model: &str,
    n: u64,
) -> io::Result<bool> {
    let request_id = vec![("x-request-id".to_string(), format!("req_mock_{n:08}"))];
    let response_id = format!("resp_mock_{}_{n}", unique_suffix());
    let response = |status: &str, output: Value, usage: Value| {
        json!({"id": response_id, "object": "response", "created_at": 0,
               "status": status, "model": model, "output": output, "usage": usage})
    };
    let created = |sse: &mut Sse<'_>| {
        sse.event(
            "response.created",
            &json!({"type": "response.created",
                    "response": response("in_progress", json!([]), Value::Null)}),
        )
    };
    match reply {
        Reply::Error {
            status,
            message,
            retry_after,
        } => {
            let mut headers = request_id;
            headers.extend(retry_after.map(|secs| ("retry-after".to_string(), secs)));
            let kind = match status {
                429 => "rate_limit_exceeded",
                400..=499 => "invalid_request_error",
                _ => "server_error",
            };
            let body = json!({"error": {"message": message, "type": kind, "code": kind}});
            responder.json(status, &headers, &body)
        }
        Reply::Stall => {
            let mut sse = responder.sse(&request_id)?;
            created(&mut sse)?;
            sse.stall()
        }
        Reply::Auto => send_reply(responder, Reply::text(DEFAULT_TEXT), model, n),
        Reply::Stream {
            parts: items,
            chunk_delay,
        } => {
            let mut sse = responder.sse(&request_id)?;
            created(&mut sse)?;
            let mut output_tokens = 1u64;
            let mut done_items = Vec::new();
            for (index, item) in items.iter().enumerate() {
                let suffix = format!("{}_{n}_{index}", unique_suffix());
                let done = match item {
                    Item::Reasoning(text) => {
                        // Streamed as the API streams a reasoning summary.
                        let id = format!("rs_mock_{suffix}");
                        let at = json!({"item_id": id, "output_index": index, "summary_index": 0});
                        let event = |kind: &str, extra: Value| {
                            let mut data = at.clone();
                            data["type"] = json!(kind);
                            if let (Value::Object(map), Value::Object(more)) = (&mut data, extra) {
                                map.extend(more);
                            }
                            data
                        };
                        sse.event(
                            "response.output_item.added",
                            &json!({"type": "response.output_item.added", "output_index": index,
                                    "item": {"type": "reasoning", "id": id, "summary": []}}),
                        )?;
                        let part =
                            |text: &str| json!({"part": {"type": "summary_text", "text": text}});
                        let kind = "response.reasoning_summary_part.added";
                        sse.event(kind, &event(kind, part("")))?;
                        for chunk in text_chunks(text) {
                            if !sse.sleep(chunk_delay) {
                                return Ok(false);
                            }
                            output_tokens += 1;
                            let kind = "response.reasoning_summary_text.delta";
                            sse.event(kind, &event(kind, json!({"delta": chunk})))?;
                        }
                        let kind = "response.reasoning_summary_text.done";
                        sse.event(kind, &event(kind, json!({"text": text})))?;
                        let kind = "response.reasoning_summary_part.done";
                        sse.event(kind, &event(kind, part(text)))?;
                        json!({"type": "reasoning", "id": id,
                               "summary": [{"type": "summary_text", "text": text}]})
                    }
                    Item::Text(text) => {
                        let id = format!("msg_mock_{suffix}");
                        sse.event(
                            "response.output_item.added",
                            &json!({"type": "response.output_item.added", "output_index": index,
                                    "item": {"type": "message", "id": id, "role": "assistant",
                                             "status": "in_progress", "content": []}}),
                        )?;
                        for chunk in text_chunks(text) {
                            if !sse.sleep(chunk_delay) {
                                return Ok(false);
                            }
                            output_tokens += 1;
                            sse.event(
                                "response.output_text.delta",
                                &json!({"type": "response.output_text.delta", "item_id": id,
                                        "output_index": index, "content_index": 0,
                                        "delta": chunk}),
                            )?;
                        }
                        json!({"type": "message", "id": id, "role": "assistant",
                               "status": "completed",
                               "content": [{"type": "output_text", "text": text,
                                            "annotations": []}]})
                    }
                    Item::FunctionCall { name, arguments } => {
                        output_tokens += 5;
                        json!({"type": "function_call", "id": format!("fc_mock_{suffix}"),
                               "call_id": format!("call_mock_{suffix}"), "name": name,
                               "arguments": arguments.to_string(), "status": "completed"})
                    }
                    Item::CustomToolCall { name, input } => {
                        output_tokens += 5;
                        json!({"type": "custom_tool_call", "id": format!("ctc_mock_{suffix}"),
                               "call_id": format!("call_mock_{suffix}"), "name": name,
                               "input": input, "status": "completed"})
                    }
                    Item::Whole(item) => {
                        output_tokens += 5;
                        let mut item = item.clone();
                        if let Some(id) = item.get("call_id").and_then(Value::as_str) {
                            item["call_id"] = json!(id.replace("{n}", &suffix));
                        }
                        item
                    }
                };
                sse.event(
                    "response.output_item.done",
                    &json!({"type": "response.output_item.done", "output_index": index,
                            "item": done}),
                )?;
                done_items.push(done);
            }
            let usage = json!({"input_tokens": INPUT_TOKENS,
                               "input_tokens_details": {"cached_tokens": 0},
                               "output_tokens": output_tokens,
                               "output_tokens_details": {"reasoning_tokens": 0},
                               "total_tokens": INPUT_TOKENS + output_tokens});
            sse.event(
                "response.completed",
                &json!({"type": "response.completed",
                        "response": response("completed", Value::Array(done_items), usage)}),
            )?;
            sse.finish()
        }
    }
}
