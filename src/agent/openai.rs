//! OpenAI-compatible chat completions (OpenAI, Ollama, llama.cpp server,
//! vLLM, LM Studio, hosted APIs): how to build a request and how to read
//! its streamed answer into canonical [`AgentEvent`]s.
//!
//! There is no subprocess: the runtime (`runtime::http`) sends
//! `POST {base_url}/chat/completions` with `stream: true` and
//! `stream_options.include_usage`, and feeds the SSE body through
//! [`super::sse::SseParser`] into a [`ChatStream`]. corral keeps the
//! conversation (system, user and assistant messages) so a follow-up sends
//! the whole history.
//!
//! | chunk                                         | canonical events |
//! |-----------------------------------------------|------------------|
//! | first chunk with `id` / `model`               | `session` (the response id; the conversation is corral's) |
//! | `choices[0].delta.content`                    | `text {delta: true}` |
//! | `delta.reasoning_content` / `delta.reasoning` | `thinking {delta: true}` |
//! | `delta.tool_calls[i]` (streamed in pieces)    | one `tool_call` per call once complete (corral runs no tools for this agent: the call is shown, not executed) |
//! | final chunk `usage`                           | `usage` (cached prompt tokens as cache reads; cost only with a configured price) |
//! | `finish_reason`, then `[DONE]` or the end     | `turn_end` whose `result` is the whole answer |
//! | `{"error": ...}` inside the stream            | `error`, and the turn fails |
//! | a chunk that is not JSON                      | `error` (the chunk is skipped) |
//!
//! Pure: never does IO, never reads the environment or the clock (the
//! runtime resolves `OPENAI_BASE_URL` and the key variable), never panics
//! on what a server sends. The API key is never part of any value here:
//! only the *name* of the variable holding it.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::sanitize::sanitize_line;
use super::sse::{SseFrame, SseMessage};
use super::{AgentOptions, LaunchSpec, StdinMode};
use crate::core::event::{AgentEvent, Usage};

/// The agent name in [`AgentEvent::Session`].
pub const AGENT: &str = "openai";
/// Where the built-in `openai` agent sends requests without `OPENAI_BASE_URL`.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
/// The variable naming the endpoint, as in the OpenAI SDKs.
pub const BASE_URL_ENV: &str = "OPENAI_BASE_URL";
/// The variable holding the key, unless a profile names another.
pub const DEFAULT_API_KEY_ENV: &str = "OPENAI_API_KEY";
/// The variable naming the model when none is given.
pub const MODEL_ENV: &str = "OPENAI_MODEL";
/// The model used when neither the options nor `OPENAI_MODEL` name one.
pub const DEFAULT_MODEL: &str = "gpt-4o-mini";

/// How many characters of a server's error body are quoted when it is not
/// JSON.
const ERROR_PREVIEW_CHARS: usize = 300;
/// The longest wait a `Retry-After` can impose before it is capped.
pub const MAX_RETRY_AFTER_MS: u64 = 120_000;

/// One message of the conversation corral keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// `system`, `user` or `assistant`.
    pub role: String,
    pub content: String,
}

impl ChatMessage {
    /// A message with this role and text.
    pub fn new(role: &str, content: &str) -> ChatMessage {
        ChatMessage {
            role: role.to_string(),
            content: content.to_string(),
        }
    }
}

/// Prices in US dollars per million tokens, when configured.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Prices {
    pub input_per_mtok: Option<f64>,
    pub output_per_mtok: Option<f64>,
}

impl Prices {
    /// The cost of `usage`, or `None` when no price is configured. Cached
    /// prompt tokens are charged at the input price.
    pub fn cost(&self, usage: &Usage) -> Option<f64> {
        if self.input_per_mtok.is_none() && self.output_per_mtok.is_none() {
            return None;
        }
        let input = usage.input_tokens.saturating_add(usage.cache_read_tokens) as f64
            * self.input_per_mtok.unwrap_or(0.0);
        let output = usage.output_tokens as f64 * self.output_per_mtok.unwrap_or(0.0);
        Some(crate::core::event::sane_cost(
            (input + output) / 1_000_000.0,
        ))
    }
}

