//! The corral server with a real agent CLI, as a user drives it from the
//! command line: `corral run --detach`, `corral send`, `corral logs --json`,
//! `corral ls --json`, each bounded, in a [`Sandbox`] with a config file of
//! the test's own (the server a command starts inherits the environment and
//! the config, and so do its agents).
//!
//! Every command and every wait has a bound; the server is stopped with
//! `--kill` when the [`Served`] is dropped, and the sandbox kills whatever
//! is left. Never reaches beyond the sandbox and loopback.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::Sandbox;
use super::run::{Bounded, run_bounded};

/// How long one corral command may take.
const COMMAND_LIMIT: Duration = Duration::from_secs(120);
/// How long a wait for the server's tasks may take.
const WAIT_LIMIT: Duration = Duration::from_secs(90);

/// A sandbox whose corral commands share one server and one config.
pub struct Served<'a> {
    sandbox: &'a Sandbox,
    env: Vec<(String, String)>,
    config: PathBuf,
    context: &'a dyn Fn() -> String,
}

impl<'a> Served<'a> {
    /// Writes `config` (the text of corral's config.toml) into the
    /// sandbox; commands run with `env` only. `context` adds to failure
    /// messages (what the mock saw).
    pub fn new(
        sandbox: &'a Sandbox,
        env: Vec<(String, String)>,
        config: &str,
        context: &'a dyn Fn() -> String,
    ) -> Served<'a> {
        let path = sandbox.root().join("corral.toml");
        std::fs::write(&path, config).expect("write corral's config");
        Served {
            sandbox,
            env,
            config: path,
            context,
        }
    }

    /// `corral --config CONFIG ARGS`, bounded.
    pub fn run(&self, args: &[&str]) -> Bounded {
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("corral"));
        cmd.env_clear()
            .envs(self.env.iter().cloned())
            .current_dir(&self.sandbox.work)
            .arg("--config")
            .arg(&self.config)
            .args(args);
        run_bounded(cmd, self.sandbox, COMMAND_LIMIT, self.context)
    }

    /// `corral ARGS`, which must succeed; its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(
            out.code,
            Some(0),
            "corral {args:?}: {}{}\n{}",
            out.stdout,
            out.stderr,
            (self.context)()
        );
        out.stdout
    }

    /// Hands `prompt` to the server (`corral run --detach ARGS -- PROMPT`);
    /// the task's id.
    pub fn detach(&self, args: &[&str], prompt: &str) -> String {
        let mut all = vec!["run", "--detach"];
        all.extend_from_slice(args);
        all.extend(["--", prompt]);
        let id = self.ok(&all).trim().to_string();
        assert_eq!(id.len(), 8, "an id: {id:?}");
        id
    }

    /// The task's canonical events so far (`corral logs ID --json`).
    pub fn events(&self, id: &str) -> Vec<Value> {
        self.ok(&["logs", id, "--json"])
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The task's status as `corral ls --json --all` shows it.
    pub fn status(&self, id: &str) -> String {
        let list: Value = serde_json::from_str(&self.ok(&["ls", "--json", "--all"]))
            .expect("corral ls --json prints JSON");
        list.as_array()
            .and_then(|l| l.iter().find(|t| t["id"] == id))
            .and_then(|t| t["status"].as_str())
            .unwrap_or_default()
            .to_string()
    }

    /// Waits (bounded) until the task's events satisfy `cond`; returns
    /// them, failing the test with them when they never do.
    pub fn wait_events(&self, id: &str, what: &str, cond: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + WAIT_LIMIT;
        loop {
            let events = self.events(id);
            if cond(&events) {
                return events;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: never happened; the task's events: {events:#?}\n{}",
                (self.context)()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Served<'_> {
    fn drop(&mut self) {
        let _ = self.run(&["server", "stop", "--kill"]);
    }
}

/// The `line`s of the `notice` events among `events`.
pub fn notices(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["type"] == "notice")
        .filter_map(|e| e["line"].as_str().map(str::to_string))
        .collect()
}

/// How many `type` events are among `events`.
pub fn count(events: &[Value], kind: &str) -> usize {
    events.iter().filter(|e| e["type"] == kind).count()
}

/// The first `session` event's id.
pub fn session_of(events: &[Value]) -> String {
    events
        .iter()
        .find(|e| e["type"] == "session")
        .and_then(|e| e["session_id"].as_str())
        .unwrap_or_else(|| panic!("no session among {events:#?}"))
        .to_string()
}

/// Polls `cond` every 100 ms for up to [`WAIT_LIMIT`]; whether it held.
pub fn wait_for(mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + WAIT_LIMIT;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// Issue 16 through the server: with `idle_session_close = 1`, the task
/// `corral run --detach ARGS -- FIRST_PROMPT` starts has its live session
/// closed once idle (the log says so, its agent — the sandbox's processes
/// whose command line holds `agent_marker` — is gone, and the task stays
/// `succeeded`: an idle session is not running), and `corral send` of the
/// second prompt resumes the same session with a note and answers the
/// second answer. Returns the session id and the task's events.
pub fn idle_close_and_resume(
    sandbox: &Sandbox,
    env: Vec<(String, String)>,
    context: &dyn Fn() -> String,
    args: &[&str],
    agent_marker: &str,
    turns: &super::walks::TwoTurns<'_>,
) -> (String, Vec<Value>) {
    let corral = Served::new(
        sandbox,
        env,
        "[defaults]\nidle_session_close = 1\n",
        context,
    );
    let agents = || {
        sandbox
            .leftover_processes()
            .into_iter()
            .filter(|(_, cmdline)| cmdline.contains(agent_marker))
            .count()
    };

    let id = corral.detach(args, turns.first_prompt);
    let log = corral.wait_events(&id, "the idle close", |events| {
        notices(events)
            .iter()
            .any(|n| n == "idle for 1s: session closed, a follow-up resumes it")
    });
    assert!(
        wait_for(|| agents() == 0),
        "{agent_marker} still runs after the close: {:?}",
        sandbox.leftover_processes()
    );
    assert_eq!(
        corral.status(&id),
        "succeeded",
        "an idle session is not running"
    );
    let session = session_of(&log);

    corral.ok(&["send", &id, turns.second_prompt]);
    let log = corral.wait_events(&id, "the answer to the follow-up", |events| {
        count(events, "finished") >= 2
    });
    let resumed = format!("session was closed after 1s idle; resumed from session {session}");
    assert!(notices(&log).contains(&resumed), "{log:#?}");
    let finished: Vec<&Value> = log.iter().filter(|e| e["type"] == "finished").collect();
    assert_eq!(finished[1]["status"], "succeeded", "{log:#?}");
    assert_eq!(finished[1]["result"], turns.second_answer, "{log:#?}");
    assert_eq!(
        finished[1]["session_id"],
        session.as_str(),
        "the same session"
    );
    (session, log)
}
