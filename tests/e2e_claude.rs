//! End-to-end: `corral run --json` driving the REAL claude CLI against a
//! scripted Anthropic API on 127.0.0.1 (tests/support/anthropic_mock.rs).
//!
//! The mock's own tests (first module) always run. The claude tests skip
//! loudly when the real CLI is not installed (`scripts/install-agents`), or
//! fail with `CORRAL_REQUIRE_E2E=1`. Every run has a hard time limit, so a
//! hang is a failure, never a stuck CI; whatever a run leaves behind is
//! killed by the sandbox. These tests never reach beyond loopback.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::Sandbox;
use support::anthropic_mock::{MockAnthropic, Reply, tool_finished_text};
use support::http::{parse_responses, raw_exchange as raw_http};
use support::run::{self, Run, run_bounded};
use support::served;
use support::walks::{TwoTurns, assert_resumed_history};

/// Hard upper bound for one `corral run` (a real claude run takes ~1-3 s).
const RUN_LIMIT: Duration = Duration::from_secs(120);

// ---------------------------------------------------------------------------
// The mock itself, through a raw HTTP client (no claude needed).
// ---------------------------------------------------------------------------

fn post_messages(body: &Value, connection: &str) -> Vec<u8> {
    let body = body.to_string();
    format!(
        "POST /v1/messages?beta=true HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         x-api-key: dummy\r\nConnection: {connection}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn user_turn(text: &str) -> Value {
    json!({"model": "claude-opus-4-8", "stream": true, "max_tokens": 100,
           "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}]})
}

fn text_of(events: &[(String, Value)]) -> String {
    events
        .iter()
        .filter_map(|(_, d)| d.pointer("/delta/text").and_then(Value::as_str))
        .collect()
}

#[test]
fn mock_streams_scripted_text_in_several_deltas_and_records_the_request() {
    let text = "One two three four five six seven eight nine ten.";
    let mock = MockAnthropic::start(vec![Reply::text(text)]);
    let out = raw_http(
        mock.port(),
        &post_messages(&user_turn("Say hello"), "close"),
    );
    let responses = parse_responses(&out);
    assert_eq!(responses.len(), 1);
    let response = &responses[0];
    assert_eq!(response.status, 200);
    assert!(
        response
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/event-stream"))
    );
    let events = response.sse_events();
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.first(), Some(&"message_start"));
    assert_eq!(names.last(), Some(&"message_stop"));
    assert!(
        names
            .iter()
            .filter(|n| **n == "content_block_delta")
            .count()
            >= 3,
        "{names:?}"
    );
    assert_eq!(text_of(&events), text);
    let delta = events
        .iter()
        .find(|(n, _)| n == "message_delta")
        .expect("message_delta");
    assert_eq!(
        delta.1.pointer("/delta/stop_reason"),
        Some(&json!("end_turn"))
    );
    assert!(
        delta
            .1
            .pointer("/usage/output_tokens")
            .and_then(Value::as_u64)
            .unwrap_or(0)
            > 0
    );

    let recorded = mock.message_requests();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].last_user_text(), "Say hello");
    assert_eq!(recorded[0].header("X-API-KEY"), Some("dummy"));
    assert_eq!(mock.remaining(), 0);
}

