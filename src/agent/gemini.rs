//! Gemini CLI adapter: how to start `gemini -p ... --output-format
//! stream-json` and how to read its events (and its stderr, a pipe of its
//! own: notices, and retries) into canonical [`AgentEvent`]s.
//!
//! Pure: builds a [`LaunchSpec`] and parses lines. It never spawns, reads,
//! writes or sleeps, and it must never panic on whatever the agent prints.
//!
//! Formats follow gemini-cli 0.61.0 (`shared/transcripts/gemini`):
//!
//! | gemini line                                    | canonical events |
//! |------------------------------------------------|------------------|
//! | `init {session_id, model}`                     | `session` |
//! | `message {role:"user"}`                        | nothing: it echoes the prompt, it is not the agent's text |
//! | `message {role:"assistant", delta:true}`       | `text {delta:true}` |
//! | `message {role:"assistant"}` without `delta`   | `text {delta:false}` |
//! | `tool_use {tool_id, tool_name, parameters}`    | `tool_call` |
//! | `tool_result {tool_id, status, output, error}` | `tool_result` (`output`, else `error.message`, prefixed with `error.type`; an error unless `status` is `success`) |
//! | `error {severity, message}`                    | `error` (a warning is prefixed `warning: `) |
//! | `result {status, error?, stats}`               | `usage`, then for a failure `error`, then `turn_end` (`api_error_status` from the embedded API error, or 429 when the message has gemini's rate-limit wording) |
//! | stderr "Attempt N failed with status S. Retrying with backoff... {json}" (also "with 429 error", "with 5xx error") | `retry {attempt: N, status: S, reason: the API's message, delay if the API gave a retryDelay}` |
//! | stderr "Attempt N failed: MESSAGE. Retrying after Dms..." (a quota error with a suggested delay; MESSAGE may span lines, the last one carrying "Retrying after") | `retry {attempt: N, delay: D, reason: MESSAGE}` when the "Retrying after" part arrives; the lines before it are also `notice` |
//! | any other line that is not a JSON event        | `raw`, control sequences removed (this includes "Attempt N failed: ... Max attempts reached", after which nothing is retried) |
//!
//! The `turn_end` result is the assistant text streamed after the turn's last
//! tool call (the final answer, as claude's `result` and codex's last agent
//! message are), or the last text before it when nothing came after.
//!
//! Usage: `stats.input` is the uncached share of the prompt (gemini computes
//! `input_tokens - cached`), `stats.cached` the cache reads and
//! `stats.output_tokens` the output. Gemini reports no cost.

use std::path::Path;

use serde_json::{Map, Value};

use super::json::{json_object, str_field};
use super::permission::gemini_permission_args;
use super::sanitize::sanitize_line;
use super::{AgentOptions, LaunchSpec, OutputParser, StdinMode};
use crate::core::event::{AgentEvent, Usage};

/// The agent name in [`AgentEvent::Session`].
const AGENT: &str = "gemini";

/// The `protocol` value that keeps gemini on `-p ... --output-format
/// stream-json` (one turn per process) instead of ACP.
pub const PROTOCOL_STREAM_JSON: &str = "stream-json";

/// The longest retry delay believed from the API (one hour), in ms.
const MAX_DELAY_MS: u64 = 3_600_000;

/// How many lines an "Attempt N failed: MESSAGE" may span before its
/// "Retrying after" part; after that the lines were only output.
const MAX_RETRY_MESSAGE_LINES: usize = 8;

/// How to start gemini for `prompt` in `cwd`.
///
/// `gemini -p <prompt> --output-format stream-json --skip-trust [-m M]
/// [approval flags] [--resume <id> | --session-id <id>]
/// [--include-directories D]... [extra args]`. `--resume` takes precedence
/// over `--session-id` (which starts a *new* session with that id). A value
/// that starts with `-` is passed as `--flag=value` so gemini does not read
/// it as a flag. stdin is `/dev/null` (gemini appends piped stdin to the
/// prompt).
///
/// Not applicable to gemini in this mode and ignored: `allowed_tools`,
/// `disallowed_tools`, `append_system_prompt`, `max_budget_usd`,
/// `config_overrides`.
pub fn launch(opts: &AgentOptions, cwd: &Path, prompt: &str) -> LaunchSpec {
    let mut args: Vec<String> = Vec::new();
    if prompt.starts_with('-') {
        args.push(format!("--prompt={prompt}"));
    } else {
        args.push("-p".into());
        args.push(prompt.to_string());
    }
    args.extend(["--output-format", "stream-json", "--skip-trust"].map(String::from));
    if let Some(model) = &opts.model {
        args.extend(flag("-m", "--model", model));
    }
    if let Some(mode) = &opts.permission_mode {
        args.extend(gemini_permission_args(mode));
    }
    if let Some(id) = &opts.resume {
        args.extend(flag("--resume", "--resume", id));
    } else if let Some(id) = &opts.session_id {
        args.extend(flag("--session-id", "--session-id", id));
    }
    for dir in &opts.add_dirs {
        let dir = dir.to_string_lossy();
        args.extend(flag("--include-directories", "--include-directories", &dir));
    }
    args.extend(opts.extra_args.iter().cloned());
    LaunchSpec {
        program: opts.binary.clone().unwrap_or_else(|| "gemini".into()),
        args,
        cwd: cwd.to_path_buf(),
        env: opts.env.clone(),
        stdin: StdinMode::Null,
    }
}

