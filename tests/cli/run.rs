//! `corral run` as a user runs it: the real binary, real fake agents
//! (scripts in tests/fixtures/agents standing in for `claude`), real signals.
//! Checks the transcript, the JSON contract, exit codes, limits and that no
//! process survives.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The corral binary, its config, data and state in a private place.
fn corral_bin() -> Command {
    let home = std::env::temp_dir().join(format!("corral-run-cli-{}", std::process::id()));
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("corral"));
    for (var, dir) in [
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_STATE_HOME", "state"),
    ] {
        cmd.env(var, home.join(dir));
    }
    cmd
}

/// `corral run` with `fake_claude.sh` as the agent, running `agent args`.
fn corral(agent: &str, args: &str) -> Command {
    let mut cmd = corral_bin();
    cmd.arg("run")
        .arg("--agent-bin")
        .arg(fixtures().join("agents/fake_claude.sh"))
        .arg("--kill-grace")
        .arg("0.3")
        .env("FAKE_AGENT", agent)
        .env("FAKE_AGENT_ARGS", args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    cmd
}

fn replay(transcript: &str) -> Command {
    let file = fixtures().join("claude").join(transcript);
    corral("replay.sh", &format!("{} 0 2", file.display()))
}

/// Runs with a hard time limit so a hang fails instead of stalling CI.
fn run(cmd: &mut Command) -> Output {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("corral starts");
    let pid = child.id();
    let guard = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(60));
        // Still running after a minute: end it so the test fails loudly.
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    });
    let out = child.wait_with_output().expect("corral ran");
    drop(guard);
    out
}

fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
        .collect()
}

fn finished(events: &[Value]) -> &Value {
    let last = events.last().expect("some events");
    assert_eq!(last["type"], "finished", "finished comes last");
    last
}

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            let state = s
                .rsplit_once(')')
                .map(|(_, r)| r.trim_start())
                .unwrap_or("");
            !state.starts_with('Z')
        })
        .unwrap_or(false)
}