#[test]
fn mock_streams_tool_use_and_echoes_the_tool_result_from_a_chunked_body() {
    let mock = MockAnthropic::start(vec![Reply::bash("echo hi", "Let me run a command.")]);
    let first = parse_responses(&raw_http(
        mock.port(),
        &post_messages(&user_turn("go"), "close"),
    ));
    let events = first[0].sse_events();
    let start = events
        .iter()
        .find(|(_, d)| d.pointer("/content_block/type") == Some(&json!("tool_use")))
        .expect("a tool_use block");
    assert_eq!(start.1.pointer("/content_block/name"), Some(&json!("Bash")));
    let tool_id = start
        .1
        .pointer("/content_block/id")
        .and_then(Value::as_str)
        .expect("tool id");
    let input_json: String = events
        .iter()
        .filter_map(|(_, d)| d.pointer("/delta/partial_json").and_then(Value::as_str))
        .collect();
    let input: Value =
        serde_json::from_str(&input_json).expect("input_json_delta parts join to JSON");
    assert_eq!(input["command"], "echo hi");
    assert!(
        events
            .iter()
            .any(|(_, d)| d.pointer("/delta/stop_reason") == Some(&json!("tool_use")))
    );

    // The second turn carries the tool result, sent with a chunked body.
    let body = json!({"model": "m", "stream": true, "messages": [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": tool_id, "name": "Bash", "input": input}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_id,
                                      "content": [{"type": "text", "text": "hi"}], "is_error": false}]},
        {"role": "system", "content": "a mid-conversation system message, as claude sends"}]})
    .to_string();
    let (a, b) = body.split_at(body.len() / 3);
    let request = format!(
        "POST /v1/messages HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
         {:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
        a.len(),
        b.len()
    );
    let second = parse_responses(&raw_http(mock.port(), request.as_bytes()));
    assert_eq!(text_of(&second[0].sse_events()), tool_finished_text("hi"));
    let recorded = mock.message_requests();
    let result = recorded[1]
        .last_tool_result()
        .expect("the mock saw the tool result");
    assert_eq!(
        (
            result.tool_use_id.as_str(),
            result.content.as_str(),
            result.is_error
        ),
        (tool_id, "hi", false)
    );
}

