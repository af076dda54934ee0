//! Runs `corral run --json` (or any command) in a [`Sandbox`] with a hard
//! time limit, and reads its canonical events back.
//!
//! Output goes to files, never pipes: a leftover grandchild holding a pipe
//! open could otherwise block a test past its limit. A run that overstays
//! its limit is killed together with everything of its sandbox, and the
//! test fails with what it printed. It must never wait without a bound.

#![allow(dead_code)]

use std::fs::File;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::Sandbox;

/// What one `corral run --json` printed and how it ended.
pub struct Run {
    pub events: Vec<Value>,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    /// The events of this `type`, in order.
    pub fn of_type(&self, kind: &str) -> Vec<&Value> {
        self.events.iter().filter(|e| e["type"] == kind).collect()
    }

    /// The index of the first event matching `pred`.
    pub fn position(&self, pred: impl Fn(&Value) -> bool) -> Option<usize> {
        self.events.iter().position(pred)
    }

    /// The concatenated `text` events.
    pub fn text(&self) -> String {
        self.of_type("text")
            .iter()
            .filter_map(|e| e["text"].as_str())
            .collect()
    }

    /// The one `session` event's id (fails the test when there is not
    /// exactly one, or it is empty).
    pub fn session_id(&self) -> String {
        let sessions = self.of_type("session");
        assert_eq!(sessions.len(), 1, "one session event\n{}", self.dump());
        let id = sessions[0]["session_id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(!id.is_empty(), "a session id\n{}", self.dump());
        id
    }

    /// The `finished` event, which must be the last line and the only one.
    pub fn finished(&self) -> &Value {
        let last = self
            .events
            .last()
            .unwrap_or_else(|| panic!("no events\n{}", self.dump()));
        assert_eq!(
            last["type"],
            "finished",
            "the last line must be `finished`\n{}",
            self.dump()
        );
        assert_eq!(
            self.of_type("finished").len(),
            1,
            "one `finished`\n{}",
            self.dump()
        );
        last
    }

    /// The run called one tool, got its result, then answered: in that
    /// order, after a first text starting with `preface`, and it succeeded
    /// with the answer (which says it got `output`) as its result.
    pub fn assert_tool_then_answer(&self, preface: &str, output: &str) {
        let call_at = self.position(|e| e["type"] == "tool_call");
        let result_at = self.position(|e| e["type"] == "tool_result");
        let answer_at = self.position(|e| {
            e["type"] == "text" && e["text"].as_str().is_some_and(|t| t.contains("returned"))
        });
        assert!(
            call_at.is_some() && call_at < result_at && result_at < answer_at,
            "order: call, result, answer\n{}",
            self.dump()
        );
        assert!(self.text().starts_with(preface), "{}", self.dump());
        let finished = self.finished();
        assert_eq!(finished["status"], "succeeded", "{}", self.dump());
        assert!(
            finished["result"]
                .as_str()
                .is_some_and(|r| r.starts_with("The tool finished.") && r.contains(output)),
            "the result is the answer after the tool\n{}",
            self.dump()
        );
    }

    /// Exit code 0 exactly when the run succeeded.
    pub fn assert_exit_matches_status(&self) {
        let status = self.finished()["status"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let expected = if status == "succeeded" { 0 } else { 1 };
        assert_eq!(
            self.code,
            Some(expected),
            "status {status}\n{}",
            self.dump()
        );
    }

    /// Everything the run printed, for failure messages.
    pub fn dump(&self) -> String {
        format!(
            "exit code {:?} after {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code, self.elapsed, self.stdout, self.stderr
        )
    }
}

/// How a command run under [`run_bounded`] ended.
pub struct Bounded {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

/// Runs `cmd` (stdin `/dev/null`) to its end, killing it and everything of
/// the sandbox and failing the test if it takes longer than `limit`;
/// `context` adds to the failure message (what the mock saw).
pub fn run_bounded(
    mut cmd: Command,
    sandbox: &Sandbox,
    limit: Duration,
    context: &dyn Fn() -> String,
) -> Bounded {
    static RUNS: AtomicU32 = AtomicU32::new(0);
    let n = RUNS.fetch_add(1, Ordering::Relaxed);
    let out_path = sandbox.root().join(format!("run{n}.stdout"));
    let err_path = sandbox.root().join(format!("run{n}.stderr"));
    let stdout = File::create(&out_path).expect("create the stdout file");
    let stderr = File::create(&err_path).expect("create the stderr file");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .expect("start the command");
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() < limit => std::thread::sleep(Duration::from_millis(50)),
            Ok(None) | Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                let left = sandbox.leftover_processes();
                sandbox.kill_leftovers();
                panic!(
                    "{cmd:?} did not finish within {limit:?} (killed it; left behind: {left:?})\n\
                     --- stdout ---\n{}\n--- stderr ---\n{}\n{}",
                    std::fs::read_to_string(&out_path).unwrap_or_default(),
                    std::fs::read_to_string(&err_path).unwrap_or_default(),
                    context()
                );
            }
        }
    };
    Bounded {
        code: status.code(),
        stdout: std::fs::read_to_string(&out_path).expect("read stdout"),
        stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
        elapsed: started.elapsed(),
    }
}

/// Runs `corral run --json --cwd WORK ARGS -- PROMPT` in the sandbox's
/// `work` dir with exactly `env` (nothing inherited), within `limit`.
/// Every stdout line must be a JSON event with a `type`. With
/// `CORRAL_E2E_SHOW` set, everything the run printed goes to stderr.
pub fn corral_run(
    sandbox: &Sandbox,
    env: Vec<(String, String)>,
    args: &[&str],
    prompt: &str,
    limit: Duration,
    context: &dyn Fn() -> String,
) -> Run {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("corral"));
    cmd.env_clear()
        .envs(env)
        .current_dir(&sandbox.work)
        .arg("run")
        .arg("--json")
        .arg("--cwd")
        .arg(&sandbox.work)
        .args(args)
        .arg("--")
        .arg(prompt);
    let Bounded {
        code,
        stdout,
        stderr,
        elapsed,
    } = run_bounded(cmd, sandbox, limit, context);
    let events = stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let event: Value = serde_json::from_str(line).unwrap_or_else(|e| {
                panic!("--json stdout line is not JSON ({e}): {line:?}\n--- stderr ---\n{stderr}")
            });
            assert!(event["type"].is_string(), "event without a type: {line}");
            event
        })
        .collect();
    let run = Run {
        events,
        code,
        stdout,
        stderr,
        elapsed,
    };
    if std::env::var_os("CORRAL_E2E_SHOW").is_some() {
        eprintln!("corral run {args:?}\n{}", run.dump());
    }
    run
}

/// `corral run --json --agent AGENT ARGS -- PROMPT` as [`corral_run`], and
/// how long it took on stderr (`[e2e AGENT] ARGS took ...`).
pub fn agent_run(
    sandbox: &Sandbox,
    agent: &str,
    env: Vec<(String, String)>,
    args: &[&str],
    prompt: &str,
    limit: Duration,
    context: &dyn Fn() -> String,
) -> Run {
    let mut all = vec!["--agent", agent];
    all.extend_from_slice(args);
    let started = Instant::now();
    let run = corral_run(sandbox, env, &all, prompt, limit, context);
    let _ = writeln!(
        std::io::stderr(),
        "[e2e {agent}] {args:?} took {:?}",
        started.elapsed()
    );
    run
}