#[test]
fn a_transcript_reads_as_text_tool_call_and_summary() {
    let out = run(replay("tool.jsonl").arg("Run echo hi"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("Let me run a command.\n→ Bash echo hi\n  ← hi\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("The tool finished. It returned: hi -- done."),
        "{stdout}"
    );
    let last = stdout.lines().last().unwrap();
    assert!(
        last.starts_with("✓ succeeded · ") && last.ends_with("84 in / 34 out tokens · $0.0013"),
        "{last}"
    );
    assert!(
        !stdout.contains('\u{1b}'),
        "no escape sequence reaches the terminal"
    );
}

#[test]
fn json_mode_prints_only_canonical_events() {
    let out = run(replay("tool.jsonl").arg("--json").arg("Run echo hi"));
    assert_eq!(out.status.code(), Some(0));
    let events = json_lines(&out);
    // replay.sh echoes what corral wrote on its stdin on its stderr: two
    // notices, on a pipe of their own, so where they fall among the
    // stdout events is up to the scheduler.
    let notices = events.iter().filter(|e| e["type"] == "notice").count();
    assert_eq!(notices, 2, "{events:?}");
    let types: Vec<&str> = events
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .filter(|t| *t != "notice")
        .collect();
    assert_eq!(
        types,
        [
            "user_message",
            "session",
            "text",
            "tool_call",
            "tool_result",
            "text",
            "usage",
            "turn_end",
            "finished"
        ]
    );
    let f = finished(&events);
    assert_eq!(f["status"], "succeeded");
    assert_eq!(f["exit_code"], 0);
    assert_eq!(f["session_id"], "fab5edac-e68d-4fe2-95f4-5f42d885c82c");
    assert_eq!(f["usage"]["output_tokens"], 34);
    assert!((f["usage"]["cost_usd"].as_f64().unwrap() - 0.00127).abs() < 1e-9);
}

#[test]
fn the_prompt_reaches_the_agent_on_stdin() {
    let out = run(replay("text.jsonl").arg("--json").arg("say hi, please"));
    // replay.sh echoes its stdin on stderr: notices, not output.
    let raw: Vec<String> = json_lines(&out)
        .iter()
        .filter(|e| e["type"] == "notice")
        .map(|e| e["line"].as_str().unwrap().to_string())
        .collect();
    assert!(
        raw[0].starts_with("stdin: {\"type\":\"control_request\""),
        "{raw:?}"
    );
    assert!(raw[1].contains("\"content\":\"say hi, please\""), "{raw:?}");
}

#[test]
fn an_api_error_after_retries_fails_with_the_agents_message() {
    let out = run(replay("errors.jsonl").arg("--json").arg("hi"));
    assert_eq!(out.status.code(), Some(1));
    let events = json_lines(&out);
    assert_eq!(events.iter().filter(|e| e["type"] == "retry").count(), 10);
    let f = finished(&events);
    assert_eq!(f["status"], "failed");
    assert!(
        f["reason"].as_str().unwrap().starts_with("API Error: 500"),
        "{f}"
    );
}

#[test]
fn an_agent_that_exits_without_a_result_fails_and_says_so() {
    let out = run(corral("ticker.sh", "1 0").arg("hi"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout.contains("the agent exited without a result (exit code 0): tick 1"),
        "{stdout}"
    );
}

#[test]
fn a_missing_binary_or_directory_is_named() {
    let out = run(corral_bin().args(["run", "--agent-bin", "no-such-agent-binary", "hi"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("`no-such-agent-binary` not found"));

    // A missing directory is a usage error, like a bad flag.
    let out = run(replay("text.jsonl").args(["--cwd", "/no/such/dir", "hi"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--cwd `/no/such/dir` is not a directory")
    );
}

#[test]
fn usage_errors_exit_2() {
    let out = run(corral_bin().args(["run", "--agent", "nonesuch", "hi"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown agent `nonesuch`"));
    let out = run(corral_bin().args(["run", "--timeout", "soon", "hi"]));
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn idle_timeout_kills_a_hanging_agent() {
    let started = Instant::now();
    let out = run(corral("hang.sh", "").args(["--json", "--idle-timeout", "1", "hi"]));
    assert_eq!(out.status.code(), Some(1));
    let events = json_lines(&out);
    let f = finished(&events);
    assert_eq!(f["status"], "timed_out");
    assert_eq!(f["reason"], "no output for 1s (idle timeout)");
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn huge_lines_and_invalid_utf8_never_stop_the_stream() {
    let out = run(corral("big_line.sh", "").args(["--json", "hi"]));
    let events = json_lines(&out);
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "error" && e["message"].as_str().unwrap().contains("exceeded")),
        "the 10 MiB line is reported"
    );
    let after = events.iter().position(|e| e["type"] == "error").unwrap();
    assert!(
        events[after..].iter().any(|e| e["type"] == "raw"),
        "the line after it still arrives"
    );
    assert!(
        out.stdout.len() < 64 * 1024,
        "the huge line is not copied out"
    );

    let out = run(corral("invalid_utf8.sh", "").args(["--json", "hi"]));
    let events = json_lines(&out);
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "raw" && e["line"].as_str().unwrap().contains('\u{fffd}'))
    );
}

/// Ctrl-C (SIGINT), SIGTERM (`timeout`, a CI cancel, systemd) and SIGHUP
/// (terminal closed, ssh dropped) each kill the agent's whole group (two
/// children and a grandchild included), end the run with a `finished`
/// event and a `killed` record, and exit 128 + the signal.
#[test]
fn ctrl_c_sigterm_and_sighup_kill_the_whole_group_and_exit_128_plus_signal() {
    for (signal, code) in [
        (libc::SIGINT, 130),
        (libc::SIGTERM, 143),
        (libc::SIGHUP, 129),
    ] {
        let home = tempfile::tempdir().unwrap();
        let with_home = |cmd: &mut Command| {
            for (var, dir) in [
                ("XDG_CONFIG_HOME", "config"),
                ("XDG_DATA_HOME", "data"),
                ("XDG_STATE_HOME", "state"),
            ] {
                cmd.env(var, home.path().join(dir));
            }
        };
        let mut cmd = corral("fork_children.py", "");
        with_home(&mut cmd);
        let mut child = cmd
            .args(["--json", "hi"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut all = String::new();
            std::io::Read::read_to_string(&mut stdout, &mut all).ok();
            all
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        let pids = loop {
            let pids = descendants(child.id() as i32);
            if pids.len() >= 4 || Instant::now() > deadline {
                break pids;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(
            pids.len() >= 4,
            "agent, two children and a grandchild: {pids:?}"
        );
        unsafe { libc::kill(child.id() as i32, signal) };
        let status = child.wait().unwrap();
        let out = reader.join().unwrap();
        assert_eq!(status.code(), Some(code), "signal {signal}: {out}");
        let last: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
        assert_eq!(last["type"], "finished", "signal {signal}");
        assert_eq!(last["status"], "killed", "signal {signal}");
        // Checked before any other corral could clean up after it.
        for pid in &pids {
            assert!(!alive(*pid), "signal {signal}: process {pid} survived");
        }
        let mut ls = corral_bin();
        with_home(&mut ls);
        let listed = ls.args(["ls", "--json"]).output().unwrap();
        let tasks: Value = serde_json::from_slice(&listed.stdout).unwrap();
        assert_eq!(tasks.as_array().map(Vec::len), Some(1), "{tasks}");
        assert_eq!(
            tasks[0]["status"], "killed",
            "signal {signal}: the run wrote its final record"
        );
    }
}

/// Every process below `root`, found through /proc.
fn descendants(root: i32) -> Vec<i32> {
    let mut parents = std::collections::HashMap::<i32, Vec<i32>>::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.first() == Some(&"Z") {
            continue;
        }
        if let Some(ppid) = fields.get(1).and_then(|p| p.parse().ok()) {
            parents.entry(ppid).or_default().push(pid);
        }
    }
    let mut out = Vec::new();
    let mut todo = vec![root];
    while let Some(p) = todo.pop() {
        for c in parents.get(&p).cloned().unwrap_or_default() {
            out.push(c);
            todo.push(c);
        }
    }
    out
}

/// The pids `escape.py` wrote to `file` (`count` of them), once it wrote
/// them all.
fn escaped_pids(file: &Path, count: usize) -> Vec<i32> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        if text.ends_with("ready\n") {
            let pids: Vec<i32> = text.lines().filter_map(|l| l.parse().ok()).collect();
            assert_eq!(pids.len(), count, "{text}");
            return pids;
        }
        assert!(Instant::now() < deadline, "escape.py never got ready");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// How a test stops a `corral run`.
#[derive(Debug, Clone, Copy)]
enum Stop {
    Signal(i32),
    Timeout,
}

/// Every way a `corral run` is stopped kills the agent's 200 children, the
/// processes that left its group (a setsid daemon, a double fork, a setpgid
/// grandchild, all ignoring SIGHUP/SIGINT/SIGTERM) and, where tasks get a
/// cgroup, one that also cleared its environment; the finished event and
/// the stored task count those outside the group.
#[test]
fn every_stop_kills_200_children_and_everything_that_left_the_group() {
    const CHILDREN: usize = 200;
    let clean_env = corral::runtime::cgroup::available();
    let outside = 3 + usize::from(clean_env);
    for stop in [
        Stop::Signal(libc::SIGINT),
        Stop::Signal(libc::SIGTERM),
        Stop::Signal(libc::SIGHUP),
        Stop::Timeout,
    ] {
        let home = tempfile::tempdir().unwrap();
        let with_home = |cmd: &mut Command| {
            for (var, dir) in [
                ("XDG_CONFIG_HOME", "config"),
                ("XDG_DATA_HOME", "data"),
                ("XDG_STATE_HOME", "state"),
            ] {
                cmd.env(var, home.path().join(dir));
            }
        };
        let pids_file = home.path().join("pids");
        let mut cmd = corral("escape.py", "");
        with_home(&mut cmd);
        cmd.env("ESCAPE_PIDS_FILE", &pids_file)
            .env("ESCAPE_CHILDREN", CHILDREN.to_string())
            .env("ESCAPE_CLEAN_ENV", if clean_env { "1" } else { "0" })
            .arg("--json");
        if let Stop::Timeout = stop {
            cmd.args(["--timeout", "8"]);
        }
        let mut child = cmd
            .arg("hi")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut all = String::new();
            std::io::Read::read_to_string(&mut stdout, &mut all).ok();
            all
        });
        let pids = escaped_pids(&pids_file, outside + CHILDREN);
        if let Stop::Signal(signal) = stop {
            unsafe { libc::kill(child.id() as i32, signal) };
        }
        let status = child.wait().unwrap();
        let out = reader.join().unwrap();
        // Checked before any other corral command could clean up.
        let left: Vec<i32> = pids.iter().copied().filter(|&pid| alive(pid)).collect();
        assert!(
            left.is_empty(),
            "{stop:?}: {} survived: {left:?}",
            left.len()
        );
        let (code, status_name) = match stop {
            Stop::Signal(signal) => (128 + signal, "killed"),
            Stop::Timeout => (1, "timed_out"),
        };
        assert_eq!(status.code(), Some(code), "{stop:?}: {out}");
        let last: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
        assert_eq!(last["type"], "finished", "{stop:?}");
        assert_eq!(last["status"], status_name, "{stop:?}");
        assert_eq!(last["killed_outside_group"], outside, "{stop:?}: {last}");
        let mut ls = corral_bin();
        with_home(&mut ls);
        let listed = ls.args(["ls", "--json"]).output().unwrap();
        let tasks: Value = serde_json::from_slice(&listed.stdout).unwrap();
        assert_eq!(tasks[0]["status"], status_name, "{stop:?}: {tasks}");
        assert_eq!(
            tasks[0]["killed_outside_group"], outside,
            "{stop:?}: {tasks}"
        );
    }
}

#[test]
fn the_text_summary_says_how_many_left_the_group() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = corral("escape.py", "");
    cmd.env("ESCAPE_PIDS_FILE", dir.path().join("pids"));
    let mut child = cmd
        .args(["hi"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pids = escaped_pids(&dir.path().join("pids"), 3);
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
    assert_eq!(status.code(), Some(130), "{out}");
    assert!(
        out.contains("killed 3 process(es) that had left the agent's process group"),
        "{out}"
    );
    for pid in pids {
        assert!(!alive(pid), "process {pid} survived Ctrl-C");
    }
}

// ---------------------------------------------------------------------------
// The generic `acp` kind with a fake ACP agent (tests/fixtures/agents/fake_acp.py).
// ---------------------------------------------------------------------------

/// `corral run --agent acp --json` with the fake ACP agent in `dir`.
fn acp(dir: &Path, extra: &[&str], prompt: &str) -> Command {
    let mut cmd = corral_bin();
    cmd.arg("run")
        .args(["--agent", "acp", "--json", "--kill-grace", "0.3"])
        .arg("--agent-bin")
        .arg(fixtures().join("agents/fake_acp.py"))
        .arg("--cwd")
        .arg(dir)
        .args(extra)
        .arg("--")
        .arg(prompt)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    cmd
}

fn texts(events: &[Value]) -> String {
    events
        .iter()
        .filter(|e| e["type"] == "text")
        .filter_map(|e| e["text"].as_str())
        .collect()
}

fn errors(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["type"] == "error")
        .filter_map(|e| e["message"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn an_acp_agent_answers_over_the_protocol_and_the_run_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&mut acp(dir.path(), &[], "hello"));
    let events = json_lines(&out);
    assert_eq!(out.status.code(), Some(0), "{events:#?}");
    assert_eq!(texts(&events), "Hello from the fake ACP agent.");
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "session" && e["session_id"] == "fake-session")
    );
    assert_eq!(finished(&events)["status"], "succeeded");
}

#[test]
fn malformed_acp_lines_are_shown_and_the_turn_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&mut acp(dir.path(), &[], "malformed"));
    let events = json_lines(&out);
    assert_eq!(out.status.code(), Some(0), "{events:#?}");
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "raw" && e["line"] == "this is not json")
    );
    let errors = errors(&events);
    assert!(
        errors.iter().any(|m| m.contains("malformed ACP message")),
        "{errors:?}"
    );
    assert_eq!(texts(&events), "still here");
    assert_eq!(finished(&events)["status"], "succeeded");
}

#[test]
fn a_request_corral_does_not_offer_is_refused_and_the_agent_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&mut acp(dir.path(), &[], "unsupported"));
    let events = json_lines(&out);
    assert_eq!(out.status.code(), Some(0), "{events:#?}");
    let errors = errors(&events);
    assert!(
        errors.iter().any(|m| m.contains("`fs/read_text_file`")),
        "the user is told: {errors:?}"
    );
    assert_eq!(
        texts(&events),
        "refused: corral does not support fs/read_text_file",
        "the agent got a JSON-RPC error, not silence"
    );
}

#[test]
fn an_acp_agent_that_dies_mid_request_fails_the_run_without_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let out = run(&mut acp(dir.path(), &[], "die"));
    let events = json_lines(&out);
    assert!(started.elapsed() < Duration::from_secs(20), "{events:#?}");
    assert_ne!(out.status.code(), Some(0), "{events:#?}");
    assert_eq!(texts(&events), "about to die");
    let end = finished(&events);
    assert_eq!(end["status"], "failed", "{end}");
    assert_eq!(end["exit_code"], 3, "{end}");
}

#[test]
fn acp_approvals_follow_the_approve_policy_and_a_denial_reason_reaches_the_agent() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&mut acp(
        dir.path(),
        &["--approve", "allow"],
        "permission allowed.marker",
    ));
    let events = json_lines(&out);
    assert_eq!(out.status.code(), Some(0), "{events:#?}");
    assert!(dir.path().join("allowed.marker").exists());
    assert!(texts(&events).contains("chosen: yes"), "{events:#?}");
    assert!(
        events.iter().any(|e| e["type"] == "plan"),
        "the plan is shown"
    );
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "answered" && e["decision"] == "allow" && e["by"] == "policy")
    );

    let out = run(&mut acp(
        dir.path(),
        &["--approve", "deny"],
        "permission denied.marker",
    ));
    let events = json_lines(&out);
    assert_eq!(out.status.code(), Some(0), "{events:#?}");
    assert!(!dir.path().join("denied.marker").exists());
    let text = texts(&events);
    assert!(text.contains("chosen: no"), "{text}");
    // The reason could not travel with the denial: it came as the next
    // prompt of the same session, which the fake agent echoes.
    assert!(
        text.contains("unknown prompt: I denied your request to use fake_touch: Denied by corral's approval policy"),
        "{text}"
    );
}