/// `[short, value]`, or `[long=value]` when the value looks like a flag.
fn flag(short: &str, long: &str, value: &str) -> Vec<String> {
    if value.starts_with('-') {
        vec![format!("{long}={value}")]
    } else {
        vec![short.to_string(), value.to_string()]
    }
}

/// Reads `gemini --output-format stream-json` output and its stderr, one
/// line at a time.
#[derive(Debug, Default)]
pub struct GeminiParser {
    /// Assistant text since the turn's last tool event.
    answer: String,
    /// A tool event came after `answer` was written: the next text starts a
    /// new answer.
    tool_since_answer: bool,
    /// An "Attempt N failed: MESSAGE" whose "Retrying after" part has not
    /// arrived yet (the message spans lines).
    pending_retry: Option<PendingRetry>,
}

/// The start of a retry message that spans lines.
#[derive(Debug)]
struct PendingRetry {
    attempt: u32,
    /// The message lines so far.
    lines: Vec<String>,
}

impl OutputParser for GeminiParser {
    fn parse_line(&mut self, line: &str) -> Vec<AgentEvent> {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            return Vec::new();
        }
        if let Some(obj) = json_object(trimmed) {
            self.pending_retry = None;
            return self.parse_event(&obj);
        }
        if let Some(retry) = self.continue_retry(trimmed) {
            return vec![retry];
        }
        if let Some(retry) = retry_line(trimmed) {
            return vec![retry];
        }
        if let Some((attempt, message)) = retry_message_start(trimmed) {
            self.pending_retry = Some(PendingRetry {
                attempt,
                lines: vec![message.to_string()],
            });
        }
        vec![AgentEvent::Raw {
            line: sanitize_line(line),
        }]
    }

    /// Gemini reports its retries only on stderr ("Attempt N failed ...");
    /// every other stderr line is a notice.
    fn parse_stderr_line(&mut self, line: &str) -> Vec<AgentEvent> {
        self.parse_line(line)
            .into_iter()
            .map(|event| match event {
                AgentEvent::Raw { line } => AgentEvent::Notice { line },
                other => other,
            })
            .collect()
    }
}

impl GeminiParser {
    /// The `retry` that a line ending in "Retrying after Dms..." completes,
    /// when an "Attempt N failed: ..." is pending; otherwise the line is
    /// taken as part of the pending message (or ends it, when it starts a
    /// new attempt or the message grew too long) and `None` is returned.
    fn continue_retry(&mut self, line: &str) -> Option<AgentEvent> {
        let mut pending = self.pending_retry.take()?;
        if line.starts_with("Attempt ") || pending.lines.len() >= MAX_RETRY_MESSAGE_LINES {
            return None;
        }
        match split_retrying_after(line) {
            Some((last, delay_ms)) => {
                pending.lines.push(last.to_string());
                Some(quota_retry(
                    pending.attempt,
                    &pending.lines.join(" "),
                    delay_ms,
                ))
            }
            None => {
                pending.lines.push(line.to_string());
                self.pending_retry = Some(pending);
                None
            }
        }
    }

