//! End-to-end: `corral run --agent gemini --json` driving the REAL gemini
//! CLI against a scripted Gemini API on 127.0.0.1
//! (tests/support/gemini_mock.rs).
//!
//! The mock's own tests (first section) always run. The gemini tests skip
//! loudly when the real CLI is not installed (`scripts/install-agents`), or
//! fail with `CORRAL_REQUIRE_E2E=1`. Every run has a hard time limit, so a
//! hang is a failure, never a stuck CI; whatever a run leaves behind is
//! killed by the sandbox. The mock is also gemini's HTTP proxy and refuses
//! everything, so these tests never reach beyond loopback.

#[path = "e2e_gemini/idle.rs"]
mod idle;
mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::Sandbox;
use support::gemini_mock::{MockGemini, PROMPT_TOKENS, Reply, SHELL_TOOL, tool_finished_text};
use support::http::post_json;
use support::run::{Run, agent_run};
use support::walks::{self, APPROVED_MARKER, CODEWORD, DENIED_MARKER, assert_resumed_history};

/// Hard upper bound for one `corral run` (a real gemini run takes ~2-4 s;
/// a run with one retry about 6-10 s).
const RUN_LIMIT: Duration = Duration::from_secs(120);

// ---------------------------------------------------------------------------
// The mock itself, through a raw HTTP client (no gemini needed).
// ---------------------------------------------------------------------------

const STREAM: &str = "/v1beta/models/gemini-3.8-flash:streamGenerateContent?alt=sse";
const ROUTER: &str = "/v1beta/models/gemini-3.5-flash-lite:generateContent";

fn contents(contents: Value) -> Value {
    json!({"contents": contents, "generationConfig": {}})
}

fn user(text: &str) -> Value {
    json!({"role": "user", "parts": [{"text": text}]})
}