#[test]
fn an_acp_permission_mode_answers_for_the_user() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&mut acp(
        dir.path(),
        &[
            "--approve",
            "deny",
            "--permission-mode",
            "bypassPermissions",
        ],
        "permission bypass.marker",
    ));
    let events = json_lines(&out);
    assert!(dir.path().join("bypass.marker").exists(), "{events:#?}");
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "answered" && e["by"] == "mode")
    );
}

#[test]
fn a_stalled_acp_turn_is_cancelled_then_killed_at_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let out = run(&mut acp(dir.path(), &["--timeout", "2"], "stall"));
    let events = json_lines(&out);
    assert!(started.elapsed() < Duration::from_secs(20), "{events:#?}");
    assert_ne!(out.status.code(), Some(0));
    assert_eq!(texts(&events), "stalling");
    assert_ne!(finished(&events)["status"], "succeeded");
}

// ---------------------------------------------------------------------------
// A codex or gemini too old for the live protocol (tests/fixtures/agents/fake_old_cli.sh).
// ---------------------------------------------------------------------------

#[test]
fn a_cli_too_old_for_the_live_protocol_runs_again_one_shot_and_says_so() {
    for (agent, transcript, one_shot) in [
        ("codex", "codex/text.jsonl", "exec --json"),
        ("gemini", "gemini/text.jsonl", "--output-format stream-json"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let argv_log = dir.path().join("argv.log");
        let mut cmd = corral_bin();
        cmd.arg("run")
            .args(["--agent", agent, "--json", "--kill-grace", "0.3"])
            .arg("--agent-bin")
            .arg(fixtures().join("agents/fake_old_cli.sh"))
            .arg("--cwd")
            .arg(dir.path())
            .args(["--", "Say hello in a few words."])
            .env("FAKE_TRANSCRIPT", fixtures().join(transcript))
            .env("FAKE_ARGV_LOG", &argv_log)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        let out = run(&mut cmd);
        let events = json_lines(&out);
        assert_eq!(out.status.code(), Some(0), "{agent}: {events:#?}");
        assert!(
            texts(&events).starts_with("Hello from the loopback"),
            "{agent}: {events:#?}"
        );
        assert!(
            errors(&events)
                .iter()
                .any(|e| e.contains("too old for the live protocol")),
            "{agent}: {:?}",
            errors(&events)
        );
        assert_eq!(finished(&events)["status"], "succeeded", "{agent}");
        let runs = std::fs::read_to_string(&argv_log).unwrap();
        let runs: Vec<&str> = runs.lines().collect();
        assert_eq!(runs.len(), 2, "{agent}: {runs:?}");
        assert!(
            runs[0].contains("app-server") || runs[0].contains("--acp"),
            "{runs:?}"
        );
        assert!(runs[1].contains(one_shot), "{agent}: {runs:?}");
    }
}
