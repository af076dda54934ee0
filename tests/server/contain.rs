//! Containment and store ownership with the agents in the server: every
//! way a server task is stopped (`corral kill`, `corral server stop
//! --kill`, SIGTERM of the server, `kill -9` of the server) leaves none of
//! the agent's 200 children and none of the processes that left its group,
//! the open session of a finished task is closed by `corral kill` and
//! `corral server stop` (its status kept, a follow-up resuming it),
//! and commands racing the server never overwrite a final status; a bad
//! config line is named where a server would start with it; no secret of a
//! server task reaches a file.

use super::*;

/// Processes that leave the group: setsid, double fork, setpgid, and where
/// tasks get a cgroup one with no environment.
fn outside_group() -> usize {
    3 + usize::from(corral::runtime::cgroup::available())
}

/// The pids `escape.py` wrote to `file` (`count` of them), once it wrote
/// them all.
fn escaped_pids(file: &Path, count: usize) -> Vec<i32> {
    let mut text = String::new();
    let ready = wait_until(Duration::from_secs(30), || {
        text = std::fs::read_to_string(file).unwrap_or_default();
        text.ends_with("ready\n")
    });
    assert!(ready, "escape.py never got ready: {text}");
    let pids: Vec<i32> = text.lines().filter_map(|l| l.parse().ok()).collect();
    assert_eq!(pids.len(), count, "{text}");
    pids
}

/// Hands `escape.py` with 200 stubborn children to the server; returns the
/// task's id and every pid it started.
fn detach_escaper(home: &Home) -> (String, Vec<i32>) {
    let pids_file = home.path().join("pids");
    let _ = std::fs::remove_file(&pids_file);
    let pids_path = pids_file.display().to_string();
    let clean_env = u8::from(corral::runtime::cgroup::available()).to_string();
    let id = home.detach_fake(
        "escape.py",
        &[
            ("ESCAPE_CHILDREN", "200"),
            ("ESCAPE_PIDS_FILE", &pids_path),
            ("ESCAPE_CLEAN_ENV", &clean_env),
        ],
        &[],
        "escape",
    );
    let pids = escaped_pids(&pids_file, 200 + outside_group());
    (id, pids)
}

fn survivors(pids: &[i32]) -> Vec<i32> {
    pids.iter().copied().filter(|&pid| alive(pid)).collect()
}

#[test]
fn every_way_a_server_task_stops_leaves_no_child_and_no_escaped_process() {
    // `corral kill ID`: the task ends `killed` and counts the escapees.
    let home = Home::new();
    let (id, pids) = detach_escaper(&home);
    assert_eq!(home.ok(&["kill", &id]).trim(), format!("killed {id}"));
    let left = survivors(&pids);
    assert!(
        left.is_empty(),
        "{} survived corral kill: {left:?}",
        left.len()
    );
    let task = home.task(&id);
    assert_eq!(task["status"], "killed", "{task}");
    assert_eq!(task["killed_outside_group"], outside_group(), "{task}");

    // `corral server stop --kill`.
    let (id, pids) = detach_escaper(&home);
    let out = home.ok(&["server", "stop", "--kill"]);
    assert!(out.starts_with("corral server stopped"), "{out}");
    let left = survivors(&pids);
    assert!(
        left.is_empty(),
        "{} survived server stop: {left:?}",
        left.len()
    );
    assert_eq!(home.status_of(&id), "killed");

    // SIGTERM of the server (systemd stopping it, a shutdown).
    let (id, pids) = detach_escaper(&home);
    let server = home.server_pid().expect("a server runs");
    unsafe { libc::kill(server, libc::SIGTERM) };
    assert!(
        wait_until(Duration::from_secs(30), || !alive(server)),
        "the server outlived SIGTERM"
    );
    let left = survivors(&pids);
    assert!(left.is_empty(), "{} survived SIGTERM: {left:?}", left.len());
    assert_eq!(home.status_of(&id), "killed");

    // SIGHUP is not a reason to stop: the agent goes on.
    let (id, pids) = detach_escaper(&home);
    let server = home.server_pid().expect("a server runs");
    unsafe { libc::kill(server, libc::SIGHUP) };
    std::thread::sleep(Duration::from_millis(300));
    assert!(alive(server), "SIGHUP stopped the server");
    assert_eq!(survivors(&pids).len(), pids.len(), "SIGHUP killed agents");
    assert_eq!(home.status_of(&id), "running");

    // `kill -9` of the server: 2 s later nothing is left, checked before
    // any other corral command could clean up.
    unsafe { libc::kill(server, libc::SIGKILL) };
    std::thread::sleep(Duration::from_secs(2));
    let left = survivors(&pids);
    assert!(
        left.is_empty(),
        "{} alive 2 s after kill -9 of the server: {left:?}",
        left.len()
    );
    assert!(
        corral::runtime::cgroup::task_cgroups_of(server as u32).is_empty(),
        "the watchdog removed the task cgroups"
    );
    assert_eq!(home.status_of(&id), "interrupted");
}

