//! The real Codex CLI (pinned 0.169.0, installed by scripts/install-agents)
//! through `corral run --agent codex --json`, against a scripted Responses
//! API on 127.0.0.1 (tests/fixtures/mocks/responses_mock.py): a text answer
//! (session, streamed text, usage without a cost), a shell tool call and its
//! result, a failing API (retries shown, then failed), a stalled one
//! (`--timeout`, timed_out).
//!
//! Skipped loudly when the codex CLI is missing (a failure with
//! `CORRAL_REQUIRE_E2E=1`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn codex() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::env::var_os("CORRAL_CODEX_BIN")
        .map(PathBuf::from)
        .into_iter()
        .chain([root.join("target/agents/node_modules/.bin/codex")])
        .find(|p| p.exists())
}

/// Runs `corral run --agent codex --json ARGS... PROMPT` against the mock
/// in `scenario`; `None` when the codex CLI is missing (skipped loudly).
fn run_codex(scenario: &str, args: &[&str], prompt: &str) -> Option<(Option<i32>, Vec<Value>)> {
    let Some(codex) = codex() else {
        assert!(
            std::env::var("CORRAL_REQUIRE_E2E").as_deref() != Ok("1"),
            "the real codex CLI is required"
        );
        eprintln!("SKIPPED: real codex CLI not found (run scripts/install-agents)");
        return None;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut mock = Command::new("python3")
        .arg(root.join("tests/fixtures/mocks/responses_mock.py"))
        .arg(scenario)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the Responses mock");
    let mut port = String::new();
    BufReader::new(mock.stdout.take().unwrap())
        .read_line(&mut port)
        .expect("the mock's port");
    let _mock = Killed(mock);
    let port = port.trim();

    // codex refuses helper binaries under /tmp: a sandbox in the target dir.
    let sandbox = tempfile::Builder::new()
        .prefix("e2e-codex-")
        .tempdir_in(root.join("target"))
        .expect("sandbox");
    let home = sandbox.path().join("home");
    let codex_home = home.join("codex");
    let work = sandbox.path().join("work");
    std::fs::create_dir_all(&codex_home).unwrap();
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(
        codex_home.join("config.toml"),
        format!(
            "model = \"gpt-5.5\"\nmodel_provider = \"mock\"\ncheck_for_update_on_startup = false\n\
             [model_providers.mock]\nname = \"mock\"\nbase_url = \"http://127.0.0.1:{port}/v1\"\n\
             wire_api = \"responses\"\nenv_key = \"MOCK_API_KEY\"\n\
             request_max_retries = 1\nstream_max_retries = 1\n[analytics]\nenabled = false\n"
        ),
    )
    .unwrap();
    let bin_dir = codex.parent().unwrap().display().to_string();
    let mut run = Command::new(env!("CARGO_BIN_EXE_corral"))
        .env_clear()
        .env("PATH", format!("{bin_dir}:/usr/local/bin:/usr/bin:/bin"))
        .env("HOME", &home)
        .env("CODEX_HOME", &codex_home)
        .env("MOCK_API_KEY", "dummy")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("XDG_CONFIG_HOME", sandbox.path().join("config"))
        .env("XDG_DATA_HOME", sandbox.path().join("data"))
        .env("XDG_STATE_HOME", sandbox.path().join("state"))
        .args(["run", "--agent", "codex", "--json", "--kill-grace", "0.5"])
        .args(args)
        .arg("--cwd")
        .arg(&work)
        .arg(prompt)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start corral");
    let mut out = String::new();
    std::io::Read::read_to_string(run.stdout.as_mut().unwrap(), &mut out).unwrap();
    let status = run.wait().unwrap();
    let events = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    Some((status.code(), events))
}

fn texts(events: &[Value]) -> String {
    events
        .iter()
        .filter(|e| e["type"] == "text")
        .map(|e| e["text"].as_str().unwrap_or(""))
        .collect()
}

#[test]
fn a_text_answer_from_the_real_codex() {
    let Some((code, events)) = run_codex("text", &["--timeout", "60"], "Say hello") else {
        return;
    };
    assert_eq!(code, Some(0), "{events:#?}");
    let session = events
        .iter()
        .find(|e| e["type"] == "session")
        .expect("a session");
    assert_eq!(session["agent"], "codex");
    assert!(
        session["session_id"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );
    assert_eq!(texts(&events), "Hello from a loopback Responses mock.");
    let last = events.last().unwrap();
    assert_eq!(last["type"], "finished");
    assert_eq!(last["status"], "succeeded");
    assert_eq!(last["usage"]["output_tokens"], 5);
    assert!(
        last["usage"].get("cost_usd").is_none(),
        "codex reports no cost"
    );
}

#[test]
fn a_tool_call_from_the_real_codex() {
    let Some((code, events)) = run_codex(
        "tool",
        &["--timeout", "60", "--permission-mode", "bypassPermissions"],
        "Run echo hi",
    ) else {
        return;
    };
    assert_eq!(code, Some(0), "{events:#?}");
    let call = events
        .iter()
        .find(|e| e["type"] == "tool_call")
        .expect("a tool call");
    assert!(
        call["input"]["command"]
            .as_str()
            .unwrap_or("")
            .contains("echo hi"),
        "{call}"
    );
    let result = events
        .iter()
        .find(|e| e["type"] == "tool_result")
        .expect("a result");
    assert!(
        result["output"].as_str().unwrap_or("").contains("hi"),
        "{result}"
    );
    assert_eq!(result["is_error"], false);
    assert_eq!(
        texts(&events),
        "The tool finished. It returned: hi -- done."
    );
}

#[test]
fn a_failing_api_fails_the_run_with_retries_shown() {
    let Some((code, events)) = run_codex("error", &["--timeout", "60"], "Say hello") else {
        return;
    };
    assert_eq!(code, Some(1), "{events:#?}");
    assert!(events.iter().any(|e| e["type"] == "retry"), "{events:#?}");
    let last = events.last().unwrap();
    assert_eq!(last["status"], "failed", "{last}");
}

#[test]
fn a_stalled_api_times_out() {
    let started = std::time::Instant::now();
    let Some((code, events)) = run_codex("stall", &["--timeout", "3"], "Say hello") else {
        return;
    };
    assert_eq!(code, Some(1));
    assert_eq!(events.last().unwrap()["status"], "timed_out");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}