/// Everything the runtime needs for one chat completions request.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    /// The endpoint base (`.../v1`); `None`: `OPENAI_BASE_URL` from the
    /// environment, else [`DEFAULT_BASE_URL`].
    pub base_url: Option<String>,
    /// The name of the variable holding the API key (never the key).
    pub api_key_env: String,
    /// Extra environment of the task, consulted before corral's own.
    pub env: Vec<(String, String)>,
    /// The JSON body. Without a `model` the runtime adds `OPENAI_MODEL` or
    /// [`DEFAULT_MODEL`].
    pub body: Value,
    pub prices: Prices,
}

impl ChatRequest {
    /// The variable `name` from the task's extra environment, if set there.
    pub fn task_env(&self, name: &str) -> Option<&str> {
        self.env
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The first messages of a new conversation: the system prompt (if any)
/// and the user's prompt.
pub fn conversation_start(opts: &AgentOptions, prompt: &str) -> Vec<ChatMessage> {
    let mut messages = Vec::new();
    let system = [&opts.system_prompt, &opts.append_system_prompt]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .filter(|s| !s.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n\n");
    if !system.is_empty() {
        messages.push(ChatMessage::new("system", &system));
    }
    messages.push(ChatMessage::new("user", prompt));
    messages
}

/// The request sending `messages` with the options' model and sampling.
pub fn request(opts: &AgentOptions, messages: &[ChatMessage]) -> ChatRequest {
    let mut body = Map::new();
    if let Some(model) = &opts.model {
        body.insert("model".into(), json!(model));
    }
    body.insert("messages".into(), json!(messages));
    body.insert("stream".into(), json!(true));
    body.insert("stream_options".into(), json!({"include_usage": true}));
    if let Some(t) = opts.temperature.filter(|t| t.is_finite()) {
        body.insert("temperature".into(), json!(t));
    }
    if let Some(n) = opts.max_tokens {
        body.insert("max_tokens".into(), json!(n));
    }
    ChatRequest {
        base_url: opts.base_url.clone().filter(|u| !u.trim().is_empty()),
        api_key_env: opts
            .api_key_env
            .clone()
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_API_KEY_ENV.to_string()),
        env: opts.env.clone(),
        body: Value::Object(body),
        prices: Prices {
            input_per_mtok: opts.input_price_per_mtok,
            output_per_mtok: opts.output_price_per_mtok,
        },
    }
}

/// `{base}/chat/completions`, with or without a trailing `/` on the base.
pub fn completions_url(base: &str) -> String {
    format!("{}/chat/completions", base.trim().trim_end_matches('/'))
}

/// There is no process for this agent: a spec that names no program (the
/// runtime never starts it; `core` sends an `Effect::Chat` instead).
pub fn launch(opts: &AgentOptions, cwd: &Path, _prompt: &str) -> LaunchSpec {
    LaunchSpec {
        program: String::new(),
        args: Vec::new(),
        cwd: cwd.to_path_buf(),
        env: opts.env.clone(),
        stdin: StdinMode::Null,
    }
}

/// A tool call being streamed in pieces.
#[derive(Debug, Default)]
struct PartialCall {
    id: String,
    name: String,
    arguments: String,
}

/// Reads one streamed chat completion into canonical events.
#[derive(Debug, Default)]
pub struct ChatStream {
    prices: Prices,
    session_sent: bool,
    text: String,
    calls: BTreeMap<u64, PartialCall>,
    finish_reason: Option<String>,
    error: Option<String>,
    done: bool,
    /// Any text, thinking or tool call arrived (a retry would repeat it).
    produced: bool,
}

impl ChatStream {
    /// A decoder pricing usage with `prices`.
    pub fn new(prices: Prices) -> ChatStream {
        ChatStream {
            prices,
            ..ChatStream::default()
        }
    }

    /// Whether the model already produced output in this stream.
    pub fn produced_output(&self) -> bool {
        self.produced
    }

    /// Whether `[DONE]` arrived.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// An error the server reported inside the stream.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// Whether the stream told how it ended (`finish_reason` or `[DONE]`).
    pub fn is_complete(&self) -> bool {
        self.done || self.finish_reason.is_some()
    }

    /// Handles one frame from the SSE parser.
    pub fn frame(&mut self, frame: SseFrame) -> Vec<AgentEvent> {
        match frame {
            SseFrame::Message(message) => self.message(&message),
            SseFrame::TooLong { bytes } => vec![AgentEvent::Error {
                message: format!("a streamed chunk of {bytes} bytes was too long and was skipped"),
            }],
        }
    }

    /// Handles one SSE message.
    pub fn message(&mut self, message: &SseMessage) -> Vec<AgentEvent> {
        let data = message.data.trim();
        if data.is_empty() || self.done {
            return Vec::new();
        }
        if data == "[DONE]" {
            self.done = true;
            return self.flush_calls();
        }
        let chunk: Value = match serde_json::from_str(data) {
            Ok(Value::Object(map)) => Value::Object(map),
            _ => {
                let preview: String = sanitize_line(data).chars().take(200).collect();
                return vec![AgentEvent::Error {
                    message: format!("the server sent a malformed chunk, skipped: {preview}"),
                }];
            }
        };
        if let Some(err) = chunk.get("error").filter(|e| !e.is_null()) {
            let text = error_text(err).unwrap_or_else(|| sanitize_line(&err.to_string()));
            self.error = Some(text.clone());
            return vec![AgentEvent::Error { message: text }];
        }
        let mut out = Vec::new();
        if !self.session_sent {
            let id = chunk.get("id").and_then(Value::as_str);
            let model = chunk.get("model").and_then(Value::as_str);
            if id.is_some() || model.is_some() {
                self.session_sent = true;
                out.push(AgentEvent::Session {
                    session_id: id.unwrap_or_default().to_string(),
                    model: model.map(str::to_string),
                    cwd: None,
                    agent: AGENT.into(),
                });
            }
        }
        let choice = chunk
            .get("choices")
            .and_then(Value::as_array)
            .and_then(|c| c.first());
        if let Some(choice) = choice {
            let delta = choice.get("delta").or_else(|| choice.get("message"));
            if let Some(delta) = delta {
                for key in ["reasoning_content", "reasoning"] {
                    if let Some(t) = delta
                        .get(key)
                        .and_then(Value::as_str)
                        .filter(|t| !t.is_empty())
                    {
                        self.produced = true;
                        out.push(AgentEvent::Thinking {
                            text: t.to_string(),
                            delta: true,
                        });
                        break;
                    }
                }
                if let Some(t) = delta
                    .get("content")
                    .and_then(Value::as_str)
                    .filter(|t| !t.is_empty())
                {
                    self.produced = true;
                    self.text.push_str(t);
                    out.push(AgentEvent::Text {
                        text: t.to_string(),
                        delta: true,
                    });
                }
                if let Some(calls) = delta.get("tool_calls").and_then(Value::as_array) {
                    self.produced = true;
                    for (n, call) in calls.iter().enumerate() {
                        let index = call
                            .get("index")
                            .and_then(Value::as_u64)
                            .unwrap_or(n as u64);
                        let partial = self.calls.entry(index).or_default();
                        if let Some(id) = call.get("id").and_then(Value::as_str) {
                            partial.id = id.to_string();
                        }
                        if let Some(f) = call.get("function") {
                            if let Some(name) = f.get("name").and_then(Value::as_str) {
                                partial.name.push_str(name);
                            }
                            if let Some(args) = f.get("arguments").and_then(Value::as_str) {
                                partial.arguments.push_str(args);
                            }
                        }
                    }
                }
            }
            if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
                self.finish_reason = Some(reason.to_string());
                out.extend(self.flush_calls());
            }
        }
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            out.push(AgentEvent::Usage(self.usage(usage)));
        }
        out
    }

