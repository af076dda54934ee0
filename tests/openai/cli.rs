//! `corral run --agent openai` as a user runs it: the real binary, pointed
//! at the scripted loopback chat server with `OPENAI_BASE_URL`, the key in
//! `OPENAI_API_KEY`, as the OpenAI SDKs do.

use std::time::{Duration, Instant};

use crate::openai_mock::{MockOpenAi, Reply};
use assert_cmd::Command;
use serde_json::Value;

/// Config, data and state in a private place, never the user's.
fn private_store(cmd: &mut Command) {
    let home = std::env::temp_dir().join(format!("corral-openai-cli-{}", std::process::id()));
    cmd.env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_STATE_HOME", home.join("state"));
}

fn corral(mock: &MockOpenAi) -> Command {
    let mut cmd = Command::cargo_bin("corral").expect("the corral binary");
    private_store(&mut cmd);
    cmd.env_remove("OPENAI_MODEL")
        .env("OPENAI_BASE_URL", mock.base_url())
        .env("OPENAI_API_KEY", "sk-from-the-environment")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .env("NO_COLOR", "1")
        .timeout(Duration::from_secs(60))
        .args(["run", "--agent", "openai"]);
    cmd
}

fn json_lines(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
        .collect()
}

#[test]
fn a_text_answer_streams_to_stdout_and_the_run_succeeds() {
    let mock = MockOpenAi::start(vec![Reply::text("Hi from the loopback model.")]);
    let out = corral(&mock)
        .args(["--model", "mock-model", "Say", "hi"])
        .output()
        .expect("corral ran");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Hi from the loopback model."), "{stdout}");
    let requests = mock.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].header("authorization"),
        Some("Bearer sk-from-the-environment")
    );
    assert_eq!(requests[0].body["model"], "mock-model");
    assert_eq!(
        requests[0].messages(),
        [("user".to_string(), "Say hi".to_string())]
    );
    assert!(
        !stdout.contains("sk-from-the-environment"),
        "the key is never printed"
    );
}

#[test]
fn json_output_ends_with_a_succeeded_finish_and_usage() {
    let mock = MockOpenAi::start(vec![Reply::text("Counted answer.")]);
    let out = corral(&mock)
        .args(["--json", "count"])
        .output()
        .expect("corral ran");
    assert_eq!(out.status.code(), Some(0));
    let lines = json_lines(&out.stdout);
    let last = lines.last().expect("some output");
    assert_eq!(last["type"], "finished");
    assert_eq!(last["status"], "succeeded");
    assert_eq!(last["result"], "Counted answer.");
    assert_eq!(last["usage"]["input_tokens"], 21);
    assert_eq!(last["usage"]["output_tokens"], 7);
    assert!(
        lines
            .iter()
            .any(|l| l["type"] == "text" && l["delta"] == true)
    );
    // Without a model option or OPENAI_MODEL, the default model is asked for.
    assert_eq!(mock.requests()[0].body["model"], "gpt-4o-mini");
}

#[test]
fn an_error_run_fails_with_the_servers_message() {
    let mock = MockOpenAi::start(vec![Reply::error(400, "model `nope` does not exist")]);
    let out = corral(&mock)
        .args(["--json", "--model", "nope", "hi"])
        .output()
        .expect("corral ran");
    assert_eq!(out.status.code(), Some(1));
    let lines = json_lines(&out.stdout);
    let last = lines.last().expect("some output");
    assert_eq!(last["status"], "failed");
    assert_eq!(
        last["reason"],
        "HTTP 400 Bad Request: model `nope` does not exist"
    );
}

#[test]
fn a_stalled_server_is_cut_off_by_the_timeout() {
    let mock = MockOpenAi::start(vec![Reply::Stall]);
    let started = Instant::now();
    let out = corral(&mock)
        .args(["--json", "--timeout", "1", "hi"])
        .output()
        .expect("corral ran");
    assert_eq!(out.status.code(), Some(1));
    let lines = json_lines(&out.stdout);
    assert_eq!(lines.last().expect("output")["status"], "timed_out");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(mock.wait_for(Duration::from_secs(5), |m| m.abandoned() == 1));
}

#[test]
fn an_unknown_agent_lists_the_known_ones() {
    let mock = MockOpenAi::start(vec![]);
    let mut cmd = Command::cargo_bin("corral").expect("binary");
    private_store(&mut cmd);
    let out = cmd
        .args(["run", "--agent", "nope", "hi"])
        .timeout(Duration::from_secs(30))
        .output()
        .expect("corral ran");
    drop(mock);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("openai") && stderr.contains("command"),
        "{stderr}"
    );
}