#[test]
fn commands_racing_the_server_never_overwrite_a_final_status() {
    const WORKERS: usize = 20;
    const RUNS_EACH: usize = 5;
    let home = std::sync::Arc::new(Home::new());
    home.ok(&["server", "start"]);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // `corral ls` in a loop beside the server: each one reads the store and
    // judges the owners of unfinished records.
    let lister = {
        let (home, stop) = (home.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut listed = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let tasks: Value =
                    serde_json::from_str(&home.ok(&["ls", "--all", "--json"])).unwrap();
                let cut: Vec<&Value> = tasks
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|t| t["status"] == "interrupted")
                    .collect();
                assert!(cut.is_empty(), "ls showed tasks as interrupted: {cut:?}");
                listed += 1;
            }
            listed
        })
    };
    let transcript = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/claude/text.jsonl");
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (home, transcript) = (home.clone(), transcript.clone());
            std::thread::spawn(move || {
                (0..RUNS_EACH)
                    .map(|_| {
                        let replay = transcript.display().to_string();
                        home.detach_fake(
                            "replay.sh",
                            &[("FAKE_AGENT_ARGS", &replay)],
                            &[],
                            "say hi",
                        )
                    })
                    .collect::<Vec<String>>()
            })
        })
        .collect();
    let ids: Vec<String> = workers
        .into_iter()
        .flat_map(|w| w.join().expect("every submission succeeds"))
        .collect();
    assert_eq!(ids.len(), WORKERS * RUNS_EACH);
    let mut unfinished = Vec::new();
    let all_final = wait_until(Duration::from_secs(120), || {
        let tasks: Value = serde_json::from_str(&home.ok(&["ls", "--all", "--json"])).unwrap();
        unfinished = tasks
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["status"] != "succeeded")
            .cloned()
            .collect();
        tasks.as_array().unwrap().len() == ids.len() && unfinished.is_empty()
    });
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let listed = lister.join().expect("no ls saw an interrupted task");
    assert!(listed > 0, "ls ran beside the server");
    assert!(all_final, "not all succeeded: {unfinished:?}");
    // The stored records agree once the server is gone.
    home.ok(&["server", "stop"]);
    let tasks: Value = serde_json::from_str(&home.ok(&["ls", "--all", "--json"])).unwrap();
    let lost: Vec<&Value> = tasks
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["status"] != "succeeded")
        .collect();
    assert!(
        lost.is_empty(),
        "{} lost their result: {lost:?}",
        lost.len()
    );
}

#[test]
fn a_bad_config_line_is_named_where_a_server_would_start_and_none_runs() {
    let home = Home::new();
    let dir = home.path().join("config/corral");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.toml"), "concurrency = 2\nbogus line\n").unwrap();
    for args in [
        &["server", "start"][..],
        &["server", "restart"],
        &["run", "--detach", "--", "hi"],
    ] {
        let out = home.run(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("config.toml:2:"), "{args:?}: {err}");
        assert!(home.server_pid().is_none(), "{args:?} started a server");
    }
    // Stopping and asking need no config.
    assert!(
        home.ok(&["server", "stop"])
            .contains("no corral server runs")
    );
}