    fn usage(&self, usage: &Value) -> Usage {
        let count = |v: Option<&Value>| v.and_then(Value::as_u64).unwrap_or(0);
        let prompt = count(usage.get("prompt_tokens"));
        let cached = count(
            usage
                .get("prompt_tokens_details")
                .and_then(|d| d.get("cached_tokens")),
        )
        .min(prompt);
        let mut u = Usage {
            input_tokens: prompt - cached,
            output_tokens: count(usage.get("completion_tokens")),
            cache_read_tokens: cached,
            cache_creation_tokens: 0,
            cost_usd: None,
        };
        u.cost_usd = self.prices.cost(&u);
        u
    }

    fn flush_calls(&mut self) -> Vec<AgentEvent> {
        std::mem::take(&mut self.calls)
            .into_iter()
            .map(|(index, call)| AgentEvent::ToolCall {
                id: if call.id.is_empty() {
                    format!("call_{index}")
                } else {
                    call.id
                },
                name: call.name,
                input: if call.arguments.trim().is_empty() {
                    json!({})
                } else {
                    serde_json::from_str(&call.arguments).unwrap_or(Value::String(call.arguments))
                },
            })
            .collect()
    }

    /// The body ended normally: the last events of the turn. `None` when
    /// the stream broke off before saying how it ended (the caller decides
    /// whether to retry) or reported an error.
    pub fn end(&mut self) -> Option<Vec<AgentEvent>> {
        if self.error.is_some() || !self.is_complete() {
            return None;
        }
        let mut out = self.flush_calls();
        match self.finish_reason.as_deref() {
            Some("length") => out.push(AgentEvent::Raw {
                line: "the answer was cut off at the token limit (finish_reason: length)".into(),
            }),
            Some("content_filter") => out.push(AgentEvent::Raw {
                line: "the answer was stopped by the server's content filter".into(),
            }),
            _ => {}
        }
        out.push(AgentEvent::TurnEnd {
            is_error: false,
            result: Some(self.text.clone()),
            api_error_status: None,
            num_turns: Some(1),
            permission_denials: Vec::new(),
            terminal_reason: None,
            api_error_type: None,
        });
        Some(out)
    }

