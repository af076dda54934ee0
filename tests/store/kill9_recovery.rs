//! Restart recovery with the real binary: `corral run` is `kill -9`ed while
//! its fake agent hangs. The agent must stop within seconds (parent-death
//! signal + PTY hang-up), anything that ignored that or left the agent's
//! group is killed by corral's watchdog within two seconds, and
//! `corral ls --json` shows the task `interrupted`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use corral::runtime::cgroup;
use serde_json::Value;

/// Every corral sweeps the task cgroups of dead corrals when it starts, so
/// a test that needs a dead corral's cgroup to outlive it for a while holds
/// this exclusively; the others hold it shared while they start corrals.
static CORRAL_STARTS: std::sync::RwLock<()> = std::sync::RwLock::new(());

fn starts_shared() -> std::sync::RwLockReadGuard<'static, ()> {
    CORRAL_STARTS.read().unwrap_or_else(|e| e.into_inner())
}

fn starts_exclusive() -> std::sync::RwLockWriteGuard<'static, ()> {
    CORRAL_STARTS.write().unwrap_or_else(|e| e.into_inner())
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A corral whose config, data and state live in `home`.
fn corral(home: &Path) -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("corral"));
    cmd.env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    cmd
}

fn start_run(home: &Path, agent: &str) -> Child {
    corral(home)
        .args(["run", "--agent-bin"])
        .arg(fixtures().join("agents/fake_claude.sh"))
        .arg("wait forever")
        .env("FAKE_AGENT", agent)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("corral run starts")
}

fn ls_json(home: &Path) -> Vec<Value> {
    let out = corral(home).args(["ls", "--json"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .cloned()
        .unwrap()
}

/// `(pid, state)` of processes in session `sid`, from /proc.
fn session_members(sid: i32) -> Vec<(i32, char)> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| {
            let pid: i32 = e.ok()?.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let rest = &stat[stat.rfind(')')? + 1..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            let state = f.first()?.chars().next()?;
            let session: i32 = f.get(3)?.parse().ok()?;
            (session == sid && state != 'Z').then_some((pid, state))
        })
        .collect()
}

/// The children of `parent` (its agent is the session leader it spawned).
fn children(parent: i32) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| {
            let pid: i32 = e.ok()?.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let rest = &stat[stat.rfind(')')? + 1..];
            let ppid: i32 = rest.split_whitespace().nth(1)?.parse().ok()?;
            (ppid == parent).then_some(pid)
        })
        .collect()
}

/// Waits until `corral run` (pid) has spawned its agent and recorded it.
fn wait_for_agent(home: &Path, corral_pid: i32) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let recorded = ls_json(home)
            .iter()
            .any(|t| t["status"] == "running" && t["started_ms"].is_u64());
        // The session leader of its own session: the agent proper (corral's
        // other child is its watchdog).
        let agent = children(corral_pid)
            .into_iter()
            .find(|&child| session_members(child).iter().any(|(p, _)| *p == child));
        if let Some(agent) = agent
            && recorded
        {
            // Give the store writer a moment to record the agent group.
            std::thread::sleep(Duration::from_millis(300));
            return agent;
        }
        assert!(Instant::now() < deadline, "the agent never started");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_gone(sid: i32, within: Duration) -> Vec<(i32, char)> {
    let deadline = Instant::now() + within;
    loop {
        let left = session_members(sid);
        if left.is_empty() || Instant::now() >= deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn kill9(child: &mut Child) {
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    child.wait().unwrap();
}

#[test]
fn a_killed_corral_takes_its_agent_down_and_the_task_reads_interrupted() {
    let _starts = starts_shared();
    let home = tempfile::tempdir().unwrap();
    // It ignores SIGHUP, so the PTY hang-up alone would not stop it.
    let mut run = start_run(home.path(), "stubborn.sh");
    let agent = wait_for_agent(home.path(), run.id() as i32);
    kill9(&mut run);
    // No other corral ran: the parent-death signal alone stops it.
    let left = wait_gone(agent, Duration::from_secs(5));
    assert!(left.is_empty(), "agent processes still alive: {left:?}");

    let tasks = ls_json(home.path());
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0]["status"], "interrupted");
    assert_eq!(tasks[0]["title"], "wait forever");
    // The next reader recorded it for good.
    let record = std::fs::read_to_string(
        home.path()
            .join("data/corral/tasks")
            .join(tasks[0]["id"].as_str().unwrap())
            .join("task.json"),
    )
    .unwrap();
    let record: Value = serde_json::from_str(&record).unwrap();
    assert_eq!(record["status"], "interrupted");
    assert!(record["agent_group"]["pid"].as_i64() == Some(agent as i64));
}

