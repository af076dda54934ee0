//! Per-task limits with fake agents through `corral run`: each one kills
//! the agent with a reason a user can read, in the live output and in the
//! store (`corral ls --json`). Cost and turns come from the replayed Claude
//! transcript `tool.jsonl` ($0.00127, 2 turns; see tests/fixtures/claude).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn corral(home: &Path) -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("corral"));
    cmd.env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    cmd
}

/// Runs `corral run --json FLAGS -- go` with the fake agent; returns its
/// finished event and the stored task.
fn run(home: &Path, flags: &[&str], agent: &str, args: &str) -> (Value, Value) {
    let started = Instant::now();
    let out = corral(home)
        .args(["run", "--json", "--kill-grace", "0.3", "--agent-bin"])
        .arg(fixtures().join("agents/fake_claude.sh"))
        .args(flags)
        .args(["--", "go"])
        .env("FAKE_AGENT", agent)
        .env("FAKE_AGENT_ARGS", args)
        .output()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(30));
    let last = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .expect("some events");
    assert_eq!(last["type"], "finished");
    assert_eq!(out.status.code(), Some(1), "a limit is a failure");
    let ls = corral(home).args(["ls", "--json"]).output().unwrap();
    let tasks: Value = serde_json::from_slice(&ls.stdout).unwrap();
    let task = tasks.as_array().unwrap().last().cloned().unwrap();
    (last, task)
}

fn tool_replay() -> String {
    format!("{} 0 2", fixtures().join("claude/tool.jsonl").display())
}

#[test]
fn max_cost_kills_with_what_was_spent() {
    let home = tempfile::tempdir().unwrap();
    let (finished, task) = run(
        home.path(),
        &["--max-cost", "0.001"],
        "replay.sh",
        &tool_replay(),
    );
    let reason = "spent $0.0013, over the $0.0010 limit";
    assert_eq!(finished["status"], "killed");
    assert_eq!(finished["reason"], reason);
    assert_eq!(task["status"], "killed");
    assert_eq!(task["finish_reason"], reason);
}

#[test]
fn max_turns_kills_when_the_agent_reports_more() {
    let home = tempfile::tempdir().unwrap();
    let (finished, task) = run(
        home.path(),
        &["--max-turns", "1"],
        "replay.sh",
        &tool_replay(),
    );
    assert_eq!(finished["status"], "killed");
    assert_eq!(finished["reason"], "took 2 turns, over the 1-turn limit");
    assert_eq!(task["finish_reason"], "took 2 turns, over the 1-turn limit");
}

#[test]
fn limits_under_the_spend_and_turns_let_it_succeed() {
    let home = tempfile::tempdir().unwrap();
    let out = corral(home.path())
        .args([
            "run",
            "--json",
            "--max-cost",
            "0.01",
            "--max-turns",
            "2",
            "--agent-bin",
        ])
        .arg(fixtures().join("agents/fake_claude.sh"))
        .args(["--", "go"])
        .env("FAKE_AGENT", "replay.sh")
        .env("FAKE_AGENT_ARGS", tool_replay())
        .output()
        .unwrap();
    assert!(out.status.success());
}

#[test]
fn wall_and_idle_timeouts_kill_a_hanging_agent() {
    let home = tempfile::tempdir().unwrap();
    let (finished, task) = run(home.path(), &["--timeout", "0.5"], "hang.sh", "");
    assert_eq!(finished["status"], "timed_out");
    assert_eq!(finished["reason"], "still running after 0.5s (timeout)");
    assert_eq!(task["status"], "timed_out");

    // The ticker prints every 2s: an idle limit of 0.5s ends it first.
    let (finished, task) = run(home.path(), &["--idle-timeout", "0.5"], "ticker.sh", "5 2");
    assert_eq!(finished["reason"], "no output for 0.5s (idle timeout)");
    assert_eq!(task["finish_reason"], "no output for 0.5s (idle timeout)");
}

#[test]
fn limits_from_the_config_apply_when_no_flag_is_given() {
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("limits.toml");
    std::fs::write(
        &config,
        "[defaults]\nmax_cost_usd = 0.001\nkill_grace = 0.3\n",
    )
    .unwrap();
    let config = config.to_str().unwrap().to_string();
    let (finished, _) = run(
        home.path(),
        &["--config", &config],
        "replay.sh",
        &tool_replay(),
    );
    assert_eq!(finished["reason"], "spent $0.0013, over the $0.0010 limit");
}
