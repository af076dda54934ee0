//! A scripted Gemini API (`generativelanguage` v1beta) on 127.0.0.1, for
//! end-to-end tests with the real `gemini` CLI.
//!
//! gemini-cli, given `GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:PORT`, calls
//! per turn (see `shared/transcripts/gemini/*.requests.jsonl`, facts only):
//! a router `POST /v1beta/models/<flash-lite>:generateContent` that must
//! answer JSON with a `complexity_score` (the mock always answers 10, a
//! simple task), then `POST /v1beta/models/<m>:streamGenerateContent?alt=sse`.
//! Each streaming request takes the next [`Reply`] of the script; when the
//! script is used up, a default rule answers: a request whose last content
//! carries a `functionResponse` gets
//! `The tool finished. It returned: <output> -- done.`, any other gets
//! [`DEFAULT_TEXT`]. Answers are SSE `data:` chunks of
//! `GenerateContentResponse`, the last with `finishReason` and
//! `usageMetadata`. Every request is recorded.
//!
//! The HTTP part is [`super::http`] (which also refuses gemini's attempts
//! to reach public hosts through `HTTPS_PROXY`). It must never listen
//! beyond loopback, never panic on what a client sends, and it stops (all
//! threads joined) when dropped.

#![allow(dead_code)]

use std::io;
use std::time::Duration;

use serde_json::{Value, json};

use super::http::{Responder, text_chunks};
use super::scripted::{Api, Script, ScriptedMock, Step, declare_api};

/// The text of a plain answer when the script has nothing left.
pub const DEFAULT_TEXT: &str = "Hello from the loopback Gemini mock. \
     This answer was streamed in several chunks.";

/// Prompt tokens reported for every answer.
pub const PROMPT_TOKENS: u64 = 42;

/// gemini-cli's shell tool.
pub const SHELL_TOOL: &str = "run_shell_command";

pub use super::scripted::tool_finished_text;

/// How the mock answers one `streamGenerateContent`. An error's
/// `retry_after` (`"0.5s"`) adds a `google.rpc.RetryInfo` detail to its
/// Google API error body, as the real API sends with 429; a stall sends
/// the head and one text chunk.
pub type Reply = Step<Part>;

/// One part of a scripted model turn.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    Text(String),
    FunctionCall { name: String, args: Value },
}

impl Reply {
    /// A plain text answer, streamed in several chunks.
    pub fn text(text: &str) -> Reply {
        Reply::Stream {
            parts: vec![Part::Text(text.to_string())],
            chunk_delay: Duration::from_millis(10),
        }
    }

    /// A `run_shell_command` call, preceded by text `preface` unless empty.
    pub fn shell(command: &str, preface: &str) -> Reply {
        let mut parts = Vec::new();
        if !preface.is_empty() {
            parts.push(Part::Text(preface.to_string()));
        }
        parts.push(Part::FunctionCall {
            name: SHELL_TOOL.to_string(),
            args: json!({"command": command, "description": "Run a shell command"}),
        });
        Reply::Stream {
            parts,
            chunk_delay: Duration::from_millis(10),
        }
    }

    /// A 429 whose body suggests retrying after `delay` (`"0.5s"`).
    pub fn rate_limited(delay: &str) -> Reply {
        Reply::limited("Resource has been exhausted (mock quota).", delay.into())
    }
}

declare_api!("The Gemini API, as a [`ScriptedMock`].", Gemini, MockGemini);

impl RecordedRequest {
    /// The model and method of `/v1beta/models/<model>:<method>`.
    pub fn model_and_method(&self) -> Option<(&str, &str)> {
        self.route()
            .strip_prefix("/v1beta/models/")?
            .split_once(':')
    }

    /// Whether this is a `streamGenerateContent` (a turn of the chat).
    pub fn is_stream(&self) -> bool {
        self.method == "POST"
            && self
                .model_and_method()
                .is_some_and(|(_, m)| m == "streamGenerateContent")
    }