/// The text of every part of every SSE chunk, joined.
fn streamed_text(chunks: &[Value]) -> String {
    chunks
        .iter()
        .flat_map(|c| {
            c["candidates"][0]["content"]["parts"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|p| p["text"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn mock_routes_then_streams_text_with_usage_and_records_both() {
    let text = "One two three four five six seven.";
    let mock = MockGemini::start(vec![Reply::text(text)]);
    let router_request = json!({"contents": [user("Say hi")], "generationConfig": {
        "responseMimeType": "application/json",
        "responseJsonSchema": {"properties": {"complexity_score": {"type": "INTEGER"}}}}});
    let routed = post_json(mock.port(), ROUTER, &router_request);
    assert_eq!(routed.status, 200);
    let verdict: Value = serde_json::from_str(
        routed.json()["candidates"][0]["content"]["parts"][0]["text"]
            .as_str()
            .expect("the router answers text"),
    )
    .expect("the router's text is JSON");
    let score = verdict["complexity_score"].as_u64().expect("a score");
    assert!((1..=100).contains(&score));

    let streamed = post_json(mock.port(), STREAM, &contents(json!([user("Say hi")])));
    assert_eq!(streamed.status, 200);
    let chunks = streamed.sse_data();
    assert!(chunks.len() >= 3, "{chunks:?}");
    assert_eq!(streamed_text(&chunks), text);
    let last = chunks.last().expect("chunks");
    assert_eq!(last["candidates"][0]["finishReason"], "STOP");
    assert_eq!(last["usageMetadata"]["promptTokenCount"], PROMPT_TOKENS);
    assert!(
        chunks[..chunks.len() - 1]
            .iter()
            .all(|c| c.get("usageMetadata").is_none())
    );

    assert_eq!(mock.router_requests().len(), 1);
    let turns = mock.stream_requests();
    assert_eq!(turns.len(), 1);
    assert_eq!(turns[0].texts_of("user"), ["Say hi"]);
    assert_eq!(
        turns[0].model_and_method(),
        Some(("gemini-3.8-flash", "streamGenerateContent"))
    );
    assert_eq!(mock.remaining(), 0);
}

#[test]
fn mock_calls_the_shell_tool_then_echoes_the_function_response() {
    let mock = MockGemini::start(vec![Reply::shell("echo hi", "Let me run it.")]);
    let first = post_json(mock.port(), STREAM, &contents(json!([user("go")])));
    let chunks = first.sse_data();
    assert_eq!(streamed_text(&chunks), "Let me run it.");
    let call = chunks
        .iter()
        .flat_map(|c| {
            c["candidates"][0]["content"]["parts"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .find_map(|p| p.get("functionCall").cloned())
        .expect("a functionCall part");
    assert_eq!(call["name"], SHELL_TOOL);
    assert_eq!(call["args"]["command"], "echo hi");

    let second = post_json(
        mock.port(),
        STREAM,
        &contents(json!([user("go"),
            {"role": "model", "parts": [{"functionCall": call}]},
            {"role": "user", "parts": [{"functionResponse": {"name": SHELL_TOOL,
                                                             "response": {"output": "hi"}}}]}])),
    );
    assert_eq!(streamed_text(&second.sse_data()), tool_finished_text("hi"));
    assert_eq!(
        mock.stream_requests()[1].function_responses(),
        [(SHELL_TOOL.to_string(), "hi".to_string())]
    );
}

#[test]
fn mock_errors_carry_google_bodies_and_retry_info() {
    let mock = MockGemini::start(vec![Reply::rate_limited("0.5s"), Reply::error(500, "boom")]);
    let limited = post_json(mock.port(), STREAM, &contents(json!([])));
    assert_eq!(limited.status, 429);
    let body = limited.json();
    assert_eq!(body["error"]["code"], 429);
    assert_eq!(body["error"]["status"], "RESOURCE_EXHAUSTED");
    assert_eq!(body["error"]["details"][0]["retryDelay"], "0.5s");
    let failed = post_json(mock.port(), STREAM, &contents(json!([])));
    assert_eq!(failed.status, 500);
    assert_eq!(failed.json()["error"]["message"], "boom");
    assert!(failed.json()["error"].get("details").is_none());
    let unknown = post_json(mock.port(), "/v1beta/files", &json!({}));
    assert_eq!(unknown.status, 404);
}

// ---------------------------------------------------------------------------
// corral run --agent gemini --json with the real gemini.
// ---------------------------------------------------------------------------

/// A sandbox with gemini's settings (`max_attempts` caps its retries), or a
/// loud skip.
fn setup(
    test: &str,
    script: Vec<Reply>,
    max_attempts: Option<u32>,
) -> Option<(Sandbox, MockGemini)> {
    let gemini = support::gemini_or_skip(test)?;
    let sandbox = Sandbox::for_agent("gemini", &gemini);
    sandbox.write_gemini_settings(max_attempts);
    Some((sandbox, MockGemini::start(script)))
}

/// `corral run --agent gemini --json ARGS -- PROMPT` against `mock`.
fn gemini_run(
    sandbox: &Sandbox,
    mock: &MockGemini,
    args: &[&str],
    prompt: &str,
    limit: Duration,
) -> Run {
    let saw = || {
        format!(
            "the mock saw {} router and {} chat requests",
            mock.router_requests().len(),
            mock.stream_requests().len()
        )
    };
    agent_run(
        sandbox,
        "gemini",
        sandbox.gemini_env(mock.port()),
        args,
        prompt,
        limit,
        &saw,
    )
}

#[test]
fn gemini_text_answer_streams_deltas_session_usage_and_succeeds() {
    let answer = "Corral end-to-end check for gemini: several chunks, joined again.";
    let prompt = "Say hello in a few words.";
    // Chunks 100 ms apart: corral merges the deltas of one read (what a
    // user sees is the same text), so chunks that arrive together count
    // once; apart they must each show as it comes.
    let paced = Reply::Stream {
        parts: vec![support::gemini_mock::Part::Text(answer.to_string())],
        chunk_delay: std::time::Duration::from_millis(100),
    };
    let Some((sandbox, mock)) = setup("gemini_text_answer", vec![paced], None) else {
        return;
    };
    let run = gemini_run(&sandbox, &mock, &[], prompt, RUN_LIMIT);

    assert_eq!(run.code, Some(0), "{}", run.dump());
    assert_eq!(run.text(), answer, "{}", run.dump());
    let texts = run.of_type("text");
    assert!(
        texts.len() >= 3,
        "streamed in several deltas\n{}",
        run.dump()
    );
    assert!(texts.iter().all(|t| t["delta"] == true), "{}", run.dump());
    assert!(
        !run.text().contains(prompt),
        "the echoed prompt is not assistant text\n{}",
        run.dump()
    );
    let session_id = run.session_id();
    assert_eq!(run.of_type("session")[0]["agent"], "gemini");
    let usage = run.of_type("usage");
    assert_eq!(usage.len(), 1, "{}", run.dump());
    // gemini counts the router call too: at least the chat's prompt tokens.
    assert!(
        usage[0]["input_tokens"].as_u64().unwrap_or(0) >= PROMPT_TOKENS,
        "{}",
        run.dump()
    );
    assert!(usage[0]["output_tokens"].as_u64().unwrap_or(0) > 0);
    assert!(usage[0].get("cost_usd").is_none(), "gemini reports no cost");

    let finished = run.finished();
    assert_eq!(finished["status"], "succeeded", "{}", run.dump());
    assert_eq!(finished["exit_code"], 0);
    assert_eq!(finished["result"], answer);
    assert_eq!(finished["session_id"], session_id.as_str());

    assert_eq!(mock.router_requests().len(), 1, "{}", run.dump());
    let turns = mock.stream_requests();
    assert_eq!(turns.len(), 1, "one chat call\n{}", run.dump());
    assert!(
        turns[0].texts_of("user").iter().any(|t| t.contains(prompt)),
        "{:?}",
        turns[0].texts_of("user")
    );
}

#[test]
fn gemini_shell_tool_runs_echo_hi_in_yolo_mode_and_its_output_reaches_the_model() {
    let Some((sandbox, mock)) = setup(
        "gemini_tool_call",
        vec![Reply::shell("echo hi", "Let me run a command.")],
        None,
    ) else {
        return;
    };
    let run = gemini_run(
        &sandbox,
        &mock,
        &["--permission-mode", "bypassPermissions"],
        "Run `echo hi` and tell me what it printed.",
        RUN_LIMIT,
    );

    assert_eq!(run.code, Some(0), "{}", run.dump());
    let calls = run.of_type("tool_call");
    assert_eq!(calls.len(), 1, "{}", run.dump());
    assert_eq!(calls[0]["name"], SHELL_TOOL);
    assert_eq!(calls[0]["input"]["command"], "echo hi");
    let results = run.of_type("tool_result");
    assert_eq!(results.len(), 1, "{}", run.dump());
    assert_eq!(results[0]["id"], calls[0]["id"]);
    // Over ACP gemini reports a shell call's completion without its output
    // (an empty `content`); the output reaches the model, which says it.
    assert!(run.text().contains("Output: hi"), "{}", run.dump());
    assert_eq!(results[0]["is_error"], false);

    run.assert_tool_then_answer("Let me run a command.", "hi");

    let turns = mock.stream_requests();
    assert_eq!(turns.len(), 2, "the tool output goes back to the model");
    let responses = turns[1].function_responses();
    assert_eq!(responses.len(), 1, "{responses:?}");
    assert_eq!(responses[0].0, SHELL_TOOL);
    assert!(
        responses[0].1.contains("hi"),
        "the model saw the command's output: {responses:?}"
    );
}

/// The `retry` events of a run as (attempt, status).
fn retries(run: &Run) -> Vec<(u64, Option<u64>)> {
    run.of_type("retry")
        .iter()
        .map(|r| (r["attempt"].as_u64().unwrap_or(0), r["status"].as_u64()))
        .collect()
}

/// What every failed gemini run shows: an error naming the last status,
/// a failed turn, `finished` failed, exit code 1, no assistant text.
fn assert_failed_with_status(run: &Run, status: u64) {
    let turn_ends = run.of_type("turn_end");
    assert!(
        turn_ends
            .iter()
            .any(|t| t["is_error"] == true && t["api_error_status"] == status),
        "{}",
        run.dump()
    );
    assert!(!run.of_type("error").is_empty(), "{}", run.dump());
    assert_eq!(run.finished()["status"], "failed", "{}", run.dump());
    assert_eq!(run.code, Some(1), "{}", run.dump());
    assert!(run.text().is_empty(), "{}", run.dump());
}

#[test]
fn gemini_rate_limit_with_retry_info_is_a_retry_then_the_run_fails() {
    // gemini.maxAttempts = 2: the 429 (with RetryInfo, as the real API
    // sends it) is retried once, after at least gemini's 5 s base delay;
    // the 500 that follows ends the run.
    let Some((sandbox, mock)) = setup(
        "gemini_rate_limit_retry",
        vec![
            Reply::rate_limited("0.5s"),
            Reply::error(500, "mock 500 after the retry"),
        ],
        Some(2),
    ) else {
        return;
    };
    let run = gemini_run(&sandbox, &mock, &[], "Say hello.", RUN_LIMIT);

    // gemini prints no status for a quota error it retries after a delay.
    assert_eq!(retries(&run), [(1, None)], "{}", run.dump());
    let retry = run.of_type("retry")[0];
    assert!(
        retry["reason"]
            .as_str()
            .is_some_and(|r| r.contains("mock quota")),
        "the API's message is the reason\n{}",
        run.dump()
    );
    assert!(
        retry["delay_ms"].as_u64().is_some_and(|d| d >= 500),
        "gemini's own delay is shown\n{}",
        run.dump()
    );
    assert_failed_with_status(&run, 500);
    assert_eq!(mock.stream_requests().len(), 2, "{}", run.dump());
}

#[test]
fn gemini_server_errors_are_retried_then_the_run_fails() {
    let Some((sandbox, mock)) = setup(
        "gemini_server_errors",
        vec![
            Reply::error(500, "mock 500 (1)"),
            Reply::error(500, "mock 500 (2)"),
        ],
        Some(2),
    ) else {
        return;
    };
    let run = gemini_run(&sandbox, &mock, &[], "Say hello.", RUN_LIMIT);

    assert_eq!(retries(&run), [(1, Some(500))], "{}", run.dump());
    assert_eq!(
        run.of_type("retry")[0]["reason"],
        "mock 500 (1)",
        "{}",
        run.dump()
    );
    assert_failed_with_status(&run, 500);
    assert_eq!(mock.stream_requests().len(), 2, "{}", run.dump());
}

#[test]
fn gemini_stalled_by_the_model_is_timed_out_and_nothing_is_left_behind() {
    let Some((sandbox, mock)) = setup("gemini_timeout", vec![Reply::stall()], None) else {
        return;
    };
    let run = |args: &[&str], prompt: &str| {
        gemini_run(&sandbox, &mock, args, prompt, Duration::from_secs(60))
    };
    // gemini needs about 3 s to send its first request on a quiet 2-core
    // machine and over 8 s when the other tests of this binary start their
    // geminis beside it: the timeout must leave it time to reach the mock,
    // or the test would check a timeout before any request.
    walks::timed_out(&sandbox, &run, 20, Duration::from_secs(20), &|| {
        mock.stream_requests().len()
    });
}

#[test]
fn gemini_resume_keeps_the_session_and_sends_the_history() {
    let turns = CODEWORD;
    let Some((sandbox, mock)) = setup(
        "gemini_resume",
        vec![
            Reply::text(turns.first_answer),
            Reply::text(turns.second_answer),
        ],
        None,
    ) else {
        return;
    };
    let run = |args: &[&str], prompt: &str| gemini_run(&sandbox, &mock, args, prompt, RUN_LIMIT);
    walks::resume(&run, &turns);

    let seen = mock.stream_requests();
    assert_eq!(seen.len(), 2);
    assert_resumed_history(
        &seen[1].texts_of("user"),
        &seen[1].texts_of("model"),
        &turns,
    );
}

// ---------------------------------------------------------------------------
// Capturing `gemini --acp` transcripts (run by hand, writes fixtures):
// `cargo test --test e2e_gemini capture_acp -- --ignored --test-threads 1`.
// ---------------------------------------------------------------------------

mod capture_acp {
    use std::path::PathBuf;
    use std::process::Command;
    use std::time::Duration;

    use serde_json::{Value, json};

    use super::support::Sandbox;
    use super::support::gemini_mock::{MockGemini, Part, Reply};
    use super::support::stdio_session::StdioSession;

    const WAIT: Duration = Duration::from_secs(60);

    fn fixture_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gemini_acp")
    }

    fn start(
        test: &str,
        script: Vec<Reply>,
        max_attempts: Option<u32>,
    ) -> Option<(Sandbox, MockGemini, StdioSession)> {
        let gemini = super::support::gemini_or_skip(test)?;
        let sandbox = Sandbox::for_agent("gemini", &gemini);
        sandbox.write_gemini_settings(max_attempts);
        let mock = MockGemini::start(script);
        let mut command = Command::new(&sandbox.agent);
        command
            .args(["--acp", "--skip-trust"])
            .current_dir(&sandbox.work)
            .env_clear()
            .envs(sandbox.gemini_env(mock.port()));
        let session = StdioSession::start(command);
        Some((sandbox, mock, session))
    }

    /// corral's own opening lines (`initialize`, `session/new`); returns
    /// the session id.
    fn open(session: &mut StdioSession, sandbox: &Sandbox) -> String {
        let spec = corral::agent::acp::launch_gemini(&Default::default(), &sandbox.work, "");
        let corral::agent::StdinMode::Pipe { initial_lines } = spec.stdin else {
            panic!("ACP runs on a stdin pipe");
        };
        for line in &initial_lines {
            session.send_line(line);
        }
        let answer = session
            .wait_response_to("corral-session-new", WAIT)
            .expect("session/new answered");
        answer["result"]["sessionId"]
            .as_str()
            .expect("a session id")
            .to_string()
    }

    /// Sends corral's `session/prompt` number `seq`; returns its id.
    fn prompt(session: &mut StdioSession, sid: &str, seq: u64, text: &str) -> String {
        session.send_line(&corral::agent::acp::prompt_line(sid, seq, text));
        format!("corral-prompt-{seq}")
    }

    /// Answers the next permission request choosing the option of `kind`.
    fn permit(session: &mut StdioSession, kind: &str) -> Value {
        let request = session
            .wait_method("session/request_permission", WAIT)
            .expect("a permission request");
        let option = request["params"]["options"]
            .as_array()
            .and_then(|o| o.iter().find(|o| o["kind"] == kind))
            .map(|o| o["optionId"].clone())
            .expect("the option");
        session.respond(
            &request["id"],
            json!({"outcome": {"outcome": "selected", "optionId": option}}),
        );
        request
    }

    fn done(mut session: StdioSession, sandbox: &Sandbox, name: &str) {
        let code = session.finish(Duration::from_secs(20));
        eprintln!("[capture] {name}: exit {code:?}");
        session.save(&fixture_dir(), name, sandbox.root());
    }

    #[test]
    #[ignore = "captures fixtures from the real gemini"]
    fn capture_acp_text() {
        let Some((sandbox, _mock, mut s)) = start(
            "capture_acp_text",
            vec![Reply::text("Hello from the mock over ACP.")],
            None,
        ) else {
            return;
        };
        let sid = open(&mut s, &sandbox);
        let p = prompt(&mut s, &sid, 0, "say hello");
        s.wait_response_to(&p, WAIT).expect("prompt answered");
        done(s, &sandbox, "text");
    }

    #[test]
    #[ignore = "captures fixtures from the real gemini"]
    fn capture_acp_shell_allow() {
        let Some((sandbox, _mock, mut s)) = start(
            "capture_acp_shell_allow",
            vec![Reply::shell("touch allowed.marker", "I will touch a file.")],
            None,
        ) else {
            return;
        };
        let sid = open(&mut s, &sandbox);
        let p = prompt(&mut s, &sid, 0, "touch the marker");
        permit(&mut s, "allow_once");
        s.wait_response_to(&p, WAIT).expect("prompt answered");
        assert!(sandbox.work.join("allowed.marker").exists());
        done(s, &sandbox, "shell_allow");
    }

    #[test]
    #[ignore = "captures fixtures from the real gemini"]
    fn capture_acp_shell_always() {
        let script = vec![
            Reply::shell("touch always.marker", ""),
            Reply::shell("touch always.marker", "Once more."),
        ];
        let Some((sandbox, _mock, mut s)) = start("capture_acp_shell_always", script, None) else {
            return;
        };
        let sid = open(&mut s, &sandbox);
        let p = prompt(&mut s, &sid, 0, "touch the marker twice");
        permit(&mut s, "allow_always");
        s.wait_response_to(&p, WAIT).expect("prompt answered");
        done(s, &sandbox, "shell_always");
    }

    #[test]
    #[ignore = "captures fixtures from the real gemini"]
    fn capture_acp_shell_deny() {
        let Some((sandbox, mock, mut s)) = start(
            "capture_acp_shell_deny",
            vec![Reply::shell("touch denied.marker", "")],
            None,
        ) else {
            return;
        };
        let sid = open(&mut s, &sandbox);
        let p = prompt(&mut s, &sid, 0, "touch the marker");
        permit(&mut s, "reject_once");
        s.wait_response_to(&p, WAIT).expect("prompt answered");
        assert!(!sandbox.work.join("denied.marker").exists());
        // The reason goes to the model as the next prompt.
        let p = prompt(
            &mut s,
            &sid,
            1,
            "I denied that: do not touch files, just say ok.",
        );
        s.wait_response_to(&p, WAIT)
            .expect("second prompt answered");
        eprintln!(
            "[capture] stream requests: {}",
            mock.stream_requests().len()
        );
        done(s, &sandbox, "shell_deny");
    }

    #[test]
    #[ignore = "captures fixtures from the real gemini"]
    fn capture_acp_write() {
        let Some((sandbox, _mock, mut s)) = start("capture_acp_write", vec![], None) else {
            return;
        };
        let path = sandbox.work.join("notes.txt").display().to_string();
        _mock.push(Reply::Stream {
            parts: vec![Part::FunctionCall {
                name: "write_file".into(),
                args: json!({"file_path": path, "content": "hello from the mock\n"}),
            }],
            chunk_delay: Duration::from_millis(10),
        });
        let sid = open(&mut s, &sandbox);
        let p = prompt(&mut s, &sid, 0, "write notes.txt");
        permit(&mut s, "allow_once");
        s.wait_response_to(&p, WAIT).expect("prompt answered");
        assert!(sandbox.work.join("notes.txt").exists());
        done(s, &sandbox, "write");
    }

    #[test]
    #[ignore = "captures fixtures from the real gemini"]
    fn capture_acp_two_turns() {
        let script = vec![Reply::text("First answer."), Reply::text("Second answer.")];
        let Some((sandbox, _mock, mut s)) = start("capture_acp_two_turns", script, None) else {
            return;
        };
        let sid = open(&mut s, &sandbox);
        let p = prompt(&mut s, &sid, 0, "first");
        s.wait_response_to(&p, WAIT).expect("first answered");
        let p = prompt(&mut s, &sid, 1, "second");
        s.wait_response_to(&p, WAIT).expect("second answered");
        done(s, &sandbox, "two_turns");
    }

    #[test]
    #[ignore = "captures fixtures from the real gemini"]
    fn capture_acp_errors() {
        let script = vec![
            Reply::rate_limited("0.5s"),
            Reply::error(500, "mock failure"),
            Reply::error(500, "mock failure"),
            Reply::error(500, "mock failure"),
        ];
        let Some((sandbox, _mock, mut s)) = start("capture_acp_errors", script, Some(2)) else {
            return;
        };
        let sid = open(&mut s, &sandbox);
        let p = prompt(&mut s, &sid, 0, "fail please");
        s.wait_response_to(&p, Duration::from_secs(120))
            .expect("prompt answered");
        done(s, &sandbox, "errors");
    }

    #[test]
    #[ignore = "captures fixtures from the real gemini"]
    fn capture_acp_cancel() {
        let Some((sandbox, mock, mut s)) = start("capture_acp_cancel", vec![Reply::stall()], None)
        else {
            return;
        };
        let sid = open(&mut s, &sandbox);
        let p = prompt(&mut s, &sid, 0, "take forever");
        assert!(mock.wait_for_stream_requests(1, WAIT));
        s.wait_method("session/update", WAIT);
        s.send_line(&corral::agent::acp::cancel_line(&sid));
        s.wait_response_to(&p, WAIT)
            .expect("prompt answered after cancel");
        done(s, &sandbox, "cancel");
    }

    #[test]
    #[ignore = "captures fixtures from the real gemini"]
    fn capture_acp_load() {
        let script = vec![
            Reply::text("Remember the word apple."),
            Reply::text("The word was apple."),
        ];
        let Some((sandbox, mock, mut s)) = start("capture_acp_load", script, None) else {
            return;
        };
        let sid = open(&mut s, &sandbox);
        let p = prompt(&mut s, &sid, 0, "remember apple");
        s.wait_response_to(&p, WAIT).expect("answered");
        done(s, &sandbox, "load_turn1");
        let mut command = Command::new(&sandbox.agent);
        command
            .args(["--acp", "--skip-trust"])
            .current_dir(&sandbox.work)
            .env_clear()
            .envs(sandbox.gemini_env(mock.port()));
        let mut s = StdioSession::start(command);
        let opts = corral::agent::AgentOptions {
            resume: Some(sid.clone()),
            ..Default::default()
        };
        let spec = corral::agent::acp::launch_gemini(&opts, &sandbox.work, "");
        let corral::agent::StdinMode::Pipe { initial_lines } = spec.stdin else {
            panic!("ACP runs on a stdin pipe");
        };
        for line in &initial_lines {
            s.send_line(line);
        }
        s.wait_response_to(&format!("corral-session-load:{sid}"), WAIT)
            .expect("session/load answered");
        let p = prompt(&mut s, &sid, 1, "which word?");
        s.wait_response_to(&p, WAIT).expect("answered");
        done(s, &sandbox, "load_turn2");
    }
}

#[test]
fn gemini_approvals_without_a_terminal_follow_the_approve_policy_and_never_hang() {
    let Some((sandbox, mock)) = setup(
        "gemini_approve_policy",
        vec![
            Reply::shell(&format!("touch {APPROVED_MARKER}"), ""),
            Reply::text("Done."),
            Reply::shell(&format!("touch {DENIED_MARKER}"), ""),
            Reply::text("I did not run it."),
            Reply::text("Understood."),
        ],
        None,
    ) else {
        return;
    };
    let run = |args: &[&str], prompt: &str| gemini_run(&sandbox, &mock, args, prompt, RUN_LIMIT);
    // The policy's reason reaches the model as the next prompt of the
    // same session, before the run ends.
    walks::approve_policy(&sandbox, &run, &|| {
        mock.stream_requests().into_iter().any(|r| {
            r.texts_of("user")
                .last()
                .is_some_and(|t| t.contains("Denied by corral's approval policy"))
        })
    });
}