/// Claude Code runs each Bash command in a new session, out of the group
/// the server kills. The real claude against the loopback mock, its task
/// handed to the server and its Bash command allowed with `corral answer`:
/// 2 s after `kill -9` of the server, nothing of the tool tree (nor claude)
/// is left, before any other corral command runs.
#[test]
fn kill_9_of_the_server_during_a_long_bash_command_leaves_nothing_of_the_tool_tree() {
    use support::anthropic_mock::{MockAnthropic, Reply};
    const LONG: &str = "sleep 3119";
    let Some(claude) = support::claude_or_skip("server kill -9 during a Bash command") else {
        return;
    };
    let mock = MockAnthropic::start(vec![Reply::bash(
        &format!("{LONG}; echo done"),
        "Let me run a long command.",
    )]);
    let sandbox = support::Sandbox::new(&claude);
    let env = sandbox.with_corral_dirs(sandbox.env(mock.port()));
    let home = sandbox.corral_home();
    let work = sandbox.work.display().to_string();
    let corral = corral_in(&sandbox, &env);
    let server_pid = || -> Option<i32> {
        let text = std::fs::read_to_string(home.join("data/corral/server.lock")).ok()?;
        text.trim().parse().ok().filter(|&pid| alive(pid))
    };
    struct KillServer<'a>(&'a dyn Fn() -> Option<i32>);
    impl Drop for KillServer<'_> {
        fn drop(&mut self) {
            if let Some(pid) = (self.0)() {
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
    let _kill = KillServer(&server_pid);
    let out = corral(&[
        "run",
        "--detach",
        "--cwd",
        &work,
        "--permission-mode",
        "default",
        "--",
        "Run the long command.",
    ]);
    assert!(out.status.success(), "{out:?}");
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let status = || -> String {
        let out = corral(&["ls", "--json", "--all"]);
        let tasks: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        tasks
            .as_array()
            .and_then(|t| t.iter().find(|t| t["id"] == id))
            .and_then(|t| t["status"].as_str())
            .unwrap_or_default()
            .to_string()
    };
    // Claude asks before it runs the command (unless its settings allow
    // it): allowed from the command line, as a user would.
    let mut tool = Vec::new();
    let mut answered = false;
    assert!(
        wait_until(Duration::from_secs(90), || {
            if !answered && status() == "blocked" {
                let out = corral(&["answer", &id, "allow"]);
                assert!(out.status.success(), "{out:?}");
                answered = true;
            }
            tool = sandbox
                .leftover_processes()
                .into_iter()
                .filter(|(_, cmdline)| cmdline.contains(LONG))
                .collect();
            !tool.is_empty()
        }),
        "the Bash tool never ran `{LONG}` (task {}): {:?}",
        status(),
        sandbox.leftover_processes()
    );
    let server = server_pid().expect("a server runs");
    unsafe { libc::kill(server, libc::SIGKILL) };
    // No other corral command runs before the check.
    std::thread::sleep(Duration::from_secs(2));
    let left = sandbox.leftover_processes();
    assert!(
        left.is_empty(),
        "alive 2 s after kill -9 of the server: {left:?}"
    );
}

/// Every file under `dir`.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                todo.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}

/// Secrets handed to a server task (in `--env`, an agent argument, a URL
/// in the prompt, the server's own environment) and echoed by the agent
/// reach no file corral wrote: records, events, raw logs, the server log.
#[test]
fn no_secret_of_a_server_task_reaches_any_file() {
    let home = Home::new();
    let own_key = "sk-own-0123456789abcdef";
    let secrets = [
        own_key,
        "dbpass-0123456789",
        "urlpass-0123456789",
        "argkey-0123456789",
        "promptpass-0123",
        "tok-0123456789abc",
    ];
    // The server's environment holds a key (as a user's shell would).
    let out = run_bounded({
        let mut cmd = home.corral(&["server", "start"]);
        cmd.env("ANTHROPIC_API_KEY", own_key);
        cmd
    });
    assert!(out.status.success(), "{out:?}");
    let id = home.detach_fake(
        "echo_secrets.py",
        &[
            (
                "FAKE_AGENT_ARGS",
                "ANTHROPIC_API_KEY DB_PASS DATABASE_URL MY_TOKEN",
            ),
            ("DB_PASS", "dbpass-0123456789"),
            (
                "DATABASE_URL",
                "postgres://app:urlpass-0123456789@db.local/main",
            ),
            ("MY_TOKEN", "tok-0123456789abc"),
        ],
        &["--agent-arg=--api-key=argkey-0123456789"],
        "migrate postgres://app:promptpass-0123@db.local/main",
    );
    home.wait_status(&id, "succeeded");
    home.ok(&["server", "stop"]);
    let files: Vec<PathBuf> = ["data", "state", "run"]
        .iter()
        .flat_map(|dir| files_under(&home.path().join(dir)))
        .collect();
    let mut echoed = false;
    for file in &files {
        let text = String::from_utf8_lossy(&std::fs::read(file).unwrap_or_default()).into_owned();
        for secret in secrets {
            assert!(!text.contains(secret), "{secret} is in {}", file.display());
        }
        echoed |= text.contains("ANTHROPIC_API_KEY=<redacted>");
    }
    assert!(echoed, "the agent's echo is stored, redacted: {files:?}");
}

/// The pid a fake agent wrote to `file` (bounded wait for it).
fn pid_in(file: &Path) -> i32 {
    let mut pid = None;
    wait_until(Duration::from_secs(10), || {
        pid = std::fs::read_to_string(file)
            .ok()
            .and_then(|t| t.trim().parse().ok());
        pid.is_some()
    });
    pid.unwrap_or_else(|| panic!("no pid in {}", file.display()))
}

#[test]
fn an_open_session_is_closed_by_kill_and_by_server_stop_and_resumes_after() {
    let home = Home::new();
    let pid_file = home.path().join("agent.pid");
    let child_file = home.path().join("child.pid");
    let id = home.detach_asker(
        "make a marker",
        &[
            ("ASK_PID_FILE", &pid_file.display().to_string()),
            ("ASK_CHILD_PID_FILE", &child_file.display().to_string()),
        ],
    );
    home.wait_status(&id, "blocked");
    home.ok(&["answer", &id, "allow"]);
    home.wait_status(&id, "succeeded");
    let (agent, child) = (pid_in(&pid_file), pid_in(&child_file));
    assert!(
        alive(agent) && alive(child),
        "the session waits for a follow-up"
    );
    // `kill` of the finished task closes its session and waits for it.
    assert_eq!(
        home.ok(&["kill", &id]).trim(),
        format!("closed the session of {id}")
    );
    assert!(
        wait_until(Duration::from_secs(5), || !alive(agent) && !alive(child)),
        "the agent or its child outlived the close"
    );
    assert_eq!(home.status_of(&id), "succeeded", "the status stays");
    let logs = || String::from_utf8_lossy(&home.run(&["logs", &id]).stdout).into_owned();
    assert!(
        logs().contains("session closed, a follow-up resumes it"),
        "{}",
        logs()
    );
    // Nothing is left to kill now.
    let out = home.run(&["kill", &id]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is already succeeded"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A follow-up resumes it, as after an idle close.
    std::fs::remove_file(&pid_file).unwrap();
    home.ok(&["send", &id, "once more"]);
    home.wait_status(&id, "blocked");
    assert!(
        logs().contains("session was closed; resumed from session"),
        "{}",
        logs()
    );
    home.ok(&["answer", &id, "allow"]);
    home.wait_status(&id, "succeeded");
    let agent = pid_in(&pid_file);
    assert!(alive(agent));
    // `server stop` does not refuse for an open session: it closes it.
    let server = home.server_pid().expect("the server runs");
    home.ok(&["server", "stop"]);
    assert!(
        wait_until(Duration::from_secs(5), || !alive(agent) && !alive(server)),
        "the server or the session's agent is still there"
    );
    assert_eq!(home.status_of(&id), "succeeded");
}
