//! End-to-end: `corral run --agent codex --json` driving the REAL codex CLI
//! against a scripted OpenAI Responses API on 127.0.0.1
//! (tests/support/responses_mock.rs).
//!
//! The mock's own tests (first section) always run. The codex tests skip
//! loudly when the real CLI is not installed (`scripts/install-agents`), or
//! fail with `CORRAL_REQUIRE_E2E=1`. Every run has a hard time limit, so a
//! hang is a failure, never a stuck CI; whatever a run leaves behind is
//! killed by the sandbox. The mock is also codex's HTTP proxy and refuses
//! everything, so these tests never reach beyond loopback.

#[path = "e2e_codex/idle.rs"]
mod idle;
mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::Sandbox;
use support::http::{post_json, raw_exchange};
use support::responses_mock::{
    self, DEFAULT_TEXT, INPUT_TOKENS, MockResponses, Reply, SHELL_TOOL, adder_config,
};
use support::run::{Run, agent_run};
use support::walks::{self, APPROVED_MARKER, CODEWORD, DENIED_MARKER, assert_resumed_history};

/// Hard upper bound for one `corral run` (a real codex run takes ~1 s).
const RUN_LIMIT: Duration = Duration::from_secs(120);

// ---------------------------------------------------------------------------
// The mock itself, through a raw HTTP client (no codex needed).
// ---------------------------------------------------------------------------

fn turn(input: Value) -> Value {
    json!({"model": "gpt-5.5", "stream": true, "input": input})
}

fn user(text: &str) -> Value {
    json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]})
}

/// (event name, data) of every SSE event of a body.
fn events(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|event| {
            let mut name = String::new();
            let mut data = Value::Null;
            for line in event.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = n.to_string();
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data = serde_json::from_str(d).expect("SSE data is JSON");
                }
            }
            (name, data)
        })
        .collect()
}

#[test]
fn mock_streams_text_deltas_items_and_usage_and_records_the_request() {
    let text = "One two three four five six seven.";
    let mock = MockResponses::start(vec![Reply::text(text)]);
    let response = post_json(mock.port(), "/v1/responses", &turn(json!([user("Say hi")])));
    assert_eq!(response.status, 200);
    assert!(
        response
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/event-stream"))
    );
    let events = events(&response.body);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.first(), Some(&"response.created"));
    assert_eq!(names.last(), Some(&"response.completed"));
    for (name, data) in &events {
        assert_eq!(
            data["type"],
            name.as_str(),
            "data.type repeats the event name"
        );
    }
    let deltas: Vec<&str> = events
        .iter()
        .filter(|(n, _)| n == "response.output_text.delta")
        .filter_map(|(_, d)| d["delta"].as_str())
        .collect();
    assert!(deltas.len() >= 3, "{deltas:?}");
    assert_eq!(deltas.concat(), text);
    let done = events
        .iter()
        .find(|(n, _)| n == "response.output_item.done")
        .expect("an output item");
    assert_eq!(done.1["item"]["content"][0]["text"], text);
    let usage = &events.last().expect("events").1["response"]["usage"];
    assert_eq!(usage["input_tokens"], INPUT_TOKENS);
    assert!(usage["output_tokens"].as_u64().unwrap_or(0) > 0);

    let recorded = mock.model_requests();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].last_user_text(), "Say hi");
    assert_eq!(mock.remaining(), 0);
}