    /// The whole answer text so far.
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// The message of an `error` value: a string, or an object's `message`.
fn error_text(err: &Value) -> Option<String> {
    let text = match err {
        Value::String(s) => s.clone(),
        Value::Object(map) => map.get("message").and_then(Value::as_str)?.to_string(),
        _ => return None,
    };
    Some(sanitize_line(&text))
}

/// The user-facing message for an HTTP error: the status and the server's
/// own message from a JSON body (`{"error": {"message"}}`, `{"error": "..."}`,
/// `{"message"}` or `{"detail"}`), else the start of the body.
pub fn error_message(status: u16, reason: &str, body: &[u8]) -> String {
    let head = if reason.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status} {reason}")
    };
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let message = parsed.as_ref().and_then(|v| {
        v.get("error")
            .and_then(error_text)
            .or_else(|| v.get("message").and_then(error_text))
            .or_else(|| v.get("detail").and_then(error_text))
    });
    let message = message.unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        sanitize_line(text.trim())
            .chars()
            .take(ERROR_PREVIEW_CHARS)
            .collect()
    });
    if message.trim().is_empty() {
        head
    } else {
        format!("{head}: {}", message.trim())
    }
}

/// Whether a request that got `status` may succeed when sent again.
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 409 | 425 | 429) || (500..600).contains(&status)
}

/// The wait a `Retry-After` value asks for: delta seconds (fractions
/// allowed) or an HTTP date, relative to `now_ms` (ms since the epoch).
/// Capped at [`MAX_RETRY_AFTER_MS`]; `None` when it cannot be read.
pub fn retry_after_ms(value: &str, now_ms: u64) -> Option<u64> {
    let value = value.trim();
    let ms = if let Ok(secs) = value.parse::<f64>() {
        if !secs.is_finite() || secs < 0.0 {
            return None;
        }
        (secs * 1000.0).min(MAX_RETRY_AFTER_MS as f64) as u64
    } else {
        let at = parse_http_date(value)?.saturating_mul(1000);
        at.saturating_sub(now_ms)
    };
    Some(ms.min(MAX_RETRY_AFTER_MS))
}

/// Exponential backoff: `base_ms * 2^(attempt-1)` capped at `max_ms`
/// (`attempt` counts from 1). A server's `Retry-After` wins when given.
pub fn backoff_ms(attempt: u32, base_ms: u64, max_ms: u64, retry_after: Option<u64>) -> u64 {
    if let Some(ms) = retry_after {
        return ms;
    }
    let factor = 1u64
        .checked_shl(attempt.saturating_sub(1))
        .unwrap_or(u64::MAX);
    base_ms.saturating_mul(factor).min(max_ms)
}

