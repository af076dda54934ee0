//! End to end in a real terminal: the real `corral` binary in tmux. Launch a
//! fake agent through the `n` form, watch its text stream into the pane,
//! kill it with `x` `y`, check that its whole process group is gone, launch
//! another and quit with `q` `y`, which must kill it too.
//!
//! The cockpit (local or a client of the server) lists the task of a live
//! `corral run` read-only and never takes it over.
//!
//! Skipped (with a message) when tmux is not installed. Every wait is
//! bounded, and the tmux server is killed whatever happens.

use std::path::{Path, PathBuf};
#[path = "support/tmux.rs"]
mod tmux;

use std::time::{Duration, Instant};

use tmux::{Tmux, WAIT};

/// `(pid, pgid)` of every process running the script `needle` (its first
/// argument is the script: `bash SCRIPT ...`). corral and tmux mention the
/// path too, but not as their first argument.
fn procs_with(needle: &str) -> Vec<(i32, i32)> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in dir.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let arg1 = cmdline.split(|b| *b == 0).nth(1).unwrap_or_default();
        if arg1 != needle.as_bytes() {
            continue;
        }
        if let Some(pgid) = pgid_of(pid) {
            out.push((pid, pgid));
        }
    }
    out
}

fn pgid_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(2)?.parse().ok()
}

/// Pids of live (not zombie) processes in group `pgid`.
fn group_members(pgid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in dir.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let fields: Vec<&str> = stat[close + 2..].split_whitespace().collect();
        if fields.first() == Some(&"Z") {
            continue;
        }
        if fields.get(2).and_then(|g| g.parse::<i32>().ok()) == Some(pgid) {
            out.push(pid);
        }
    }
    out
}