#[test]
fn mock_calls_the_shell_tool_then_echoes_its_output_by_default() {
    let mock = MockResponses::start(vec![Reply::shell("echo hi", "Let me run it.")]);
    let first = post_json(mock.port(), "/v1/responses", &turn(json!([user("go")])));
    let call = events(&first.body)
        .into_iter()
        .filter(|(n, _)| n == "response.output_item.done")
        .map(|(_, d)| d["item"].clone())
        .find(|item| item["type"] == "function_call")
        .expect("a function_call item");
    assert_eq!(call["name"], SHELL_TOOL);
    let args: Value = serde_json::from_str(call["arguments"].as_str().expect("arguments string"))
        .expect("arguments are JSON text");
    assert_eq!(args["cmd"], "echo hi");
    let call_id = call["call_id"].as_str().expect("call_id");

    let second = post_json(
        mock.port(),
        "/v1/responses",
        &turn(json!([user("go"), call,
                     {"type": "function_call_output", "call_id": call_id, "output": "hi\n"}])),
    );
    let text: String = events(&second.body)
        .iter()
        .filter_map(|(_, d)| d["delta"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        text,
        support::responses_mock::tool_finished_text("hi\n"),
        "the default rule answers a tool output"
    );
    let outputs = mock.model_requests()[1].function_call_outputs();
    assert_eq!(outputs, [(call_id.to_string(), "hi\n".to_string())]);
}

#[test]
fn mock_answers_errors_refuses_proxying_and_stops_while_stalled() {
    let mock = MockResponses::start(vec![
        Reply::rate_limited(3),
        Reply::error(500, "boom"),
        Reply::stall(),
    ]);
    let limited = post_json(mock.port(), "/v1/responses", &turn(json!([])));
    assert_eq!(limited.status, 429);
    assert_eq!(limited.header("retry-after"), Some("3"));
    let failed = post_json(mock.port(), "/v1/responses", &turn(json!([])));
    assert_eq!(failed.status, 500);
    assert_eq!(failed.json()["error"]["message"], "boom");
    let elsewhere = post_json(mock.port(), "/v1/models", &json!({}));
    assert_eq!(elsewhere.status, 404);

    let refused = raw_exchange(
        mock.port(),
        b"CONNECT github.com:443 HTTP/1.1\r\nHost: github.com:443\r\n\r\n",
    );
    assert!(String::from_utf8_lossy(&refused).starts_with("HTTP/1.1 403"));
    assert_eq!(mock.proxy_attempts(), ["github.com:443"]);

    // A stalled stream ends when the mock is dropped, and quickly.
    let port = mock.port();
    let client =
        std::thread::spawn(move || post_json(port, "/v1/responses", &turn(json!([]))).body);
    assert!(mock.wait_for_model_requests(3, Duration::from_secs(5)));
    let dropped = Instant::now();
    drop(mock);
    assert!(dropped.elapsed() < Duration::from_secs(3));
    let body = client.join().expect("the client thread");
    assert!(body.contains("response.created"));
    assert!(!body.contains("response.completed"));
}

// ---------------------------------------------------------------------------
// corral run --agent codex --json with the real codex.
// ---------------------------------------------------------------------------

/// A sandbox with `config.toml` pointing codex at `mock`, or a loud skip.
fn setup(
    test: &str,
    script: Vec<Reply>,
    provider: &[(&str, &str)],
) -> Option<(Sandbox, MockResponses)> {
    let codex = support::codex_or_skip(test)?;
    let sandbox = Sandbox::for_agent("codex", &codex);
    let mock = MockResponses::start(script);
    sandbox.write_codex_config(mock.port(), provider);
    Some((sandbox, mock))
}

/// `corral run --agent codex --json ARGS -- PROMPT` against `mock`.
fn codex_run(
    sandbox: &Sandbox,
    mock: &MockResponses,
    args: &[&str],
    prompt: &str,
    limit: Duration,
) -> Run {
    let saw = || {
        format!(
            "the mock saw {} model requests",
            mock.model_requests().len()
        )
    };
    agent_run(
        sandbox,
        "codex",
        sandbox.codex_env(mock.port()),
        args,
        prompt,
        limit,
        &saw,
    )
}

/// The model finds the adder's tools, calls `add {a:2, b:3}`, answers.
fn adder_script() -> Vec<Reply> {
    responses_mock::adder_script(json!({"a": 2, "b": 3}), "The sum is 5.")
}

#[test]
fn codex_text_answer_gives_text_session_usage_and_succeeds() {
    let answer = "Corral end-to-end check for codex: several chunks, joined again.";
    let prompt = "Say hello in a few words.";
    let Some((sandbox, mock)) = setup("codex_text_answer", vec![Reply::text(answer)], &[]) else {
        return;
    };
    let run = codex_run(&sandbox, &mock, &[], prompt, RUN_LIMIT);

    assert_eq!(run.code, Some(0), "{}", run.dump());
    assert_eq!(run.text(), answer, "{}", run.dump());
    let session_id = run.session_id();
    assert_eq!(run.of_type("session")[0]["agent"], "codex");
    let usage = run.of_type("usage");
    assert_eq!(usage.len(), 1, "{}", run.dump());
    assert_eq!(usage[0]["input_tokens"], INPUT_TOKENS, "{}", run.dump());
    assert!(usage[0]["output_tokens"].as_u64().unwrap_or(0) > 0);
    assert!(usage[0].get("cost_usd").is_none(), "codex reports no cost");

    let finished = run.finished();
    assert_eq!(finished["status"], "succeeded", "{}", run.dump());
    assert_eq!(finished["exit_code"], 0);
    assert_eq!(finished["result"], answer);
    assert_eq!(finished["session_id"], session_id.as_str());
    assert_eq!(finished["usage"]["input_tokens"], INPUT_TOKENS);

    let requests = mock.model_requests();
    assert_eq!(requests.len(), 1, "one model call\n{}", run.dump());
    assert_eq!(requests[0].body["stream"], true);
    // corral appends its question-file instructions to the prompt.
    assert!(
        requests[0].last_user_text().starts_with(prompt),
        "{:?}",
        requests[0].last_user_text()
    );
}

#[test]
fn codex_shell_tool_runs_echo_hi_and_its_output_reaches_the_model() {
    let Some((sandbox, mock)) = setup(
        "codex_tool_call",
        vec![Reply::shell("echo hi", "Let me run a command.")],
        &[],
    ) else {
        return;
    };
    let run = codex_run(
        &sandbox,
        &mock,
        &["--permission-mode", "bypassPermissions"],
        "Run `echo hi` and tell me what it printed.",
        RUN_LIMIT,
    );

    assert_eq!(run.code, Some(0), "{}", run.dump());
    let calls = run.of_type("tool_call");
    assert_eq!(calls.len(), 1, "{}", run.dump());
    assert_eq!(calls[0]["name"], "shell");
    assert!(
        calls[0]["input"]["command"]
            .as_str()
            .is_some_and(|c| c.contains("echo hi")),
        "{}",
        run.dump()
    );
    let results = run.of_type("tool_result");
    assert_eq!(results.len(), 1, "{}", run.dump());
    assert_eq!(results[0]["id"], calls[0]["id"]);
    assert_eq!(results[0]["output"].as_str().map(str::trim), Some("hi"));
    assert_eq!(results[0]["is_error"], false);

    run.assert_tool_then_answer("Let me run a command.", "hi");

    let requests = mock.model_requests();
    assert_eq!(requests.len(), 2, "the tool output goes back to the model");
    let outputs = requests[1].function_call_outputs();
    assert_eq!(outputs.len(), 1, "{outputs:?}");
    assert!(
        outputs[0].1.lines().any(|l| l.trim() == "hi"),
        "the model saw the command's output: {outputs:?}"
    );
}

#[test]
fn codex_api_errors_are_retried_then_the_run_fails() {
    // One 429, then 500s; codex reconnects twice (stream_max_retries = 2,
    // no request-level retries), then gives up.
    let mut script = vec![Reply::rate_limited(0)];
    script.extend(std::iter::repeat_n(Reply::error(500, "mock overload"), 6));
    let Some((sandbox, mock)) = setup(
        "codex_errors",
        script,
        &[("request_max_retries", "0"), ("stream_max_retries", "2")],
    ) else {
        return;
    };
    let run = codex_run(&sandbox, &mock, &[], "Say hello.", RUN_LIMIT);

    let retries = run.of_type("retry");
    let attempts: Vec<(u64, u64)> = retries
        .iter()
        .map(|r| {
            (
                r["attempt"].as_u64().unwrap_or(0),
                r["max_attempts"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(attempts, [(1, 2), (2, 2)], "{}", run.dump());
    assert_eq!(retries[0]["status"], 429, "{}", run.dump());
    assert!(!run.of_type("error").is_empty(), "{}", run.dump());
    let finished = run.finished();
    assert_eq!(finished["status"], "failed", "{}", run.dump());
    assert_eq!(run.code, Some(1), "{}", run.dump());
    assert!(
        run.of_type("turn_end")
            .iter()
            .any(|t| t["is_error"] == true),
        "{}",
        run.dump()
    );
    assert_eq!(
        mock.model_requests().len(),
        3,
        "one call and two reconnects"
    );
    assert!(run.text().is_empty(), "{}", run.dump());
}

#[test]
fn codex_stalled_by_the_model_is_timed_out_and_nothing_is_left_behind() {
    let Some((sandbox, mock)) = setup("codex_timeout", vec![Reply::stall()], &[]) else {
        return;
    };
    let run = |args: &[&str], prompt: &str| {
        codex_run(&sandbox, &mock, args, prompt, Duration::from_secs(60))
    };
    walks::timed_out(&sandbox, &run, 3, Duration::from_secs(17), &|| {
        mock.model_requests().len()
    });
}

#[test]
fn codex_resume_keeps_the_thread_and_sends_the_history() {
    let turns = CODEWORD;
    let Some((sandbox, mock)) = setup(
        "codex_resume",
        vec![
            Reply::text(turns.first_answer),
            Reply::text(turns.second_answer),
        ],
        &[],
    ) else {
        return;
    };
    let run = |args: &[&str], prompt: &str| codex_run(&sandbox, &mock, args, prompt, RUN_LIMIT);
    walks::resume(&run, &turns);

    let requests = mock.model_requests();
    assert_eq!(requests.len(), 2);
    let history = &requests[1];
    assert_resumed_history(
        &history.texts_of("user"),
        &history.texts_of("assistant"),
        &turns,
    );
    assert!(history.input().len() > requests[0].input().len());
    assert_ne!(turns.second_answer, DEFAULT_TEXT);
}

// ---------------------------------------------------------------------------
// Capturing `codex app-server` transcripts (run by hand, writes fixtures):
// `cargo test --test e2e_codex capture_app_server -- --ignored --test-threads 1`.
// ---------------------------------------------------------------------------

#[path = "e2e_codex/capture_app_server.rs"]
mod capture_app_server;

/// Without a terminal, codex's approval requests are answered by
/// `--approve`: `allow` runs the command; `deny` does not, and the
/// policy's reason reaches the model as the next turn of the same thread;
/// no `--approve` at all denies (nobody is there to ask) and never hangs.
#[test]
fn codex_approvals_without_a_terminal_follow_the_approve_policy_and_never_hang() {
    let Some((sandbox, mock)) = setup(
        "codex_approve_policy",
        vec![
            Reply::shell(&format!("touch {APPROVED_MARKER}"), ""),
            Reply::text("Done."),
            Reply::shell(&format!("touch {DENIED_MARKER}"), ""),
            Reply::text("I did not run it."),
            Reply::text("Understood."),
            Reply::shell("touch unasked.marker", ""),
            Reply::text("Not run."),
            Reply::text("Understood."),
        ],
        &[],
    ) else {
        return;
    };
    let run = |args: &[&str], prompt: &str| codex_run(&sandbox, &mock, args, prompt, RUN_LIMIT);
    walks::approve_policy(&sandbox, &run, &|| {
        mock.model_requests().into_iter().any(|r| {
            r.last_user_text()
                .contains("Denied by corral's approval policy")
        })
    });

    // The default permission mode asks before a `touch`: with nobody at the
    // terminal and no --approve, the answer is no.
    let run = codex_run(&sandbox, &mock, &[], "touch a third", RUN_LIMIT);
    assert_eq!(run.code, Some(0), "{}", run.dump());
    assert!(!sandbox.work.join("unasked.marker").exists());
    walks::assert_answered_by_policy(&run, "deny");
}

/// codex's plan (its `update_plan` tool, `turn/plan/updated` over the app
/// server) is shown as a plan with its steps and their states.
#[test]
fn codex_plan_reaches_the_transcript_as_a_plan() {
    let plan = Reply::plan(
        "Two steps.",
        &[
            ("Read the code", "completed"),
            ("Write the fix", "in_progress"),
        ],
    );
    let Some((sandbox, mock)) = setup("codex_plan", vec![plan, Reply::text("Planned.")], &[])
    else {
        return;
    };
    // codex offers `update_plan` only when told to.
    let config = sandbox.config_dir.join("config.toml");
    let mut toml = std::fs::read_to_string(&config).expect("the codex config");
    toml.push_str("\n[tools.update_plan]\nenabled = true\n");
    std::fs::write(&config, toml).expect("write the codex config");
    let run = codex_run(&sandbox, &mock, &[], "Plan it.", RUN_LIMIT);
    assert_eq!(run.code, Some(0), "{}", run.dump());
    let plans = run.of_type("plan");
    let last = plans
        .last()
        .unwrap_or_else(|| panic!("no plan\n{}", run.dump()));
    let steps: Vec<(String, String)> = last["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| {
            (
                i["text"].as_str().unwrap_or_default().to_string(),
                i["status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let want = [
        ("Read the code", "completed"),
        ("Write the fix", "in_progress"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(t, s)| (t.to_string(), s.to_string()))
        .collect();
    assert_eq!(steps, want, "{}", run.dump());
    assert_eq!(run.text(), "Planned.", "{}", run.dump());
}

/// An MCP tool call through corral (codex's default app-server protocol):
/// the run names the server and the tool with its arguments, codex's
/// question before the call is an approval of `mcp__adder__add` that
/// `--approve` answers, and the tool's result (or the refusal) follows.
#[test]
fn codex_mcp_tool_call_names_server_and_tool_and_its_approval_is_answered() {
    let mut script = adder_script();
    script.extend([
        Reply::tool_search("add numbers"),
        Reply::mcp_call("adder", "add", &json!({"a": 2, "b": 3})),
        Reply::text("I was not allowed to add."),
    ]);
    let Some((sandbox, mock)) = setup("codex_mcp", script, &[]) else {
        return;
    };
    let config = sandbox.config_dir.join("config.toml");
    let mut toml = std::fs::read_to_string(&config).expect("the codex config");
    toml.push_str(&adder_config());
    std::fs::write(&config, toml).expect("write the codex config");

    let run = codex_run(
        &sandbox,
        &mock,
        &["--approve", "allow"],
        "Add 2 and 3 with the adder tool.",
        RUN_LIMIT,
    );
    assert_eq!(run.code, Some(0), "{}", run.dump());
    let calls = run.of_type("mcp_call");
    assert_eq!(calls.len(), 1, "{}", run.dump());
    assert_eq!(calls[0]["server"], "adder");
    assert_eq!(calls[0]["tool"], "add");
    assert_eq!(calls[0]["input"], json!({"a": 2, "b": 3}));
    let questions = run.of_type("question");
    assert_eq!(questions.len(), 1, "{}", run.dump());
    assert_eq!(questions[0]["tool"], "mcp__adder__add", "{}", run.dump());
    assert_eq!(questions[0]["tool_use_id"], calls[0]["id"]);
    assert!(
        run.of_type("answered")
            .iter()
            .any(|a| a["decision"] == "allow" && a["by"] == "policy"),
        "{}",
        run.dump()
    );
    let result = run
        .of_type("tool_result")
        .into_iter()
        .find(|r| r["id"] == calls[0]["id"])
        .cloned()
        .unwrap_or_else(|| panic!("no result of the call\n{}", run.dump()));
    assert_eq!(result["output"], "5", "{}", run.dump());
    assert_eq!(result["is_error"], false);
    assert!(
        mock.model_requests()
            .iter()
            .any(|r| r.trailing_tool_output().is_some_and(|o| o.contains('5'))),
        "the tool's output reached the model"
    );
    assert_eq!(run.finished()["status"], "succeeded", "{}", run.dump());

    // What a person reads (no --json): the call and its approval name the
    // server and the tool as claude's do; the refusal follows.
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("corral"));
    cmd.env_clear()
        .envs(sandbox.codex_env(mock.port()))
        .current_dir(&sandbox.work)
        .args(["run", "--agent", "codex", "--approve", "deny", "--"])
        .arg("Add 2 and 3 with the adder tool.");
    let run = support::run::run_bounded(cmd, &sandbox, RUN_LIMIT, &String::new);
    let shown = format!("{}\n--- stderr ---\n{}", run.stdout, run.stderr);
    assert_eq!(run.code, Some(0), "{shown}");
    for line in [
        "→ adder › add {\"a\":2,\"b\":3}",
        "? adder › add wants to run: {\"a\":2,\"b\":3}",
        "denied by policy",
        "user rejected MCP tool call",
    ] {
        assert!(run.stdout.contains(line), "{line:?} not shown\n{shown}");
    }
    assert!(
        mock.model_requests().into_iter().any(|r| r
            .last_user_text()
            .contains("Denied by corral's approval policy")),
        "the policy's reason reached the model\n{shown}"
    );
}

/// A web search codex's model API ran (its `webSearch` item over the app
/// server) reaches the run with its query, once, and the answer follows.
#[test]
fn codex_web_search_reaches_the_run_with_its_query() {
    use support::responses_mock::Item;
    let search = Reply::Stream {
        parts: vec![
            Item::Whole(json!({
                "type": "web_search_call", "id": "ws_mock_e2e", "status": "completed",
                "action": {"type": "search", "query": "ratatui release notes"}})),
            Item::Text("Found the release notes.".into()),
        ],
        chunk_delay: Duration::from_millis(10),
    };
    let Some((sandbox, mock)) = setup("codex_web_search", vec![search], &[]) else {
        return;
    };
    let run = codex_run(&sandbox, &mock, &[], "Search the web.", RUN_LIMIT);
    assert_eq!(run.code, Some(0), "{}", run.dump());
    let searches = run.of_type("web_search");
    assert_eq!(searches.len(), 1, "{}", run.dump());
    assert_eq!(searches[0]["query"], "ratatui release notes");
    assert_eq!(run.text(), "Found the release notes.", "{}", run.dump());
}