#[test]
fn mock_answers_errors_unknown_paths_and_head_and_keeps_connections_alive() {
    let mock = MockAnthropic::start(vec![
        Reply::rate_limited(7),
        Reply::error(500, "boom"),
        Reply::text("ok"),
    ]);
    // Three requests on one connection: 429, 500, then the text.
    let mut pipelined = post_messages(&user_turn("a"), "keep-alive");
    pipelined.extend(post_messages(&user_turn("a"), "keep-alive"));
    pipelined.extend(post_messages(&user_turn("a"), "close"));
    let responses = parse_responses(&raw_http(mock.port(), &pipelined));
    assert_eq!(
        responses.iter().map(|r| r.status).collect::<Vec<_>>(),
        [429, 500, 200]
    );
    assert_eq!(responses[0].header("retry-after"), Some("7"));
    let error: Value = serde_json::from_str(&responses[1].body).expect("error body is JSON");
    assert_eq!(error.pointer("/error/message"), Some(&json!("boom")));
    assert_eq!(text_of(&responses[2].sse_events()), "ok");

    let not_found = parse_responses(&raw_http(
        mock.port(),
        b"GET /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ));
    assert_eq!(not_found[0].status, 404);
    let head = raw_http(
        mock.port(),
        b"HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.ends_with("\r\n\r\n"),
        "HEAD must not carry a body: {head:?}"
    );
    let paths: Vec<String> = mock.requests().iter().map(|r| r.path.clone()).collect();
    assert!(paths.contains(&"/v1/models".to_string()), "{paths:?}");
}

#[test]
fn mock_stops_when_dropped_even_while_a_stream_stalls() {
    let mock = MockAnthropic::start(vec![Reply::stall()]);
    let port = mock.port();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .write_all(&post_messages(&user_turn("hang"), "keep-alive"))
        .expect("send");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut first = [0u8; 512];
    let n = stream.read(&mut first).expect("the stream starts");
    assert!(String::from_utf8_lossy(&first[..n]).starts_with("HTTP/1.1 200"));
    assert!(mock.wait_for_message_requests(1, Duration::from_secs(5)));

    let dropped = Instant::now();
    drop(mock);
    assert!(
        dropped.elapsed() < Duration::from_secs(3),
        "drop took {:?}",
        dropped.elapsed()
    );
    // The stalled stream is closed, and nobody listens any more.
    let mut rest = Vec::new();
    stream
        .read_to_end(&mut rest)
        .expect("the stalled stream ends");
    assert!(!String::from_utf8_lossy(&rest).contains("message_stop"));
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
}

// ---------------------------------------------------------------------------
// corral run --json with the real claude.
// ---------------------------------------------------------------------------

/// What the mock saw, for a failure message.
fn mock_saw(mock: &MockAnthropic) -> String {
    format!(
        "mock saw {} message requests",
        mock.message_requests().len()
    )
}

/// Runs `corral run --json --cwd WORK ARGS -- PROMPT` with the sandbox's
/// environment (and nothing else) against `mock`, within `limit`.
fn corral_run(
    sandbox: &Sandbox,
    mock: &MockAnthropic,
    args: &[&str],
    prompt: &str,
    limit: Duration,
) -> Run {
    let env = sandbox.env(mock.port());
    run::corral_run(sandbox, env, args, prompt, limit, &|| mock_saw(mock))
}

/// Starts the mock and the sandbox, or skips (see `support::claude_or_skip`).
fn setup(test: &str, script: Vec<Reply>) -> Option<(Sandbox, MockAnthropic)> {
    let claude = support::claude_or_skip(test)?;
    Some((Sandbox::new(&claude), MockAnthropic::start(script)))
}

/// The mock against the real claude alone (no corral): what the corral
/// tests build on. Also shows the CLI's output format has not moved.
#[test]
fn real_claude_runs_a_tool_against_the_mock_and_sends_back_its_result() {
    let Some((sandbox, mock)) = setup(
        "real_claude_against_the_mock",
        vec![Reply::bash("echo hi", "Let me run a command.")],
    ) else {
        return;
    };
    let mut cmd = sandbox.claude_command(mock.port());
    cmd.args([
        "-p",
        "Run echo hi",
        "--output-format",
        "stream-json",
        "--verbose",
    ]);
    let out = run_bounded(cmd, &sandbox, RUN_LIMIT, &|| mock_saw(&mock));
    let dump = format!("exit {:?}\n{}\n{}", out.code, out.stdout, out.stderr);
    assert_eq!(out.code, Some(0), "{dump}");
    let last: Value = out
        .stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .expect("claude printed JSON lines");
    assert_eq!(last["type"], "result", "{dump}");
    assert_eq!(last["is_error"], false, "{dump}");
    assert_eq!(last["result"], tool_finished_text("hi").as_str(), "{dump}");
    assert!(
        last["total_cost_usd"].as_f64().is_some_and(|c| c > 0.0),
        "{dump}"
    );
    let requests = mock.message_requests();
    assert_eq!(requests.len(), 2, "{dump}");
    assert_eq!(requests[0].body["stream"], true);
    assert!(requests[0].last_user_text().contains("Run echo hi"));
    let seen = requests[1]
        .last_tool_result()
        .expect("the tool result reached the model");
    assert_eq!((seen.content.trim(), seen.is_error), ("hi", false));
}

#[test]
fn claude_text_answer_streams_text_session_usage_and_succeeds() {
    let answer =
        "Corral end-to-end check: this answer arrives in several chunks and is joined again.";
    let prompt = "Say hello in a few words.";
    let Some((sandbox, mock)) = setup("claude_text_answer", vec![Reply::text(answer)]) else {
        return;
    };
    let run = corral_run(&sandbox, &mock, &[], prompt, RUN_LIMIT);

    assert_eq!(run.code, Some(0), "{}", run.dump());
    assert_eq!(run.text(), answer, "{}", run.dump());
    let sessions = run.of_type("session");
    assert_eq!(sessions.len(), 1, "{}", run.dump());
    assert_eq!(sessions[0]["agent"], "claude");
    let session_id = sessions[0]["session_id"].as_str().unwrap_or_default();
    assert!(!session_id.is_empty(), "{}", run.dump());
    assert!(
        run.of_type("usage")
            .iter()
            .any(|u| u["cost_usd"].as_f64().is_some_and(|c| c > 0.0)),
        "a usage event with a cost\n{}",
        run.dump()
    );

    let finished = run.finished();
    assert_eq!(finished["status"], "succeeded", "{}", run.dump());
    assert_eq!(finished["exit_code"], 0);
    assert_eq!(finished["result"], answer);
    assert_eq!(finished["session_id"], session_id);
    assert!(finished["duration_ms"].is_u64());
    assert!(
        finished["usage"]["input_tokens"].as_u64().unwrap_or(0) > 0,
        "{}",
        run.dump()
    );
    assert!(
        finished["usage"]["output_tokens"].as_u64().unwrap_or(0) > 0,
        "{}",
        run.dump()
    );
    assert!(
        finished["usage"]["cost_usd"].as_f64().unwrap_or(0.0) > 0.0,
        "{}",
        run.dump()
    );

    let requests = mock.message_requests();
    assert_eq!(requests.len(), 1, "one model call");
    assert!(requests[0].last_user_text().contains(prompt));
}

#[test]
fn claude_tool_call_runs_and_its_result_reaches_the_model() {
    let Some((sandbox, mock)) = setup(
        "claude_tool_call",
        vec![Reply::bash("echo hi", "Let me run a command.")],
    ) else {
        return;
    };
    let run = corral_run(
        &sandbox,
        &mock,
        &[],
        "Run `echo hi` and tell me what it printed.",
        RUN_LIMIT,
    );

    assert_eq!(run.code, Some(0), "{}", run.dump());
    let calls = run.of_type("tool_call");
    assert_eq!(calls.len(), 1, "{}", run.dump());
    assert_eq!(calls[0]["name"], "Bash");
    assert_eq!(calls[0]["input"]["command"], "echo hi");
    let results = run.of_type("tool_result");
    assert_eq!(results.len(), 1, "{}", run.dump());
    assert_eq!(results[0]["id"], calls[0]["id"]);
    assert_eq!(results[0]["output"].as_str().map(str::trim), Some("hi"));
    assert_eq!(results[0]["is_error"], false);

    run.assert_tool_then_answer("Let me run a command.", "hi");
    let final_text = tool_finished_text("hi");
    assert!(run.text().ends_with(&final_text), "{}", run.dump());
    assert_eq!(run.finished()["result"], final_text.as_str());

    let requests = mock.message_requests();
    assert_eq!(requests.len(), 2, "the tool result goes back to the model");
    let seen = requests[1]
        .last_tool_result()
        .expect("a tool_result in the second call");
    assert_eq!(seen.content.trim(), "hi");
    assert!(!seen.is_error);
}

const MARKER: &str = "corral-e2e-marker.txt";

fn touch_script() -> Vec<Reply> {
    vec![Reply::bash(
        &format!("touch {MARKER} && echo created"),
        "Let me create a marker file.",
    )]
}

/// The approval question for the touch and corral's answer to it.
fn approval_and_answer(run: &Run) -> (&Value, &Value) {
    let questions = run.of_type("question");
    assert_eq!(questions.len(), 1, "one approval question\n{}", run.dump());
    let question = questions[0];
    assert_eq!(question["kind"], "approval", "{}", run.dump());
    assert_eq!(question["tool"], "Bash");
    assert!(
        question["input"]["command"]
            .as_str()
            .is_some_and(|c| c.contains("touch"))
    );
    let answers = run.of_type("answered");
    assert_eq!(answers.len(), 1, "{}", run.dump());
    assert_eq!(answers[0]["id"], question["id"]);
    assert_eq!(answers[0]["by"], "policy");
    (question, answers[0])
}

#[test]
fn claude_approval_is_denied_by_default_and_the_run_still_ends() {
    let Some((sandbox, mock)) = setup("claude_approval_denied", touch_script()) else {
        return;
    };
    let run = corral_run(
        &sandbox,
        &mock,
        &["--permission-mode", "default"],
        "Create the marker file.",
        RUN_LIMIT,
    );

    let (_, answer) = approval_and_answer(&run);
    assert_eq!(answer["decision"], "deny", "{}", run.dump());
    assert!(
        !sandbox.work.join(MARKER).exists(),
        "a denied touch must not run"
    );
    run.assert_exit_matches_status();
    let requests = mock.message_requests();
    assert_eq!(
        requests.len(),
        2,
        "claude goes on after the denial\n{}",
        run.dump()
    );
    let seen = requests[1]
        .last_tool_result()
        .expect("the denial reaches the model");
    assert!(
        seen.is_error,
        "the model is told the tool did not run: {seen:?}"
    );
}

#[test]
fn claude_approval_allowed_by_policy_runs_the_tool() {
    let Some((sandbox, mock)) = setup("claude_approval_allowed", touch_script()) else {
        return;
    };
    let run = corral_run(
        &sandbox,
        &mock,
        &["--permission-mode", "default", "--approve", "allow"],
        "Create the marker file.",
        RUN_LIMIT,
    );

    let (_, answer) = approval_and_answer(&run);
    assert_eq!(answer["decision"], "allow", "{}", run.dump());
    assert!(
        sandbox.work.join(MARKER).exists(),
        "an allowed touch runs\n{}",
        run.dump()
    );
    let results = run.of_type("tool_result");
    assert!(
        results
            .iter()
            .any(|r| r["output"].as_str().is_some_and(|o| o.contains("created")))
    );
    assert_eq!(run.finished()["status"], "succeeded", "{}", run.dump());
    assert_eq!(run.code, Some(0));
    let seen = mock.message_requests()[1]
        .last_tool_result()
        .expect("a tool result");
    assert_eq!((seen.content.trim(), seen.is_error), ("created", false));
}

#[test]
fn claude_refusing_bypass_permissions_as_root_fails_with_its_own_message() {
    if !support::running_as_root() {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: claude_refusing_bypass_permissions_as_root needs root (claude refuses only then)"
        );
        return;
    }
    let Some((sandbox, mock)) = setup("claude_bypass_as_root", Vec::new()) else {
        return;
    };
    let run = corral_run(
        &sandbox,
        &mock,
        &["--permission-mode", "bypassPermissions"],
        "Do anything.",
        RUN_LIMIT,
    );

    assert_eq!(run.code, Some(1), "{}", run.dump());
    let finished = run.finished();
    assert_eq!(finished["status"], "failed", "{}", run.dump());
    let mut told = finished["reason"].as_str().unwrap_or_default().to_string();
    for error in run.of_type("error") {
        told.push_str(error["message"].as_str().unwrap_or_default());
    }
    assert!(
        told.contains("root/sudo"),
        "claude's own root/sudo message must reach the user\n{}",
        run.dump()
    );
    assert!(
        mock.message_requests().is_empty(),
        "claude refuses before calling the model"
    );
}

#[test]
fn claude_stalled_by_the_model_is_timed_out_and_nothing_is_left_behind() {
    let Some((sandbox, mock)) = setup("claude_timeout", vec![Reply::stall()]) else {
        return;
    };
    let run = corral_run(
        &sandbox,
        &mock,
        &["--timeout", "3"],
        "Say something.",
        Duration::from_secs(60),
    );

    assert!(
        run.elapsed < Duration::from_secs(20),
        "a 3 s timeout took {:?}\n{}",
        run.elapsed,
        run.dump()
    );
    assert!(
        run.elapsed >= Duration::from_secs(3),
        "ended before its timeout\n{}",
        run.dump()
    );
    assert_eq!(run.code, Some(1), "{}", run.dump());
    assert_eq!(run.finished()["status"], "timed_out", "{}", run.dump());
    let left = sandbox.wait_no_leftovers(Duration::from_secs(3));
    assert!(
        left.is_empty(),
        "processes left behind after the timeout: {left:?}"
    );
}

/// `(pid, process group)` of the sandbox's processes whose command line
/// holds `needle`.
fn sandbox_procs_with(sandbox: &Sandbox, needle: &str) -> Vec<(i32, i32)> {
    sandbox
        .leftover_processes()
        .into_iter()
        .filter(|(_, cmdline)| cmdline.contains(needle))
        .filter_map(|(pid, _)| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let rest = &stat[stat.rfind(')')? + 1..];
            let pgrp = rest.split_whitespace().nth(2)?.parse().ok()?;
            Some((pid, pgrp))
        })
        .collect()
}