    fn parse_event(&mut self, obj: &Map<String, Value>) -> Vec<AgentEvent> {
        match str_field(obj, "type").unwrap_or_default() {
            "init" => match str_field(obj, "session_id") {
                Some(id) => vec![AgentEvent::Session {
                    session_id: id.to_string(),
                    model: str_field(obj, "model").map(str::to_string),
                    cwd: None,
                    agent: AGENT.into(),
                }],
                None => Vec::new(),
            },
            "message" => self.message(obj),
            "tool_use" => {
                self.tool_since_answer = true;
                vec![AgentEvent::ToolCall {
                    id: str_field(obj, "tool_id").unwrap_or_default().to_string(),
                    name: str_field(obj, "tool_name").unwrap_or("tool").to_string(),
                    input: obj.get("parameters").cloned().unwrap_or(Value::Null),
                }]
            }
            "tool_result" => {
                self.tool_since_answer = true;
                let error = obj.get("error");
                let error_field = |k: &str| error.and_then(|e| e.get(k)).and_then(Value::as_str);
                let is_error = str_field(obj, "status") != Some("success");
                let output = match str_field(obj, "output") {
                    Some(out) if !out.is_empty() => out,
                    _ => error_field("message").unwrap_or_default(),
                };
                // The error type says why (`tool_not_registered`: not offered
                // in this approval mode), which the message alone does not.
                let output = match error_field("type") {
                    Some(kind) if is_error && !kind.is_empty() && !output.contains(kind) => {
                        format!("{kind}: {output}")
                    }
                    _ => output.to_string(),
                };
                vec![AgentEvent::ToolResult {
                    id: str_field(obj, "tool_id").unwrap_or_default().to_string(),
                    output,
                    is_error,
                }]
            }
            "error" => {
                let message = str_field(obj, "message").unwrap_or("error");
                let message = match str_field(obj, "severity") {
                    Some("warning") => format!("warning: {message}"),
                    _ => message.to_string(),
                };
                vec![AgentEvent::Error { message }]
            }
            "result" => self.result(obj),
            _ => Vec::new(),
        }
    }

    fn message(&mut self, obj: &Map<String, Value>) -> Vec<AgentEvent> {
        if str_field(obj, "role") != Some("assistant") {
            return Vec::new();
        }
        let text = str_field(obj, "content").unwrap_or_default();
        if text.is_empty() {
            return Vec::new();
        }
        if self.tool_since_answer {
            self.answer.clear();
            self.tool_since_answer = false;
        }
        self.answer.push_str(text);
        let delta = obj.get("delta").and_then(Value::as_bool).unwrap_or(false);
        vec![AgentEvent::Text {
            text: text.to_string(),
            delta,
        }]
    }

    fn result(&mut self, obj: &Map<String, Value>) -> Vec<AgentEvent> {
        let mut out = Vec::new();
        if let Some(stats) = obj.get("stats").and_then(Value::as_object) {
            out.push(AgentEvent::Usage(usage_from(stats)));
        }
        let is_error = str_field(obj, "status") != Some("success");
        let answer = std::mem::take(&mut self.answer);
        self.tool_since_answer = false;
        let mut api_error_status = None;
        let result = if is_error {
            let message = obj
                .get("error")
                .and_then(|e| e.get("message"))
                .and_then(Value::as_str)
                .unwrap_or("gemini reported an error")
                .to_string();
            api_error_status = api_error(&message)
                .and_then(|e| e.code)
                .or_else(|| rate_limit_wording(&message).then_some(429));
            out.push(AgentEvent::Error {
                message: message.clone(),
            });
            Some(message)
        } else {
            Some(answer).filter(|a| !a.is_empty())
        };
        out.push(AgentEvent::TurnEnd {
            is_error,
            result,
            api_error_status,
            num_turns: None,
            permission_denials: Vec::new(),
            terminal_reason: None,
            api_error_type: None,
        });
        out
    }
}

/// Whether a failed result's message is worded the way gemini words a 429
/// (it appends "Please wait and try again later. To increase your limits,
/// request a quota increase ..." only for status 429, and names the status
/// `RESOURCE_EXHAUSTED` when it parsed a JSON body); a quota error it gave up
/// on carries no other status.
fn rate_limit_wording(message: &str) -> bool {
    message.contains("Please wait and try again later")
        || message.contains("Possible quota limitations in place")
        || message.contains("(Status: RESOURCE_EXHAUSTED)")
}

/// Gemini's stats as a canonical increment (see the module docs).
fn usage_from(stats: &Map<String, Value>) -> Usage {
    let n = |k: &str| stats.get(k).and_then(Value::as_u64);
    let cached = n("cached").unwrap_or(0);
    let input = n("input").unwrap_or_else(|| n("input_tokens").unwrap_or(0).saturating_sub(cached));
    Usage {
        input_tokens: input,
        output_tokens: n("output_tokens").unwrap_or(0),
        cache_read_tokens: cached,
        cache_creation_tokens: 0,
        cost_usd: None,
    }
}

