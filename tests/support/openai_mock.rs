//! A scripted OpenAI-compatible chat completions server on 127.0.0.1, for
//! tests of corral's HTTP agent.
//!
//! Every `POST .../chat/completions` takes the next [`Reply`] of the script
//! (when it is used up, a plain [`DEFAULT_TEXT`] answer) and is recorded
//! (path, headers, JSON body, when it came) so a test can check what corral
//! sent. Streamed answers are SSE bodies delimited by closing the
//! connection; errors are JSON bodies with a Content-Length on a kept-alive
//! connection.
//!
//! The server is [`super::http`] and the script [`super::scripted`]. It
//! must never listen beyond loopback and never panic on what a client
//! sends; dropping it stops the server and joins its threads.

#![allow(dead_code)]

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use super::http::{Responder, UntilClose};
use super::scripted::{Api, Script, ScriptedMock, declare_api};

/// The answer when the script has nothing left.
pub const DEFAULT_TEXT: &str = "Hello from the mock chat server.";

/// How the mock answers one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// A streamed answer: one content chunk per entry, then a finish chunk,
    /// a usage chunk (prompt, completion tokens) and `[DONE]`.
    Text {
        chunks: Vec<String>,
        usage: (u64, u64),
        chunk_delay: Duration,
    },
    /// An HTTP error with this JSON body and optional `Retry-After` value.
    Error {
        status: u16,
        body: String,
        retry_after: Option<String>,
    },
    /// A 200 `text/event-stream` response with exactly this body.
    Sse(String),
    /// Sends the head and one content chunk, then nothing until the client
    /// goes away or the mock is dropped.
    Stall,
}

impl Reply {
    /// `text` streamed in chunks of about three words, 10 ms apart.
    pub fn text(text: &str) -> Reply {
        let mut chunks = Vec::new();
        let mut current = String::new();
        for (i, word) in text.split_inclusive(' ').enumerate() {
            current.push_str(word);
            if i % 3 == 2 {
                chunks.push(std::mem::take(&mut current));
            }
        }
        if !current.is_empty() {
            chunks.push(current);
        }
        Reply::Text {
            chunks,
            usage: (21, 7),
            chunk_delay: Duration::from_millis(10),
        }
    }

    /// An error in OpenAI's format: `{"error": {"message", "type"}}`.
    pub fn error(status: u16, message: &str) -> Reply {
        Reply::Error {
            status,
            body: json!({"error": {"message": message, "type": "mock_error", "code": null}})
                .to_string(),
            retry_after: None,
        }
    }

    /// A 429 with `Retry-After` (seconds or an HTTP date).
    pub fn rate_limited(retry_after: &str) -> Reply {
        Reply::Error {
            status: 429,
            body: json!({"error": {"message": "Rate limit reached (mock)", "type": "requests"}})
                .to_string(),
            retry_after: Some(retry_after.to_string()),
        }
    }
}

declare_api!(
    "OpenAI's chat completions, as a [`ScriptedMock`].",
    ChatCompletions,
    MockOpenAi
);

impl RecordedRequest {
    /// The `messages` of the request as (role, content) pairs.
    pub fn messages(&self) -> Vec<(String, String)> {
        self.body_list("messages")
            .iter()
            .map(|m| {
                let field = |k: &str| {
                    m.get(k)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string()
                };
                (field("role"), field("content"))
            })
            .collect()
    }
}

impl MockOpenAi {
    /// Starts a mock on a free loopback port with this script.
    pub fn start(script: Vec<Reply>) -> MockOpenAi {
        ScriptedMock::serve(script, AtomicUsize::new(0)).expect("bind 127.0.0.1")
    }

    /// `http://127.0.0.1:PORT/v1`, the value for `OPENAI_BASE_URL`.
    pub fn base_url(&self) -> String {
        format!("{}/v1", self.server_url())
    }

    /// How many stalled responses the client walked away from.
    pub fn abandoned(&self) -> usize {
        self.extra().load(Ordering::SeqCst)
    }
}

impl Api for ChatCompletions {
    type Reply = Reply;
    /// Stalled responses whose client closed the connection.
    type Extra = AtomicUsize;
    const NAME: &'static str = "mock-openai";

    fn answer(
        responder: &mut Responder<'_>,
        script: &Script<ChatCompletions>,
        request: &RecordedRequest,
        n: u64,
    ) -> io::Result<bool> {
        if !(request.method == "POST" && request.route().ends_with("/chat/completions")) {
            script.log(n, request, "404");
            let body = json!({"error": {"message": "not part of the mock"}});
            return responder.json(404, &[], &body);
        }
        let reply = script.next_or(|| Reply::text(DEFAULT_TEXT));
        script.log(n, request, &format!("{reply:?}"));
        match reply {
            Reply::Error {
                status,
                body,
                retry_after,
            } => {
                let headers: Vec<(String, String)> = retry_after
                    .map(|value| ("retry-after".to_string(), value))
                    .into_iter()
                    .collect();
                responder.plain(status, "application/json", &headers, &body)
            }
            Reply::Sse(body) => {
                responder.sse_until_close()?.send(&body)?;
                Ok(false)
            }
            Reply::Text {
                chunks,
                usage,
                chunk_delay,
            } => stream_text(responder.sse_until_close()?, chunks, usage, chunk_delay),
            Reply::Stall => {
                let mut stream = responder.sse_until_close()?;
                let thinking = json!({"content": "thinking"});
                stream.send(&chunk("chatcmpl-stall", thinking, None))?;
                if stream.until_client_leaves() {
                    script.extra.fetch_add(1, Ordering::SeqCst);
                }
                Ok(false)
            }
        }
    }
}

fn chunk(id: &str, delta: Value, finish: Option<&str>) -> String {
    let data = json!({
        "id": id, "object": "chat.completion.chunk", "model": "mock-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    });
    format!("data: {data}\n\n")
}

/// A streamed answer: the role, a keep-alive comment, the content chunks
/// `chunk_delay` apart, the finish, usage and `[DONE]`.
fn stream_text(
    mut stream: UntilClose<'_>,
    chunks: Vec<String>,
    usage: (u64, u64),
    chunk_delay: Duration,
) -> io::Result<bool> {
    let id = "chatcmpl-mock";
    stream.send(&chunk(
        id,
        json!({"role": "assistant", "content": ""}),
        None,
    ))?;
    // Keep-alive comments, as some servers send.
    stream.send(": ping\n\n")?;
    for text in chunks {
        if !stream.sleep(chunk_delay) {
            return Ok(false);
        }
        stream.send(&chunk(id, json!({"content": text}), None))?;
    }
    stream.send(&chunk(id, json!({}), Some("stop")))?;
    let usage = json!({"id": id, "object": "chat.completion.chunk", "choices": [],
        "usage": {"prompt_tokens": usage.0, "completion_tokens": usage.1,
                  "total_tokens": usage.0 + usage.1}});
    stream.send(&format!("data: {usage}\n\ndata: [DONE]\n\n"))?;
    Ok(false)
}