#[test]
fn survivors_that_ignore_the_hang_up_are_killed_by_the_watchdog() {
    let _starts = starts_shared();
    let home = tempfile::tempdir().unwrap();
    // Children and a grandchild that ignore SIGHUP, SIGINT and SIGTERM.
    let mut run = start_run(home.path(), "fork_children.py");
    let agent = wait_for_agent(home.path(), run.id() as i32);
    // Wait for the children to exist.
    let deadline = Instant::now() + Duration::from_secs(10);
    while session_members(agent).len() < 4 {
        assert!(Instant::now() < deadline, "the fake agent never forked");
        std::thread::sleep(Duration::from_millis(50));
    }
    kill9(&mut run);
    // The leader dies with corral; its children ignore the hang-up, and
    // corral's watchdog kills them before any other corral command runs.
    std::thread::sleep(Duration::from_secs(2));
    let survivors = session_members(agent);
    assert!(
        survivors.is_empty(),
        "alive 2 s after kill -9: {survivors:?}"
    );

    // The next corral command finds the task interrupted.
    let tasks = ls_json(home.path());
    assert_eq!(tasks[0]["status"], "interrupted");
}

/// Whether `pid` is a live (non-zombie) process.
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
    })
}

#[test]
fn a_killed_corral_takes_escaped_processes_down_within_two_seconds() {
    let _starts = starts_shared();
    let home = tempfile::tempdir().unwrap();
    let pids_file = home.path().join("pids");
    // A setsid daemon, a double-forked daemon and a setpgid grandchild, all
    // ignoring SIGHUP, SIGINT and SIGTERM: neither the parent-death signal
    // nor the hang-up reaches them. Also 200 such children in the agent's
    // group and, where tasks get a cgroup, a daemon with no environment.
    let clean_env = corral::runtime::cgroup::available();
    let mut run = corral(home.path())
        .args(["run", "--agent-bin"])
        .arg(fixtures().join("agents/fake_claude.sh"))
        .arg("wait forever")
        .env("FAKE_AGENT", "escape.py")
        .env("ESCAPE_PIDS_FILE", &pids_file)
        .env("ESCAPE_CHILDREN", "200")
        .env("ESCAPE_CLEAN_ENV", if clean_env { "1" } else { "0" })
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("corral run starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    let pids: Vec<i32> = loop {
        let text = std::fs::read_to_string(&pids_file).unwrap_or_default();
        if text.ends_with("ready\n") {
            break text.lines().filter_map(|l| l.parse().ok()).collect();
        }
        assert!(Instant::now() < deadline, "escape.py never got ready");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(pids.len(), 203 + usize::from(clean_env));
    let corral_pid = run.id();
    assert_eq!(
        cgroup::task_cgroups_of(corral_pid).len(),
        usize::from(clean_env)
    );
    kill9(&mut run);
    // No other corral command runs before the check.
    std::thread::sleep(Duration::from_secs(2));
    let left: Vec<i32> = pids.into_iter().filter(|&pid| alive(pid)).collect();
    assert!(left.is_empty(), "still alive 2 s after kill -9: {left:?}");
    // The watchdog removed the task's cgroup: the next start finds nothing.
    assert_eq!(cgroup::task_cgroups_of(corral_pid), Vec::<PathBuf>::new());
}

/// The pid of `parent`'s child running the watchdog.
fn watchdog_of(parent: i32) -> Option<i32> {
    children(parent).into_iter().find(|&pid| {
        std::fs::read(format!("/proc/{pid}/cmdline"))
            .is_ok_and(|c| c.split(|&b| b == 0).any(|a| a == b"__corral-watchdog"))
    })
}

/// Where tasks get a cgroup: corral and its watchdog both `kill -9`ed, the
/// task's processes (one with no environment, which no tag finds) live on
/// in its cgroup until the next corral that starts agents kills them.
#[test]
fn the_next_start_kills_what_a_corral_and_its_watchdog_left_in_task_cgroups() {
    let _starts = starts_exclusive();
    if !cgroup::available() {
        eprintln!(
            "no delegated cgroup tree: {}; skipping",
            cgroup::mechanism()
        );
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let pids_file = home.path().join("pids");
    let mut run = corral(home.path())
        .args(["run", "--agent-bin"])
        .arg(fixtures().join("agents/fake_claude.sh"))
        .arg("wait forever")
        .env("FAKE_AGENT", "escape.py")
        .env("ESCAPE_PIDS_FILE", &pids_file)
        .env("ESCAPE_CLEAN_ENV", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("corral run starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    let pids: Vec<i32> = loop {
        let text = std::fs::read_to_string(&pids_file).unwrap_or_default();
        if text.ends_with("ready\n") {
            break text.lines().filter_map(|l| l.parse().ok()).collect();
        }
        assert!(Instant::now() < deadline, "escape.py never got ready");
        std::thread::sleep(Duration::from_millis(20));
    };
    let corral_pid = run.id();
    let watchdog = watchdog_of(corral_pid as i32).expect("corral runs a watchdog");
    unsafe { libc::kill(watchdog, libc::SIGKILL) };
    kill9(&mut run);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        pids.iter().any(|&pid| alive(pid)),
        "with the watchdog dead too, the escaped processes live on"
    );
    assert_eq!(cgroup::task_cgroups_of(corral_pid).len(), 1);
    // The next corral that starts agents.
    let out = corral(home.path())
        .args(["run", "--agent-bin"])
        .arg(fixtures().join("agents/fake_claude.sh"))
        .arg("hi")
        .env("FAKE_AGENT", "replay.sh")
        .env(
            "FAKE_AGENT_ARGS",
            format!("{} 0 2", fixtures().join("claude/text.jsonl").display()),
        )
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let left: Vec<i32> = pids.into_iter().filter(|&pid| alive(pid)).collect();
    assert!(left.is_empty(), "left after the next start: {left:?}");
    assert_eq!(cgroup::task_cgroups_of(corral_pid), Vec::<PathBuf>::new());
}

#[test]
fn a_reused_group_id_is_never_killed() {
    let _starts = starts_shared();
    let home = tempfile::tempdir().unwrap();
    // A task of a dead corral whose recorded agent group is now an unrelated
    // process group (this test's own, with a different start time).
    let tasks_dir = home.path().join("data/corral/tasks/0badc0de");
    std::fs::create_dir_all(&tasks_dir).unwrap();
    let innocent = Command::new("sleep")
        .arg("30")
        .process_group(0)
        .spawn()
        .unwrap();
    let pgid = innocent.id() as i32;
    let record = serde_json::json!({
        "version": 1, "id": "0badc0de", "title": "old", "prompt": "old",
        "agent": "claude", "cwd": "/", "options": {
            "binary": null, "model": null, "permission_mode": null,
            "allowed_tools": [], "disallowed_tools": [], "append_system_prompt": null,
            "add_dirs": [], "max_budget_usd": null, "session_id": null, "resume": null,
            "extra_args": [], "env": []
        },
        "status": "running", "created_ms": 1, "started_ms": 1, "updated_ms": 2,
        // A pid that cannot be a live corral.
        "owner": {"pid": i32::MAX, "start_time": 1},
        "agent_group": {"pid": pgid, "start_time": 1}
    });
    std::fs::write(tasks_dir.join("task.json"), record.to_string()).unwrap();
    let tasks = ls_json(home.path());
    assert_eq!(tasks[0]["status"], "interrupted");
    let mut innocent = innocent;
    assert!(
        innocent.try_wait().unwrap().is_none(),
        "an unrelated process group was killed"
    );
    let _ = innocent.kill();
    let _ = innocent.wait();
}

use std::os::unix::process::CommandExt;