/// A `retry` from one of gemini's stderr lines "Attempt N failed with status
/// S. Retrying with backoff... _ApiError: {json}" (or "failed with 429
/// error ...", "failed with 5xx error ...", "failed. Retrying ...") or
/// "Attempt N failed: MESSAGE. Retrying after Dms..."; `None` for any other
/// line.
fn retry_line(line: &str) -> Option<AgentEvent> {
    let (attempt, rest) = attempt_failed(line)?;
    if let Some(message) = rest.strip_prefix(':') {
        let (message, delay_ms) = split_retrying_after(message)?;
        return Some(quota_retry(attempt, message, delay_ms));
    }
    let (head, tail) = rest.split_once("Retrying with backoff")?;
    let tail = tail.trim_start_matches('.').trim();
    let api = api_error(tail);
    let head = head.trim();
    let said = head
        .strip_prefix("with status ")
        .or_else(|| head.strip_prefix("with "));
    let status = said
        .and_then(leading_number)
        .and_then(|s| u16::try_from(s).ok())
        .filter(|s| (100..=599).contains(s))
        .or_else(|| api.as_ref().and_then(|e| e.code));
    let reason = api
        .as_ref()
        .and_then(|e| e.message.clone())
        .unwrap_or_else(|| {
            if tail.is_empty() {
                "request failed".to_string()
            } else {
                tail.to_string()
            }
        });
    Some(AgentEvent::Retry {
        attempt,
        max_attempts: None,
        delay_ms: api.and_then(|e| e.retry_delay_ms),
        status,
        reason: sanitize_line(&reason),
    })
}

/// "Attempt N failed<rest>": N and the rest.
fn attempt_failed(line: &str) -> Option<(u32, &str)> {
    let rest = line.strip_prefix("Attempt ")?;
    let (number, rest) = rest.split_once(' ')?;
    let attempt: u32 = number.parse().ok()?;
    Some((attempt, rest.strip_prefix("failed")?))
}

/// "Attempt N failed: MESSAGE" that neither retries nor gives up on this
/// line: its message goes on on the next lines.
fn retry_message_start(line: &str) -> Option<(u32, &str)> {
    let (attempt, rest) = attempt_failed(line)?;
    let message = rest.strip_prefix(':')?.trim();
    if message.contains("Max attempts reached") || message.contains("Retrying") {
        return None;
    }
    Some((attempt, message))
}

/// "MESSAGE. Retrying after 5043ms...": the message (without its period)
/// and the delay.
fn split_retrying_after(text: &str) -> Option<(&str, u64)> {
    let (message, after) = text.rsplit_once("Retrying after ")?;
    let delay: u64 = after.trim().strip_suffix("ms...")?.trim().parse().ok()?;
    let message = message.trim_end();
    let message = message.strip_suffix('.').unwrap_or(message).trim();
    Some((message, delay.min(MAX_DELAY_MS)))
}

/// The `retry` of a quota error that gemini retries after `delay_ms`.
/// gemini prints no status for these (429, 499 or 503), so none is given
/// unless the message carries an API error body.
fn quota_retry(attempt: u32, message: &str, delay_ms: u64) -> AgentEvent {
    let api = api_error(message);
    let reason = api
        .as_ref()
        .and_then(|e| e.message.clone())
        .unwrap_or_else(|| message.to_string());
    AgentEvent::Retry {
        attempt,
        max_attempts: None,
        delay_ms: Some(delay_ms),
        status: api.and_then(|e| e.code),
        reason: sanitize_line(if reason.is_empty() {
            "request failed"
        } else {
            &reason
        }),
    }
}

/// What an embedded Google API error body (`{"error":{...}}`) says.
struct ApiError {
    code: Option<u16>,
    message: Option<String>,
    retry_delay_ms: Option<u64>,
}

/// The first `{"error":{...}}` object in `text`, if any.
fn api_error(text: &str) -> Option<ApiError> {
    let start = text.find('{')?;
    let body = serde_json::Deserializer::from_str(&text[start..])
        .into_iter::<Value>()
        .next()?
        .ok()?;
    let err = body.get("error")?;
    let code = err
        .get("code")
        .and_then(Value::as_u64)
        .and_then(|c| u16::try_from(c).ok())
        .filter(|c| (100..=599).contains(c));
    let message = err
        .get("message")
        .and_then(Value::as_str)
        .map(str::to_string);
    // google.rpc.RetryInfo: {"retryDelay": "31s"} among the error details.
    let retry_delay_ms = err
        .get("details")
        .and_then(Value::as_array)
        .and_then(|details| {
            details
                .iter()
                .find_map(|d| d.get("retryDelay").and_then(Value::as_str))
        })
        .and_then(duration_ms);
    Some(ApiError {
        code,
        message,
        retry_delay_ms,
    })
}