    /// Whether this is the router's `generateContent` (asks for a
    /// `complexity_score`).
    pub fn is_router(&self) -> bool {
        self.method == "POST"
            && self
                .model_and_method()
                .is_some_and(|(_, m)| m == "generateContent")
            && self.body.to_string().contains("complexity_score")
    }

    /// The `contents` (the conversation gemini sends).
    pub fn contents(&self) -> &[Value] {
        self.body_list("contents")
    }

    /// The text parts of every content with this role (`user`, `model`),
    /// one string per content, oldest first.
    pub fn texts_of(&self, role: &str) -> Vec<String> {
        self.contents()
            .iter()
            .filter(|c| c.get("role").and_then(Value::as_str) == Some(role))
            .map(|c| {
                parts_of(c)
                    .iter()
                    .filter_map(|p| p.get("text").and_then(Value::as_str))
                    .collect::<Vec<_>>()
                    .join("")
            })
            .filter(|t| !t.is_empty())
            .collect()
    }

    /// Every `functionResponse` as (name, output), oldest first; the output
    /// is `response.output` when it is a string, else the response's JSON.
    pub fn function_responses(&self) -> Vec<(String, String)> {
        self.contents()
            .iter()
            .flat_map(function_responses_of)
            .collect()
    }

    /// The function responses of the last content (what the model is
    /// answering now), if any.
    pub fn trailing_function_response(&self) -> Option<(String, String)> {
        self.contents()
            .last()
            .and_then(|c| function_responses_of(c).pop())
    }
}