/// Claude Code runs each Bash command in a new session, out of the
/// process group corral kills. After `kill -9` of corral in the middle of a
/// long Bash command, nothing of the tool tree (nor claude) is left 2 s
/// later, before any other corral command runs.
#[test]
fn kill_9_of_corral_during_a_long_bash_command_leaves_nothing_of_the_tool_tree() {
    const LONG: &str = "sleep 3117";
    let Some((sandbox, mock)) = setup(
        "claude_kill9_bash_tree",
        vec![Reply::bash(
            // claude-code 2.1.332 blocks a command that starts with a long
            // `sleep` ("To wait for a condition, use Monitor ..."); 2.1.197
            // runs either.
            &format!("echo waiting; {LONG}; echo done"),
            "Let me run a long command.",
        )],
    ) else {
        return;
    };
    let mut corral = Command::new(assert_cmd::cargo::cargo_bin("corral"));
    corral
        .env_clear()
        .envs(sandbox.env(mock.port()))
        .current_dir(&sandbox.work)
        .args(["run", "--json", "--cwd"])
        .arg(&sandbox.work)
        .args(["--permission-mode", "default", "--approve", "allow"])
        .args(["--", "Run the long command."])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut corral = corral.spawn().expect("corral run starts");
    let deadline = Instant::now() + RUN_LIMIT;
    let tool = loop {
        let found = sandbox_procs_with(&sandbox, LONG);
        if !found.is_empty() {
            break found;
        }
        if Instant::now() > deadline || corral.try_wait().ok().flatten().is_some() {
            let _ = corral.kill();
            panic!(
                "the Bash tool never ran `{LONG}`; left: {:?}",
                sandbox.leftover_processes()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let claude_groups: Vec<i32> = sandbox_procs_with(&sandbox, "claude")
        .into_iter()
        .filter(|process| !tool.contains(process))
        .map(|(_, pgrp)| pgrp)
        .collect();
    assert!(!claude_groups.is_empty(), "claude runs");
    assert!(
        tool.iter().all(|(_, pgrp)| !claude_groups.contains(pgrp)),
        "the tool runs outside claude's group: {tool:?} vs {claude_groups:?}"
    );
    corral.kill().expect("kill -9 of corral");
    let _ = corral.wait();
    // No other corral command runs before the check.
    std::thread::sleep(Duration::from_secs(2));
    let left = sandbox.leftover_processes();
    assert!(left.is_empty(), "alive 2 s after kill -9: {left:?}");
}

// ---------------------------------------------------------------------------
// The corral server with the real claude: idle sessions (issue 16).
// ---------------------------------------------------------------------------

/// A live claude session of the server, idle past `idle_session_close`, is
/// closed (its process gone, the task not running, the log says so); the
/// next `corral send` resumes it from its session id, and the model's
/// request carries the earlier turn: the user's first message and the
/// assistant's first answer.
#[test]
fn an_idle_closed_claude_session_resumes_on_the_next_message_with_its_history() {
    let turns = TwoTurns {
        first_prompt: "Remember the word heliotrope for later.",
        first_answer: "Noted: the word to remember is heliotrope.",
        second_prompt: "Which word did I ask you to remember?",
        second_answer: "You asked me to remember heliotrope.",
    };
    let Some((sandbox, mock)) = setup(
        "claude_idle_close_resume",
        vec![
            Reply::text(turns.first_answer),
            Reply::text(turns.second_answer),
        ],
    ) else {
        return;
    };
    let saw = || mock_saw(&mock);
    served::idle_close_and_resume(
        &sandbox,
        sandbox.env(mock.port()),
        &saw,
        &[],
        "stream-json",
        &turns,
    );

    let requests = mock.message_requests();
    assert_eq!(requests.len(), 2, "one model call per turn");
    let history = &requests[1];
    assert_resumed_history(
        &history.texts_of("user"),
        &history.texts_of("assistant"),
        &turns,
    );
}