fn wait_group_gone(pgid: i32) {
    let end = Instant::now() + WAIT;
    while !group_members(pgid).is_empty() {
        assert!(
            Instant::now() < end,
            "group {pgid} survived: {:?}",
            group_members(pgid)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The fake agent's process group, once it has its child.
fn agent_group(script: &Path) -> i32 {
    let end = Instant::now() + WAIT;
    let needle = script.to_string_lossy().into_owned();
    loop {
        if let Some(&(_, pgid)) = procs_with(&needle).first() {
            if group_members(pgid).len() >= 2 {
                return pgid;
            }
        }
        assert!(Instant::now() < end, "the fake agent never started");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn launch_watch_kill_and_quit_in_a_real_terminal() {
    if !Tmux::available_or_skip("tui_e2e") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    // A private copy of the fake agent, so /proc scans find only ours.
    let script: PathBuf = dir.path().join("tui_stream_agent.sh");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/agents/tui_stream.sh");
    std::fs::copy(&src, &script).expect("copy fake agent");
    let bin = env!("CARGO_BIN_EXE_corral");
    // Its own config, data and state: no task of another run shows up.
    let home = dir.path().display();
    let command = format!(
        "env XDG_CONFIG_HOME={home}/config XDG_DATA_HOME={home}/data XDG_STATE_HOME={home}/state \
         {bin} --local --agent-bin {} --cwd {}",
        script.display(),
        dir.path().display()
    );
    let tmux = Tmux::start(&command, 100, 30);
    tmux.wait_for("the empty cockpit", |s| s.contains("no tasks yet"));

    // Launch through the form.
    tmux.keys(&["n"]);
    tmux.wait_for("the form", |s| {
        s.contains("new task") && s.contains("Ctrl-S")
    });
    tmux.text("say hello");
    tmux.keys(&["Enter"]);
    tmux.text("twice");
    tmux.keys(&["C-s"]);
    let screen = tmux.wait_for("streamed text", |s| {
        s.contains("stream line 3 from the fake agent")
    });
    assert!(screen.contains("running"), "{screen}");
    assert!(
        screen.contains("say hello"),
        "the title is the prompt's first line:\n{screen}"
    );
    let pgid = agent_group(&script);

    // Kill with confirmation.
    tmux.keys(&["x"]);
    tmux.wait_for("the kill question", |s| s.contains("Kill #1"));
    tmux.keys(&["y"]);
    tmux.wait_for("the killed row", |s| s.contains("killed"));
    wait_group_gone(pgid);

    // A second agent, then quit: `q` asks, `y` kills it and exits.
    tmux.keys(&["n"]);
    tmux.wait_for("the form", |s| s.contains("new task"));
    tmux.text("second");
    tmux.keys(&["C-s"]);
    tmux.wait_for("the second task streaming", |s| {
        s.contains("#2") && s.contains("stream line 2 from the fake agent")
    });
    let second = {
        let end = Instant::now() + WAIT;
        loop {
            let groups: Vec<i32> = procs_with(&script.to_string_lossy())
                .into_iter()
                .map(|(_, g)| g)
                .filter(|g| *g != pgid)
                .collect();
            if let Some(g) = groups.first() {
                break *g;
            }
            assert!(Instant::now() < end, "the second agent never started");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    tmux.keys(&["q"]);
    tmux.wait_for("the quit question", |s| {
        s.contains("still running. Quit and stop")
    });
    tmux.keys(&["y"]);
    let end = Instant::now() + WAIT;
    while tmux.alive() {
        assert!(
            Instant::now() < end,
            "corral did not exit:\n{}",
            tmux.capture()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    wait_group_gone(second);
    assert!(procs_with(&script.to_string_lossy()).is_empty());
}

/// The `status` of every stored task under `home`.
fn stored_statuses(home: &Path) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(home.join("data/corral/tasks")) else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("task.json")).ok())
        .filter_map(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .map(|v| v["status"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn the_cockpit_leaves_a_live_corral_run_alone() {
    if !Tmux::available_or_skip("tui_e2e") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/agents");
    let bin = env!("CARGO_BIN_EXE_corral");
    let xdg = [
        ("XDG_CONFIG_HOME", home.join("config")),
        ("XDG_DATA_HOME", home.join("data")),
        ("XDG_STATE_HOME", home.join("state")),
    ];
    let mut run = std::process::Command::new(bin);
    run.args(["run", "--kill-grace", "0.3", "--agent-bin"])
        .arg(fixtures.join("fake_claude.sh"))
        .args(["--", "busy elsewhere"])
        .envs(xdg.clone())
        .env("FAKE_AGENT", "hang.sh")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut run = run.spawn().expect("corral run starts");
    let end = Instant::now() + WAIT;
    while stored_statuses(home) != ["running"] {
        assert!(Instant::now() < end, "the run never recorded its task");
        std::thread::sleep(Duration::from_millis(50));
    }

    std::fs::create_dir(home.join("run")).unwrap();
    let env: Vec<String> = xdg
        .iter()
        .map(|(k, v)| format!("{k}={}", v.display()))
        .chain([format!("XDG_RUNTIME_DIR={}", home.join("run").display())])
        .collect();
    let env = env.join(" ");
    // Stops the server this test starts, whatever happens.
    struct StopServer(String);
    impl Drop for StopServer {
        fn drop(&mut self) {
            let _ = std::process::Command::new("sh")
                .args(["-c", &self.0])
                .output();
        }
    }
    let _server = StopServer(format!("env {env} {bin} server stop --kill"));
    // The cockpit with its own agents, then as a client of the server: in
    // neither is the run's task taken over; both list it as another
    // corral's, read-only.
    for (mode, width) in [("--local", 90), ("", 96)] {
        let command = format!("env {env} {bin} {mode} --cwd {}", home.display());
        let tmux = Tmux::start(&command, width, 30);
        let screen = tmux.wait_for("the other corral's task, read-only", |s| {
            s.contains("no tasks yet") && s.contains("run by another corral")
        });
        let row = screen
            .lines()
            .find(|l| l.contains("busy elsewhere"))
            .unwrap_or_else(|| panic!("{mode}: no row for the run: {screen}"));
        assert!(row.contains("running"), "{mode}: {row}");
        assert!(
            row.contains(&format!("corral {}", run.id())),
            "{mode}: {row}"
        );
        // Keys act on the cockpit's own tasks only: there are none.
        tmux.keys(&["x"]);
        std::thread::sleep(Duration::from_millis(500));
        assert!(!tmux.capture().contains("Kill #"), "{}", tmux.capture());
        assert_eq!(stored_statuses(home), ["running"], "{}", tmux.capture());
        assert!(run.try_wait().unwrap().is_none(), "the run was stopped");
        tmux.keys(&["q"]);
        let end = Instant::now() + WAIT;
        while tmux.alive() {
            assert!(Instant::now() < end, "{mode}: the cockpit did not quit");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    // Its own corral still owns it and writes its end, which a cockpit
    // started meanwhile sees: the row goes away.
    let tmux = Tmux::start(&format!("env {env} {bin} --cwd {}", home.display()), 98, 30);
    tmux.wait_for("the running task", |s| s.contains("busy elsewhere"));
    unsafe { libc::kill(run.id() as i32, libc::SIGTERM) };
    let status = run.wait().unwrap();
    assert_eq!(status.code(), Some(143));
    assert_eq!(stored_statuses(home), ["killed"]);
    tmux.wait_for("the row of the finished run gone", |s| {
        !s.contains("run by another corral")
    });
}

fn git_in(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The worktree review in a real terminal, with a git that takes as long
/// as the test wants to read the changes: the cockpit keeps answering keys
/// while git works (git runs off the UI thread), then shows the diff,
/// merges, discards, and a follow-up after the discard runs the agent in a
/// fresh worktree, never in the removed one.
#[test]
fn the_review_answers_while_git_is_slow_and_a_follow_up_after_discard_starts_fresh() {
    if !Tmux::available_or_skip("tui_e2e") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path();
    let repo = home.join("project");
    std::fs::create_dir(&repo).unwrap();
    git_in(&repo, &["init", "-q", "-b", "main"]);
    git_in(&repo, &["config", "user.name", "Test User"]);
    git_in(&repo, &["config", "user.email", "test@example.invalid"]);
    git_in(&repo, &["config", "commit.gpgsign", "false"]);
    std::fs::write(repo.join("greeting.txt"), "hello\nsecond line\n").unwrap();
    std::fs::write(repo.join("obsolete.txt"), "old stuff\n").unwrap();
    git_in(&repo, &["add", "-A"]);
    git_in(&repo, &["commit", "-q", "-m", "start"]);
    // A git whose `diff` waits for the gate file: a repository as slow as
    // the test wants.
    let real_git = String::from_utf8(
        std::process::Command::new("sh")
            .args(["-c", "command -v git"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let gate = home.join("gate");
    let bin_dir = home.join("bin");
    std::fs::create_dir(&bin_dir).unwrap();
    let slow_git = bin_dir.join("git");
    std::fs::write(
        &slow_git,
        format!(
            "#!/bin/sh\ncase \"$3\" in diff*) while [ ! -e '{}' ]; do sleep 0.05; done;; esac\nexec {} \"$@\"\n",
            gate.display(),
            real_git.trim()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &slow_git,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let config = home.join("config/corral");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(config.join("config.toml"), "[defaults]\nworktree = true\n").unwrap();
    let agent = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/agents/edit_files.sh");
    let bin = env!("CARGO_BIN_EXE_corral");
    let command = format!(
        "env PATH={}:{} GIT_CONFIG_GLOBAL=/dev/null XDG_CONFIG_HOME={h}/config XDG_DATA_HOME={h}/data \
         XDG_STATE_HOME={h}/state {bin} --local --agent-bin {} --cwd {}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default(),
        agent.display(),
        repo.display(),
        h = home.display(),
    );
    let tmux = Tmux::start(&command, 110, 30);
    tmux.wait_for("the empty cockpit", |s| s.contains("no tasks yet"));
    tmux.keys(&["n"]);
    tmux.wait_for("the form", |s| s.contains("new task"));
    tmux.text("edit the files");
    tmux.keys(&["C-s"]);
    tmux.wait_for("the agent's work", |s| s.contains("Edited the files in"));
    tmux.wait_for("the finished task", |s| s.contains("✓ succeeded"));

    // Git is stuck reading the changes: the review opens at once and the
    // cockpit keeps answering.
    tmux.keys(&["d"]);
    tmux.wait_for("the review, waiting for git", |s| {
        s.contains("reading the changes…")
    });
    // (q, not Esc: Esc and the next key would read as Alt-key.)
    tmux.keys(&["q"]);
    tmux.wait_for("the review closed", |s| !s.contains("reading the changes"));
    tmux.keys(&["?"]);
    tmux.wait_for("the help, while git still works", |s| {
        s.contains("this help")
    });
    tmux.keys(&["q"]);
    tmux.wait_for("the help closed", |s| !s.contains("this help"));
    tmux.keys(&["d"]);
    tmux.wait_for("the review again", |s| s.contains("reading the changes…"));
    std::fs::write(&gate, "").unwrap();
    tmux.wait_for("the diff", |s| {
        s.contains("greeting.txt") && s.contains("added.txt")
    });

    // Merge: the base branch gets the work.
    tmux.keys(&["M"]);
    tmux.wait_for("the merge", |s| s.contains("merged ("));
    assert!(repo.join("added.txt").exists(), "{}", tmux.capture());

    // Discard: asks, then removes the worktree.
    tmux.keys(&["D"]);
    tmux.wait_for("the discard question", |s| s.contains("y yes"));
    tmux.keys(&["y"]);
    tmux.wait_for("the discard", |s| s.contains("removed its worktree"));
    let worktrees = git_in(&repo, &["worktree", "list"]);
    assert_eq!(worktrees.lines().count(), 1, "{worktrees}");

    // A follow-up makes a fresh worktree and the agent works there.
    tmux.keys(&["m"]);
    tmux.text("once more");
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for("the agent in a fresh worktree", |s| {
        s.matches("Edited the files in").count() >= 2
    });
    assert!(!screen.contains("No such file"), "{screen}");
    let worktrees = git_in(&repo, &["worktree", "list"]);
    assert_eq!(worktrees.lines().count(), 2, "a fresh one: {worktrees}");
    tmux.keys(&["q"]);
}

/// The pids `escape.py` wrote to `file` (`count` of them), once it wrote
/// them all.
fn escaped_pids(file: &Path, count: usize) -> Vec<i32> {
    let end = Instant::now() + WAIT;
    loop {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        if text.ends_with("ready\n") {
            let pids: Vec<i32> = text.lines().filter_map(|l| l.parse().ok()).collect();
            assert_eq!(pids.len(), count, "{text}");
            return pids;
        }
        assert!(Instant::now() < end, "escape.py never got ready");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
    })
}

#[test]
fn the_kill_keys_leave_no_child_and_no_escaped_process() {
    if !Tmux::available_or_skip("tui_e2e") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().display();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/agents");
    let pids_file = dir.path().join("pids");
    // 200 children in the agent's group and processes that left it (setsid,
    // double fork, setpgid, and where tasks get a cgroup, no environment),
    // all ignoring SIGHUP, SIGINT and SIGTERM.
    let clean_env = corral::runtime::cgroup::available();
    let count = 203 + usize::from(clean_env);
    let command = format!(
        "env XDG_CONFIG_HOME={home}/config XDG_DATA_HOME={home}/data XDG_STATE_HOME={home}/state \
         FAKE_AGENT=escape.py ESCAPE_CHILDREN=200 ESCAPE_CLEAN_ENV={} ESCAPE_PIDS_FILE={} \
         {} --local --agent-bin {} --cwd {home}",
        u8::from(clean_env),
        pids_file.display(),
        env!("CARGO_BIN_EXE_corral"),
        fixtures.join("fake_claude.sh").display(),
    );
    // Its own width: the tmux socket is named by pid and width.
    let tmux = Tmux::start(&command, 104, 30);
    tmux.wait_for("the empty cockpit", |s| s.contains("no tasks yet"));
    let launch = |prompt: &str| {
        let _ = std::fs::remove_file(&pids_file);
        tmux.keys(&["n"]);
        tmux.wait_for("the form", |s| s.contains("new task"));
        tmux.text(prompt);
        tmux.keys(&["C-s"]);
        escaped_pids(&pids_file, count)
    };

    kill_then_quit_leave_no_process(&tmux, launch, |_| {}, "q", "still running. Quit and stop");
}

/// `x` `y` on a task just launched (after `check` looked at its
/// processes), then `quit_key` `y` (answering `question`) with a second
/// one running: nothing either started survives, and corral exits.
fn kill_then_quit_leave_no_process(
    tmux: &Tmux,
    launch: impl Fn(&str) -> Vec<i32>,
    check: impl FnOnce(&[i32]),
    quit_key: &str,
    question: &str,
) {
    let pids = launch("first");
    check(&pids);
    tmux.keys(&["x"]);
    tmux.wait_for("the kill question", |s| s.contains("Kill #1"));
    tmux.keys(&["y"]);
    tmux.wait_for("the killed row", |s| s.contains("killed"));
    let left: Vec<i32> = pids.into_iter().filter(|&p| alive(p)).collect();
    assert!(left.is_empty(), "{} survived x y: {left:?}", left.len());

    let pids = launch("second");
    tmux.keys(&[quit_key]);
    tmux.wait_for("the quit question", |s| s.contains(question));
    tmux.keys(&["y"]);
    let end = Instant::now() + WAIT;
    while tmux.alive() {
        assert!(Instant::now() < end, "corral did not exit");
        std::thread::sleep(Duration::from_millis(100));
    }
    let left: Vec<i32> = pids.into_iter().filter(|&p| alive(p)).collect();
    assert!(
        left.is_empty(),
        "{} survived {quit_key} y: {left:?}",
        left.len()
    );
}

/// The same kill keys with the cockpit as a client of the server (the
/// default): `x` `y` and `Q` `y` go through the server, which runs the
/// ladder and the sweep; nothing the agent started survives either.
#[test]
fn the_kill_keys_through_the_server_leave_no_child_and_no_escaped_process() {
    if !Tmux::available_or_skip("tui_e2e") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("run")).expect("runtime dir");
    let home = dir.path().display();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/agents");
    let pids_file = dir.path().join("pids");
    let clean_env = corral::runtime::cgroup::available();
    let count = 203 + usize::from(clean_env);
    let env = format!(
        "env XDG_CONFIG_HOME={home}/config XDG_DATA_HOME={home}/data XDG_STATE_HOME={home}/state \
         XDG_RUNTIME_DIR={home}/run FAKE_AGENT=escape.py ESCAPE_CHILDREN=200 \
         ESCAPE_CLEAN_ENV={} ESCAPE_PIDS_FILE={}",
        u8::from(clean_env),
        pids_file.display(),
    );
    let command = format!(
        "{env} {} --agent-bin {} --cwd {home}",
        env!("CARGO_BIN_EXE_corral"),
        fixtures.join("fake_claude.sh").display(),
    );
    // Stops the server this test started, whatever happens.
    struct StopServer(String);
    impl Drop for StopServer {
        fn drop(&mut self) {
            let _ = std::process::Command::new("sh")
                .args(["-c", &self.0])
                .output();
        }
    }
    let _server = StopServer(format!(
        "{env} {} server stop --kill",
        env!("CARGO_BIN_EXE_corral")
    ));
    let tmux = Tmux::start(&command, 106, 30);
    tmux.wait_for("the empty cockpit", |s| s.contains("no tasks yet"));
    let launch = |prompt: &str| {
        let _ = std::fs::remove_file(&pids_file);
        tmux.keys(&["n"]);
        tmux.wait_for("the form", |s| s.contains("new task"));
        tmux.text(prompt);
        tmux.keys(&["C-s"]);
        escaped_pids(&pids_file, count)
    };

    // The agent runs in the server, not in the cockpit.
    let check = |pids: &[i32]| {
        let server: i32 = std::fs::read_to_string(dir.path().join("data/corral/server.lock"))
            .expect("a server runs")
            .trim()
            .parse()
            .expect("its pid");
        assert!(alive(server), "the server runs");
        let parent_of = |pid: i32| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| {
                    s.rsplit_once(')')?
                        .1
                        .split_whitespace()
                        .nth(1)?
                        .parse()
                        .ok()
                })
        };
        let agent = parent_of(pids[pids.len() - 1]).expect("the agent");
        assert_eq!(
            parent_of(agent),
            Some(server),
            "the agent is the server's child"
        );
    };
    kill_then_quit_leave_no_process(&tmux, launch, check, "Q", "in the server. Stop");
}

/// The resident memory the pane header shows (`... · 43M`), in MiB.
fn header_mib(screen: &str) -> Option<f64> {
    let header = screen.lines().find(|l| l.contains("% cpu · "))?;
    let after = header.split("% cpu · ").nth(1)?;
    let size: String = after
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.' || c.is_ascii_alphabetic())
        .collect();
    let (number, unit) = size.split_at(size.len().checked_sub(1)?);
    let n: f64 = number.parse().ok()?;
    Some(match unit {
        "K" => n / 1024.0,
        "M" => n,
        "G" => n * 1024.0,
        _ => return None,
    })
}

#[test]
fn a_runaway_childs_cpu_and_memory_show_and_go_when_it_is_killed() {
    if !Tmux::available_or_skip("tui_e2e") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let script: PathBuf = dir.path().join("burn_child_agent.py");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/agents/burn_child.py");
    std::fs::copy(&src, &script).expect("copy fake agent");
    let bin = env!("CARGO_BIN_EXE_corral");
    let home = dir.path().display();
    let command = format!(
        "env XDG_CONFIG_HOME={home}/config XDG_DATA_HOME={home}/data XDG_STATE_HOME={home}/state \
         {bin} --local --agent command --agent-bin {} --cwd {}",
        script.display(),
        dir.path().display()
    );
    let tmux = Tmux::start(&command, 120, 30);
    tmux.wait_for("the empty cockpit", |s| s.contains("no tasks yet"));
    tmux.keys(&["n"]);
    tmux.wait_for("the form", |s| s.contains("new task"));
    tmux.text("burn");
    tmux.keys(&["C-s"]);
    // The agent and its spinning child: two processes, a CPU column.
    let first = tmux.wait_for("the tree's cost in the header", |s| {
        s.contains("2 processes ·") && header_mib(s).is_some()
    });
    assert!(first.contains("cpu   mem"), "the row's columns:\n{first}");
    let start = header_mib(&first).unwrap();
    // The child grows 4 MiB a second: the memory moves.
    tmux.wait_for("the memory growing", |s| {
        header_mib(s).is_some_and(|now| now >= start + 4.0)
    });
    let burner: i32 = first
        .lines()
        .find_map(|l| l.split("burner ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("no burner pid on screen:\n{first}"));
    // SAFETY: kill(2) on the child the fake agent announced.
    assert_eq!(unsafe { libc::kill(burner, libc::SIGKILL) }, 0);
    // The agent exits after its child; nothing is sampled any more.
    let end = tmux.wait_for("the agent done", |s| s.contains("the burner is gone"));
    let end = if end.contains("% cpu") || end.contains("cpu   mem") {
        tmux.wait_for("the cost gone", |s| {
            !s.contains("% cpu") && !s.contains("cpu   mem")
        })
    } else {
        end
    };
    assert!(end.contains("succeeded"), "{end}");
    tmux.keys(&["q"]);
}