fn parts_of(content: &Value) -> &[Value] {
    content
        .get("parts")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn function_responses_of(content: &Value) -> Vec<(String, String)> {
    parts_of(content)
        .iter()
        .filter_map(|p| p.get("functionResponse"))
        .map(|r| {
            let name = r
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let response = r.get("response").cloned().unwrap_or(Value::Null);
            let output = match response.get("output") {
                Some(Value::String(s)) => s.clone(),
                _ => response.to_string(),
            };
            (name, output)
        })
        .collect()
}

impl MockGemini {
    /// Starts a mock on 127.0.0.1 (a free port) with this script.
    ///
    /// Panics if no loopback port can be bound (test support only).
    pub fn start(script: Vec<Reply>) -> MockGemini {
        ScriptedMock::serve(script, ()).expect("bind the mock Gemini API on 127.0.0.1")
    }

    /// `http://127.0.0.1:PORT`, the value for `GOOGLE_GEMINI_BASE_URL`.
    pub fn base_url(&self) -> String {
        self.server_url()
    }

    /// The `streamGenerateContent` requests (chat turns) so far.
    pub fn stream_requests(&self) -> Vec<RecordedRequest> {
        self.requests_where(RecordedRequest::is_stream)
    }

    /// The router requests so far.
    pub fn router_requests(&self) -> Vec<RecordedRequest> {
        self.requests_where(RecordedRequest::is_router)
    }

    /// Waits until at least `n` chat turns arrived; false on timeout.
    pub fn wait_for_stream_requests(&self, n: usize, timeout: Duration) -> bool {
        self.wait_for(timeout, |m| m.stream_requests().len() >= n)
    }
}

impl Api for Gemini {
    type Reply = Reply;
    type Extra = ();
    const NAME: &'static str = "mock-gemini";

    fn is_auto(reply: &Reply) -> bool {
        matches!(reply, Reply::Auto)
    }

    fn answer(
        responder: &mut Responder<'_>,
        script: &Script<Gemini>,
        request: &RecordedRequest,
        n: u64,
    ) -> io::Result<bool> {
        let log = |what: &str| script.log(n, request, what);
        let model = request
            .model_and_method()
            .map(|(m, _)| m.to_string())
            .unwrap_or_default();
        if request.is_stream() {
            let reply = script.next_or(|| match request.trailing_function_response() {
                Some((_, output)) => Reply::text(&tool_finished_text(&output)),
                None => Reply::text(DEFAULT_TEXT),
            });
            log(&format!("{reply:?}"));
            return send_reply(responder, reply, &model);
        }
        match request.model_and_method() {
            Some((_, "generateContent")) => {
                // The router (and any other utility call): a simple task.
                log("router answer");
                let text = if request.is_router() {
                    json!({"complexity_reasoning": "A simple request (mock).",
                           "complexity_score": 10})
                    .to_string()
                } else {
                    "ok".to_string()
                };
                let body = json!({
                    "candidates": [{"content": {"parts": [{"text": text}], "role": "model"},
                                    "finishReason": "STOP", "index": 0}],
                    "usageMetadata": usage(PROMPT_TOKENS, 17),
                    "modelVersion": model,
                });
                responder.json(200, &[], &body)
            }
            Some((_, "countTokens")) => {
                log("count");
                responder.json(200, &[], &json!({"totalTokens": PROMPT_TOKENS}))
            }
            _ => {
                log("404");
                let body = google_error(404, "Not found (mock Gemini API)", None);
                responder.json(404, &[], &body)
            }
        }
    }
}

fn usage(prompt: u64, candidates: u64) -> Value {
    json!({"promptTokenCount": prompt, "candidatesTokenCount": candidates,
           "totalTokenCount": prompt + candidates})
}

fn google_error(status: u16, message: &str, retry_delay: Option<&str>) -> Value {
    let code = match status {
        400 => "INVALID_ARGUMENT",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        429 => "RESOURCE_EXHAUSTED",
        503 => "UNAVAILABLE",
        _ => "INTERNAL",
    };
    let mut error = json!({"code": status, "message": message, "status": code});
    if let Some(delay) = retry_delay {
        error["details"] = json!([{"@type": "type.googleapis.com/google.rpc.RetryInfo",
                                   "retryDelay": delay}]);
    }
    json!({ "error": error })
}

fn send_reply(responder: &mut Responder<'_>, reply: Reply, model: &str) -> io::Result<bool> {
    let chunk = |parts: Value, last: Option<u64>| {
        let mut candidate = json!({"content": {"parts": parts, "role": "model"}, "index": 0});
        let mut body = json!({"modelVersion": model});
        if let Some(output_tokens) = last {
            candidate["finishReason"] = json!("STOP");
            body["usageMetadata"] = usage(PROMPT_TOKENS, output_tokens);
        }
        body["candidates"] = json!([candidate]);
        body
    };
    match reply {
        Reply::Error {
            status,
            message,
            retry_after,
        } => responder.json(
            status,
            &[],
            &google_error(status, &message, retry_after.as_deref()),
        ),
        Reply::Stall => {
            let mut sse = responder.sse(&[])?;
            sse.data(&chunk(json!([{"text": "Thinking about it"}]), None))?;
            sse.stall()
        }
        Reply::Auto => send_reply(responder, Reply::text(DEFAULT_TEXT), model),
        Reply::Stream { parts, chunk_delay } => {
            let mut sse = responder.sse(&[])?;
            let mut output_tokens = 1u64;
            let mut pending: Vec<Value> = Vec::new();
            for part in &parts {
                match part {
                    Part::Text(text) => {
                        for piece in text_chunks(text) {
                            if !sse.sleep(chunk_delay) {
                                return Ok(false);
                            }
                            output_tokens += 1;
                            sse.data(&chunk(json!([{ "text": piece }]), None))?;
                        }
                    }
                    Part::FunctionCall { name, args } => {
                        output_tokens += 5;
                        pending.push(json!({"functionCall": {"name": name, "args": args}}));
                    }
                }
            }
            // Function calls (or an empty text) arrive in the last chunk,
            // with the finish reason and usage.
            if pending.is_empty() {
                pending.push(json!({"text": ""}));
            }
            sse.data(&chunk(Value::Array(pending), Some(output_tokens)))?;
            sse.finish()
        }
    }
}