/// Seconds since the epoch of an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37
/// GMT`), the form HTTP servers send.
pub fn parse_http_date(value: &str) -> Option<u64> {
    let rest = value.split_once(", ").map_or(value, |(_, r)| r);
    let mut parts = rest.split_whitespace();
    let day: u64 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    if parts.next()? != "GMT" || !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day as i64);
    let secs = days.checked_mul(86_400)? + (h * 3600 + m * 60 + s) as i64;
    u64::try_from(secs).ok()
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_and_seconds_both_give_a_wait() {
        // 784111777 is Sun, 06 Nov 1994 08:49:37 GMT (RFC 9110's example).
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(
            retry_after_ms("Sun, 06 Nov 1994 08:49:40 GMT", 784_111_777_000),
            Some(3_000)
        );
        assert_eq!(retry_after_ms("2", 0), Some(2_000));
        assert_eq!(retry_after_ms("0.5", 0), Some(500));
        assert_eq!(retry_after_ms("99999", 0), Some(MAX_RETRY_AFTER_MS));
        assert_eq!(retry_after_ms("soon", 0), None);
        assert_eq!(retry_after_ms("-1", 0), None);
        // A date in the past means: now.
        assert_eq!(
            retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", 900_000_000_000),
            Some(0)
        );
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_retry_after_wins() {
        let delays: Vec<u64> = (1..=5).map(|a| backoff_ms(a, 1000, 5000, None)).collect();
        assert_eq!(delays, [1000, 2000, 4000, 5000, 5000]);
        assert_eq!(backoff_ms(1, 1000, 5000, Some(7000)), 7000);
        assert_eq!(backoff_ms(200, 1000, 5000, None), 5000);
    }

    #[test]
    fn error_messages_quote_the_server() {
        let body = br#"{"error":{"message":"Invalid API key","type":"auth"}}"#;
        assert_eq!(
            error_message(401, "Unauthorized", body),
            "HTTP 401 Unauthorized: Invalid API key"
        );
        assert_eq!(
            error_message(500, "", br#"{"error":"model not loaded"}"#),
            "HTTP 500: model not loaded"
        );
        assert_eq!(
            error_message(404, "Not Found", br#"{"detail":"no such route"}"#),
            "HTTP 404 Not Found: no such route"
        );
        assert_eq!(
            error_message(502, "Bad Gateway", b"<html>\x1b[31mbad</html>"),
            "HTTP 502 Bad Gateway: <html>bad</html>"
        );
        assert_eq!(error_message(503, "", b""), "HTTP 503");
    }

    #[test]
    fn request_carries_options_and_never_a_key() {
        let opts = AgentOptions {
            model: Some("llama3".into()),
            system_prompt: Some("Be brief.".into()),
            temperature: Some(0.2),
            max_tokens: Some(64),
            api_key_env: Some("MY_KEY".into()),
            env: vec![("MY_KEY".into(), "sk-secret".into())],
            ..AgentOptions::default()
        };
        let messages = conversation_start(&opts, "hi");
        let req = request(&opts, &messages);
        assert_eq!(req.api_key_env, "MY_KEY");
        assert_eq!(req.task_env("MY_KEY"), Some("sk-secret"));
        assert_eq!(
            req.body,
            json!({
                "model": "llama3",
                "messages": [{"role": "system", "content": "Be brief."},
                             {"role": "user", "content": "hi"}],
                "stream": true,
                "stream_options": {"include_usage": true},
                "temperature": 0.2,
                "max_tokens": 64,
            })
        );
        assert!(!req.body.to_string().contains("sk-secret"));
        assert_eq!(
            completions_url("http://127.0.0.1:8080/v1/"),
            "http://127.0.0.1:8080/v1/chat/completions"
        );
    }

    #[test]
    fn usage_splits_cached_tokens_and_prices_only_when_configured() {
        let msg = |data: &str| SseMessage {
            data: data.into(),
            ..SseMessage::default()
        };
        let chunk = r#"{"id":"c","choices":[],"usage":{"prompt_tokens":100,"completion_tokens":10,"prompt_tokens_details":{"cached_tokens":40}}}"#;
        let mut free = ChatStream::new(Prices::default());
        let events = free.message(&msg(chunk));
        assert!(events.contains(&AgentEvent::Usage(Usage {
            input_tokens: 60,
            output_tokens: 10,
            cache_read_tokens: 40,
            cache_creation_tokens: 0,
            cost_usd: None,
        })));
        let mut priced = ChatStream::new(Prices {
            input_per_mtok: Some(1.0),
            output_per_mtok: Some(10.0),
        });
        let cost = priced
            .message(&msg(chunk))
            .into_iter()
            .find_map(|e| match e {
                AgentEvent::Usage(u) => u.cost_usd,
                _ => None,
            });
        assert_eq!(cost, Some((100.0 * 1.0 + 10.0 * 10.0) / 1_000_000.0));
    }
}