/// "31s" or "1.5s" in milliseconds, capped.
fn duration_ms(text: &str) -> Option<u64> {
    let secs: f64 = text.trim().strip_suffix('s')?.parse().ok()?;
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    Some(((secs * 1000.0).round() as u64).min(MAX_DELAY_MS))
}

fn leading_number(text: &str) -> Option<u64> {
    let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::path::PathBuf;

    fn parse_all(lines: &[&str]) -> Vec<AgentEvent> {
        let mut p = GeminiParser::default();
        lines.iter().flat_map(|l| p.parse_line(l)).collect()
    }

    fn cwd() -> PathBuf {
        PathBuf::from("work")
    }

    const BASE: [&str; 5] = [
        "-p",
        "Say hello.",
        "--output-format",
        "stream-json",
        "--skip-trust",
    ];

    #[test]
    fn launch_minimal_matches_the_recorded_argv() {
        let spec = launch(&AgentOptions::default(), &cwd(), "Say hello.");
        assert_eq!(spec.program, "gemini");
        assert_eq!(spec.args, BASE);
        assert_eq!(spec.stdin, StdinMode::Null);
        assert_eq!(spec.cwd, cwd());
    }

    #[test]
    fn launch_each_permission_mode() {
        let expect: [(&str, &[&str]); 5] = [
            ("default", &["--approval-mode", "default"]),
            ("acceptEdits", &["--approval-mode", "auto_edit"]),
            ("plan", &["--approval-mode", "plan"]),
            ("bypassPermissions", &["--yolo"]),
            ("auto_edit", &["--approval-mode", "auto_edit"]),
        ];
        for (mode, flags) in expect {
            let opts = AgentOptions {
                permission_mode: Some(mode.into()),
                ..AgentOptions::default()
            };
            let spec = launch(&opts, &cwd(), "Say hello.");
            let mut want: Vec<&str> = BASE.to_vec();
            want.extend(flags);
            assert_eq!(spec.args, want, "{mode}");
        }
    }

    #[test]
    fn launch_with_model_session_dirs_and_extra_args() {
        let opts = AgentOptions {
            binary: Some("/opt/gemini".into()),
            model: Some("gemini-3.8-flash".into()),
            session_id: Some("25537b3f-9333-4e68-b665-e11ec6141d73".into()),
            add_dirs: vec![PathBuf::from("lib")],
            extra_args: vec!["--debug".into()],
            ..AgentOptions::default()
        };
        let spec = launch(&opts, &cwd(), "Say hello.");
        assert_eq!(spec.program, "/opt/gemini");
        let mut want: Vec<&str> = BASE.to_vec();
        want.extend([
            "-m",
            "gemini-3.8-flash",
            "--session-id",
            "25537b3f-9333-4e68-b665-e11ec6141d73",
            "--include-directories",
            "lib",
            "--debug",
        ]);
        assert_eq!(spec.args, want);
    }

    #[test]
    fn launch_resume_wins_over_session_id() {
        let opts = AgentOptions {
            session_id: Some("new-id".into()),
            resume: Some("25537b3f-9333-4e68-b665-e11ec6141d73".into()),
            ..AgentOptions::default()
        };
        let spec = launch(&opts, &cwd(), "What was the codeword?");
        assert_eq!(
            spec.args,
            [
                "-p",
                "What was the codeword?",
                "--output-format",
                "stream-json",
                "--skip-trust",
                "--resume",
                "25537b3f-9333-4e68-b665-e11ec6141d73"
            ]
        );
    }

    #[test]
    fn values_that_look_like_flags_use_the_equals_form() {
        let opts = AgentOptions {
            resume: Some("-1".into()),
            ..AgentOptions::default()
        };
        let spec = launch(&opts, &cwd(), "-v please");
        assert_eq!(spec.args[0], "--prompt=-v please");
        assert!(spec.args.contains(&"--resume=-1".to_string()));
    }

    #[test]
    fn assistant_text_without_delta_is_a_block_and_user_echo_is_dropped() {
        let events = parse_all(&[
            r#"{"type":"message","role":"user","content":"secret prompt"}"#,
            r#"{"type":"message","role":"assistant","content":"whole answer"}"#,
            r#"{"type":"message","role":"assistant","content":"","delta":true}"#,
        ]);
        assert_eq!(
            events,
            [AgentEvent::Text {
                text: "whole answer".into(),
                delta: false
            }]
        );
    }

    #[test]
    fn result_is_the_text_after_the_last_tool() {
        let events = parse_all(&[
            r#"{"type":"message","role":"assistant","content":"Let me look.","delta":true}"#,
            r#"{"type":"tool_use","tool_name":"ls","tool_id":"t1","parameters":{"dir_path":"."}}"#,
            r#"{"type":"tool_result","tool_id":"t1","status":"success","output":"a b"}"#,
            r#"{"type":"message","role":"assistant","content":"Two ","delta":true}"#,
            r#"{"type":"message","role":"assistant","content":"files.","delta":true}"#,
            r#"{"type":"result","status":"success","stats":{"input_tokens":10,"input":4,"cached":6,"output_tokens":3}}"#,
        ]);
        assert!(events.contains(&AgentEvent::Usage(Usage {
            input_tokens: 4,
            output_tokens: 3,
            cache_read_tokens: 6,
            cache_creation_tokens: 0,
            cost_usd: None,
        })));
        assert!(matches!(
            events.last(),
            Some(AgentEvent::TurnEnd { is_error: false, result: Some(r), .. }) if r == "Two files."
        ));
    }

    #[test]
    fn result_falls_back_to_text_before_a_trailing_tool() {
        let events = parse_all(&[
            r#"{"type":"message","role":"assistant","content":"Writing it.","delta":true}"#,
            r#"{"type":"tool_use","tool_name":"write_file","tool_id":"w","parameters":{}}"#,
            r#"{"type":"tool_result","tool_id":"w","status":"success"}"#,
            r#"{"type":"result","status":"success","stats":{}}"#,
        ]);
        assert!(matches!(
            events.last(),
            Some(AgentEvent::TurnEnd { result: Some(r), .. }) if r == "Writing it."
        ));
        assert!(events.contains(&AgentEvent::ToolResult {
            id: "w".into(),
            output: String::new(),
            is_error: false
        }));
    }

    #[test]
    fn usage_without_input_subtracts_cached_from_input_tokens() {
        let events = parse_all(&[
            r#"{"type":"result","status":"success","stats":{"input_tokens":10,"cached":6,"output_tokens":3}}"#,
        ]);
        assert!(matches!(
            &events[0],
            AgentEvent::Usage(u) if u.input_tokens == 4 && u.cache_read_tokens == 6
        ));
    }

    #[test]
    fn failed_result_gives_error_status_and_failed_turn() {
        let events = parse_all(&[
            r#"{"type":"result","status":"error","error":{"type":"unknown","message":"[API Error: {\"error\":{\"code\":429,\"message\":\"quota\",\"status\":\"RESOURCE_EXHAUSTED\"}}]"}}"#,
        ]);
        assert!(matches!(&events[0], AgentEvent::Error { message } if message.contains("quota")));
        assert!(matches!(
            &events[1],
            AgentEvent::TurnEnd {
                is_error: true,
                api_error_status: Some(429),
                ..
            }
        ));
    }

    /// The result line gemini-cli 0.61.0 printed after giving up on 429s
    /// with a `RetryInfo` detail (the mock's message; the rest verbatim).
    #[test]
    fn failed_result_worded_as_a_rate_limit_has_status_429() {
        let events = parse_all(&[
            r#"{"type":"result","timestamp":"2026-11-21T18:23:30.306Z","status":"error","error":{"type":"unknown","message":"[API Error: mock 429 (call 3)\nSuggested retry after 0.5s.]\nPlease wait and try again later. To increase your limits, request a quota increase through AI Studio, or switch to another /auth method"},"stats":{"total_tokens":59,"input_tokens":42,"output_tokens":17,"cached":0,"input":42,"duration_ms":0,"tool_calls":0}}"#,
            r#"{"type":"result","status":"error","error":{"type":"unknown","message":"[API Error: Quota exceeded (Status: RESOURCE_EXHAUSTED)]"}}"#,
            r#"{"type":"result","status":"error","error":{"type":"unknown","message":"[API Error: fetch failed]"}}"#,
        ]);
        let statuses: Vec<Option<u16>> = events
            .iter()
            .filter_map(|e| match e {
                AgentEvent::TurnEnd {
                    api_error_status, ..
                } => Some(*api_error_status),
                _ => None,
            })
            .collect();
        assert_eq!(statuses, [Some(429), Some(429), None]);
    }

    #[test]
    fn error_events_are_shown() {
        let events = parse_all(&[
            r#"{"type":"error","severity":"warning","message":"Loop detected"}"#,
            r#"{"type":"error","severity":"error","message":"Stopped"}"#,
        ]);
        assert_eq!(
            events,
            [
                AgentEvent::Error {
                    message: "warning: Loop detected".into()
                },
                AgentEvent::Error {
                    message: "Stopped".into()
                }
            ]
        );
    }

    #[test]
    fn retry_lines_from_stderr() {
        let events = parse_all(&[
            r#"Attempt 1 failed with status 429. Retrying with backoff... _ApiError: {"error":{"code":429,"message":"mock 429 (call 1)","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"1.5s"}]}}"#,
            "Attempt 3 failed with status 503. Retrying with backoff...",
            r#"Attempt 5 failed: {"error":{"code":500,"message":"mock 500 (call 5)","status":"INTERNAL"}}. Max attempts reached"#,
            "    at throwErrorIfNotOK (file:///x.js:1:2)",
        ]);
        assert_eq!(
            events[0],
            AgentEvent::Retry {
                attempt: 1,
                max_attempts: None,
                delay_ms: Some(1500),
                status: Some(429),
                reason: "mock 429 (call 1)".into(),
            }
        );
        assert_eq!(
            events[1],
            AgentEvent::Retry {
                attempt: 3,
                max_attempts: None,
                delay_ms: None,
                status: Some(503),
                reason: "request failed".into(),
            }
        );
        assert!(
            matches!(&events[2], AgentEvent::Raw { line } if line.contains("Max attempts reached"))
        );
        assert!(matches!(&events[3], AgentEvent::Raw { .. }));
    }

    /// Lines as gemini-cli 0.61.0 printed them under corral's PTY for a 429
    /// with a `RetryInfo` detail (what the real API sends with quota
    /// errors), from the end-to-end test against the mock.
    #[test]
    fn quota_retry_spanning_two_lines_is_a_retry_with_gemini_delay() {
        let events = parse_all(&[
            "Attempt 1 failed: Resource has been exhausted (mock quota).",
            "Suggested retry after 0.5s.. Retrying after 5043ms...",
            r#"Attempt 2 failed: {"error":{"code":500,"message":"mock 500 after the retry","status":"INTERNAL"}}. Max attempts reached"#,
        ]);
        assert_eq!(
            events,
            [
                AgentEvent::Raw {
                    line: "Attempt 1 failed: Resource has been exhausted (mock quota).".into()
                },
                AgentEvent::Retry {
                    attempt: 1,
                    max_attempts: None,
                    delay_ms: Some(5043),
                    status: None,
                    reason: "Resource has been exhausted (mock quota). Suggested retry after 0.5s."
                        .into(),
                },
                AgentEvent::Raw {
                    line: r#"Attempt 2 failed: {"error":{"code":500,"message":"mock 500 after the retry","status":"INTERNAL"}}. Max attempts reached"#.into()
                },
            ]
        );
    }

    #[test]
    fn quota_retry_on_one_line_and_with_an_api_body() {
        let events = parse_all(&[
            "Attempt 2 failed: Quota exceeded for metric. Retrying after 61200ms...",
            r#"Attempt 3 failed: {"error":{"code":503,"message":"busy"}}. Retrying after 10ms..."#,
        ]);
        assert_eq!(
            events,
            [
                AgentEvent::Retry {
                    attempt: 2,
                    max_attempts: None,
                    delay_ms: Some(61200),
                    status: None,
                    reason: "Quota exceeded for metric".into(),
                },
                AgentEvent::Retry {
                    attempt: 3,
                    max_attempts: None,
                    delay_ms: Some(10),
                    status: Some(503),
                    reason: "busy".into(),
                },
            ]
        );
    }

    #[test]
    fn a_pending_quota_message_ends_at_json_a_new_attempt_or_too_many_lines() {
        let mut p = GeminiParser::default();
        p.parse_line("Attempt 1 failed: first");
        p.parse_line(r#"{"type":"init","session_id":"s"}"#);
        assert!(matches!(
            p.parse_line("x. Retrying after 5ms...").as_slice(),
            [AgentEvent::Raw { .. }]
        ));
        p.parse_line("Attempt 1 failed: first");
        let next = p.parse_line("Attempt 2 failed with status 500. Retrying with backoff...");
        assert!(matches!(
            next.as_slice(),
            [AgentEvent::Retry {
                attempt: 2,
                status: Some(500),
                ..
            }]
        ));
        p.parse_line("Attempt 1 failed: long");
        for _ in 0..MAX_RETRY_MESSAGE_LINES {
            p.parse_line("more");
        }
        assert!(matches!(
            p.parse_line("end. Retrying after 5ms...").as_slice(),
            [AgentEvent::Raw { .. }]
        ));
    }

    #[test]
    fn retry_lines_without_with_status_still_give_the_status_they_name() {
        let events = parse_all(&[
            "Attempt 4 failed with 429 error (no Retry-After header). Retrying with backoff... Error: got status: 429 Too Many Requests",
            "Attempt 5 failed with 5xx error. Retrying with backoff... Error: 503",
        ]);
        assert!(matches!(
            &events[0],
            AgentEvent::Retry {
                attempt: 4,
                status: Some(429),
                ..
            }
        ));
        assert!(matches!(
            &events[1],
            AgentEvent::Retry {
                attempt: 5,
                status: None,
                ..
            }
        ));
    }

    #[test]
    fn tool_result_prefers_output_then_error_message() {
        let events = parse_all(&[
            r#"{"type":"tool_result","tool_id":"x","status":"error","error":{"type":"invalid_tool_params","message":"bad path"}}"#,
        ]);
        assert_eq!(
            events,
            [AgentEvent::ToolResult {
                id: "x".into(),
                output: "invalid_tool_params: bad path".into(),
                is_error: true
            }]
        );
    }

    #[test]
    fn garbage_never_panics() {
        let garbage = [
            "{",
            "}",
            "[]",
            "null",
            "{\"type\":[]}",
            "{\"type\":\"init\"}",
            "{\"type\":\"message\",\"role\":\"assistant\",\"content\":5,\"delta\":\"yes\"}",
            "{\"type\":\"tool_use\",\"parameters\":1}",
            "{\"type\":\"tool_result\",\"error\":\"flat\"}",
            "{\"type\":\"result\",\"stats\":[]}",
            "{\"type\":\"result\",\"status\":\"error\",\"error\":{\"message\":\"{\\\"error\\\":{\\\"code\\\":99999999}}\"}}",
            "{\"type\":\"result\",\"status\":\"error\",\"error\":{\"message\":\"{\\\"error\\\":{\\\"details\\\":[{\\\"retryDelay\\\":\\\"1e300s\\\"}]}}\"}}",
            "{\"type\":\"result\",\"stats\":{\"input_tokens\":18446744073709551615,\"cached\":1}}",
            "Attempt ",
            "Attempt x failed",
            "Attempt 99999999999 failed with status 1. Retrying with backoff...",
            "Attempt 1 failed with status 99999999. Retrying with backoff... {\"error\":{\"details\":[{\"retryDelay\":\"-3s\"},{\"retryDelay\":\"NaNs\"}]}}",
            "Attempt 1 failed with status 429. Retrying with backoff... {\"error\":",
            "Attempt 1 failed:",
            ". Retrying after ms...",
            "Attempt 1 failed: x. Retrying after 99999999999999999999999ms...",
            "Attempt 1 failed: x. Retrying after -5ms...",
            "Retrying after 99999999999999ms...",
            "\u{1b}]0;title\u{7}",
        ];
        let mut p = GeminiParser::default();
        for line in garbage {
            let _ = p.parse_line(line);
        }
        let huge = parse_all(&[
            "Attempt 1 failed. Retrying with backoff... {\"error\":{\"message\":\"m\",\"details\":[{\"retryDelay\":\"1e300s\"}]}}",
        ]);
        assert!(matches!(
            &huge[0],
            AgentEvent::Retry {
                delay_ms: Some(MAX_DELAY_MS),
                status: None,
                ..
            }
        ));
        let tool =
            parse_all(&["{\"type\":\"tool_use\",\"tool_id\":\"a\",\"parameters\":{\"x\":1}}"]);
        assert_eq!(
            tool,
            [AgentEvent::ToolCall {
                id: "a".into(),
                name: "tool".into(),
                input: json!({"x": 1})
            }]
        );
    }
}
