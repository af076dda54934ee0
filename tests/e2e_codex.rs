//! The real Codex CLI (pinned 0.169.0, installed by scripts/install-agents)
//! through `corral run --agent codex --json`, against a scripted Responses
//! API on 127.0.0.1 (tests/fixtures/mocks/responses_mock.py): the session,
//! the streamed answer, token usage without a cost, and success.
//!
//! Skipped loudly when the codex CLI is missing (a failure with
//! `CORRAL_REQUIRE_E2E=1`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

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

#[test]
fn a_text_answer_from_the_real_codex() {
    let Some(codex) = codex() else {
        assert!(
            std::env::var("CORRAL_REQUIRE_E2E").as_deref() != Ok("1"),
            "the real codex CLI is required"
        );
        eprintln!("SKIPPED: real codex CLI not found (run scripts/install-agents)");
        return;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut mock = Command::new("python3")
        .arg(root.join("tests/fixtures/mocks/responses_mock.py"))
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
             wire_api = \"responses\"\nenv_key = \"MOCK_API_KEY\"\n[analytics]\nenabled = false\n"
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
        .args(["run", "--agent", "codex", "--json", "--timeout", "60"])
        .arg("--cwd")
        .arg(&work)
        .arg("Say hello")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start corral");
    let mut out = String::new();
    std::io::Read::read_to_string(run.stdout.as_mut().unwrap(), &mut out).unwrap();
    let status = run.wait().unwrap();
    let events: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    assert_eq!(status.code(), Some(0), "{out}");
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
    let text: String = events
        .iter()
        .filter(|e| e["type"] == "text")
        .map(|e| e["text"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(text, "Hello from a loopback Responses mock.");
    let last = events.last().unwrap();
    assert_eq!(last["type"], "finished");
    assert_eq!(last["status"], "succeeded");
    assert_eq!(last["usage"]["output_tokens"], 5);
    assert!(
        last["usage"].get("cost_usd").is_none(),
        "codex reports no cost"
    );
}
