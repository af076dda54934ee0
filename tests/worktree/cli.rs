//! Worktree tasks as a user drives them: `corral run --worktree` with a fake
//! agent that edits files (tests/fixtures/agents/edit_files.sh), then
//! `corral diff`, `corral merge` and `corral discard`, all against real
//! temporary git repositories and the real git binary. Every corral gets
//! private XDG config, data and state directories.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A private home for corral and a git repository with two files on `main`.
struct Setup {
    home: TempDir,
    repo: PathBuf,
}

fn git(dir: &Path, args: &[&str]) -> Output {
    Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git runs")
}

fn git_ok(dir: &Path, args: &[&str]) -> String {
    let out = git(dir, args);
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

impl Setup {
    fn new() -> Setup {
        let home = tempfile::tempdir().expect("temp dir");
        let repo = home.path().join("project");
        std::fs::create_dir(&repo).unwrap();
        git_ok(&repo, &["init", "-q", "-b", "main"]);
        git_ok(&repo, &["config", "user.name", "Test User"]);
        git_ok(&repo, &["config", "user.email", "test@example.invalid"]);
        git_ok(&repo, &["config", "commit.gpgsign", "false"]);
        std::fs::write(repo.join("greeting.txt"), "hello\nsecond line\n").unwrap();
        std::fs::write(repo.join("obsolete.txt"), "old stuff\n").unwrap();
        git_ok(&repo, &["add", "-A"]);
        git_ok(&repo, &["commit", "-q", "-m", "start"]);
        Setup { home, repo }
    }

    /// The corral binary with this setup's private XDG directories.
    fn corral(&self) -> Command {
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("corral"));
        for (var, dir) in [
            ("XDG_CONFIG_HOME", "config"),
            ("XDG_DATA_HOME", "data"),
            ("XDG_STATE_HOME", "state"),
        ] {
            cmd.env(var, self.home.path().join(dir));
        }
        cmd.env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        cmd
    }

    /// `corral run --worktree` in `dir` with the editing fake agent.
    fn run_worktree(&self, dir: &Path, agent_args: &str, prompt: &str) -> Output {
        let mut cmd = self.corral();
        cmd.arg("run")
            .arg("--worktree")
            .arg("--cwd")
            .arg(dir)
            .arg("--agent-bin")
            .arg(fixtures().join("agents/fake_claude.sh"))
            .arg("--kill-grace")
            .arg("0.3")
            .env("FAKE_AGENT", "edit_files.sh")
            .env("FAKE_AGENT_ARGS", agent_args)
            .arg(prompt);
        run(&mut cmd)
    }

    /// The only stored task, from `corral ls --json`.
    fn task(&self) -> Value {
        let out = run(self.corral().args(["ls", "--json", "--all"]));
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let list: Value = serde_json::from_slice(&out.stdout).expect("ls --json is JSON");
        let tasks = list.as_array().expect("an array");
        assert_eq!(tasks.len(), 1, "{list}");
        tasks[0].clone()
    }

    fn read(&self, name: &str) -> Option<String> {
        std::fs::read_to_string(self.repo.join(name)).ok()
    }
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
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    });
    let out = child.wait_with_output().expect("corral ran");
    drop(guard);
    out
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn both(out: &Output) -> String {
    format!("{}{}", text(&out.stdout), text(&out.stderr))
}

#[test]
fn a_worktree_task_edits_only_its_worktree_then_diff_shows_it_and_merge_fast_forwards() {
    let s = Setup::new();
    let main_before = git_ok(&s.repo, &["rev-parse", "main"]);
    let out = s.run_worktree(&s.repo, "", "Tidy the greeting");
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));

    let task = s.task();
    let id = task["id"].as_str().expect("an id").to_string();
    let branch = task["branch"].as_str().expect("a branch").to_string();
    assert_eq!(branch, format!("corral/{id}-tidy-the-greeting"));
    let wt = PathBuf::from(task["worktree"].as_str().expect("a worktree path"));
    assert!(
        wt.starts_with(s.home.path().join("data")),
        "worktrees live under the data directory: {}",
        wt.display()
    );
    let stdout = text(&out.stdout);
    assert!(stdout.contains(&format!("on branch {branch}")), "{stdout}");
    assert!(
        stdout.contains(&format!("Edited the files in {}.", wt.display())),
        "the agent ran in the worktree: {stdout}"
    );
    assert!(
        text(&out.stderr).contains(&format!("corral diff {id}")),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        git_ok(&s.repo, &["branch", "--list", &branch]).trim_start_matches("+ "),
        branch
    );

    // The main checkout is untouched; the worktree has the edits.
    assert_eq!(
        s.read("greeting.txt").as_deref(),
        Some("hello\nsecond line\n")
    );
    assert!(s.read("obsolete.txt").is_some());
    assert!(s.read("added.txt").is_none());
    assert_eq!(git_ok(&s.repo, &["status", "--porcelain"]), "");
    assert_eq!(git_ok(&s.repo, &["rev-parse", "main"]), main_before);
    assert_eq!(
        std::fs::read_to_string(wt.join("greeting.txt")).unwrap(),
        "hello from the agent\nsecond line\n"
    );

    // The diff, by a prefix of the id.
    let out = run(s.corral().args(["diff", &id[..5]]));
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let diff = text(&out.stdout);
    for expected in [
        "diff --git a/greeting.txt b/greeting.txt",
        "-hello\n+hello from the agent\n",
        "+a new file\n+with two lines\n",
        "deleted file mode",
        "-old stuff\n",
    ] {
        assert!(diff.contains(expected), "{expected:?} in\n{diff}");
    }
    assert!(!diff.contains('\u{1b}'), "no colour off a terminal");

    let out = run(s.corral().args(["diff", &id, "--stat"]));
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let stat = text(&out.stdout);
    assert_eq!(
        stat.lines().collect::<Vec<_>>(),
        [
            "A +2 -0  added.txt",
            "M +1 -1  greeting.txt",
            "D +0 -1  obsolete.txt",
            "3 files +3 -2",
        ],
        "{stat}"
    );

    // Merge: the uncommitted work is committed with the title, then main
    // fast-forwards to it.
    let out = run(s.corral().args(["merge", &id]));
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let said = text(&out.stdout);
    assert!(said.contains("fast-forwarded main"), "{said}");
    assert_eq!(
        git_ok(&s.repo, &["log", "-1", "--format=%s", "main"]),
        "Tidy the greeting"
    );
    assert_eq!(
        git_ok(&s.repo, &["rev-parse", "main"]),
        git_ok(&s.repo, &["rev-parse", &branch])
    );
    assert_eq!(
        s.read("greeting.txt").as_deref(),
        Some("hello from the agent\nsecond line\n")
    );
    assert!(s.read("obsolete.txt").is_none());
    assert!(s.read("added.txt").is_some());

    // Merged: discarding now loses nothing, and says so.
    let out = run(s.corral().args(["discard", &id, "--yes"]));
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(
        text(&out.stdout).contains("nothing unmerged"),
        "{}",
        both(&out)
    );
    assert!(!wt.exists());
}

#[test]
fn a_conflicting_merge_is_reported_and_both_branches_stay_as_they_were() {
    let s = Setup::new();
    let out = s.run_worktree(&s.repo, "commit", "Greet warmly");
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let task = s.task();
    let id = task["id"].as_str().unwrap().to_string();
    let branch = task["branch"].as_str().unwrap().to_string();

    // A dirty base is refused first, with the path.
    std::fs::write(
        s.repo.join("greeting.txt"),
        "hello from main\nsecond line\n",
    )
    .unwrap();
    let out = run(s.corral().args(["merge", &id]));
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let err = text(&out.stderr);
    assert!(
        err.contains("uncommitted changes to tracked files (greeting.txt)"),
        "{err}"
    );

    // The base changes the same line: a conflict.
    git_ok(&s.repo, &["commit", "-q", "-am", "main greets too"]);
    let main_before = git_ok(&s.repo, &["rev-parse", "main"]);
    let out = run(s.corral().args(["merge", &id, "-m", "Finish the greeting"]));
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let err = text(&out.stderr);
    assert!(err.contains("conflicts in greeting.txt"), "{err}");
    assert!(err.contains("aborted"), "{err}");
    // The uncommitted notes were committed on the task branch first.
    assert!(
        text(&out.stdout).contains("Finish the greeting"),
        "{}",
        both(&out)
    );

    assert_eq!(git_ok(&s.repo, &["rev-parse", "main"]), main_before);
    assert_eq!(git_ok(&s.repo, &["status", "--porcelain"]), "");
    assert!(
        !git(&s.repo, &["rev-parse", "-q", "--verify", "MERGE_HEAD"])
            .status
            .success()
    );
    assert_eq!(
        s.read("greeting.txt").as_deref(),
        Some("hello from main\nsecond line\n")
    );
    assert_eq!(
        git_ok(&s.repo, &["log", "--format=%s", &format!("main..{branch}")]),
        "Finish the greeting\nagent work"
    );
    // --ff-only says why it cannot.
    let out = run(s.corral().args(["merge", &id, "--ff-only"]));
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    assert!(
        text(&out.stderr).contains("cannot fast-forward main"),
        "{}",
        both(&out)
    );
    // Contradictory flags are a usage error.
    let out = run(s.corral().args(["merge", &id, "--ff-only", "--no-ff"]));
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
}

#[test]
fn discard_refuses_without_a_terminal_and_with_yes_removes_the_unmerged_work_it_lists() {
    let s = Setup::new();
    let out = s.run_worktree(&s.repo, "commit", "Rewrite things");
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let task = s.task();
    let id = task["id"].as_str().unwrap().to_string();
    let branch = task["branch"].as_str().unwrap().to_string();
    let wt = PathBuf::from(task["worktree"].as_str().unwrap());
    let commit = git_ok(&s.repo, &["rev-parse", "--short=7", &branch]);

    let out = run(s.corral().args(["discard", &id]));
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    let said = text(&out.stdout);
    assert!(
        said.contains(&format!("commit {commit} agent work")),
        "the unmerged commit is shown: {said}"
    );
    assert!(said.contains("uncommitted ?? notes.txt"), "{said}");
    assert!(text(&out.stderr).contains("--yes"), "{}", both(&out));
    assert!(wt.join("notes.txt").exists(), "nothing was removed");
    assert!(
        git(&s.repo, &["rev-parse", "--verify", &branch])
            .status
            .success()
    );

    let out = run(s.corral().args(["discard", &id, "--yes"]));
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let said = text(&out.stdout);
    assert!(
        said.contains(&format!("commit {commit} agent work")),
        "{said}"
    );
    assert!(
        said.contains("with 1 unmerged commit, 1 uncommitted change"),
        "{said}"
    );
    assert!(!wt.exists(), "the worktree is gone");
    assert!(
        !git(&s.repo, &["rev-parse", "-q", "--verify", &branch])
            .status
            .success(),
        "the branch is gone"
    );
    assert_eq!(
        s.read("greeting.txt").as_deref(),
        Some("hello\nsecond line\n")
    );
    assert_eq!(git_ok(&s.repo, &["worktree", "list"]).lines().count(), 1);

    let task = s.task();
    assert!(task["worktree"].is_null(), "{task}");
    let out = run(s.corral().args(["diff", &id]));
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    assert!(
        text(&out.stderr).contains("has no worktree"),
        "{}",
        both(&out)
    );
}

#[test]
fn a_directory_that_is_not_a_repository_fails_the_task_with_a_clear_message() {
    let s = Setup::new();
    let plain = s.home.path().join("plain");
    std::fs::create_dir(&plain).unwrap();
    let out = s.run_worktree(&plain, "", "Edit nothing");
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("is not inside a git repository"),
        "{stdout}"
    );
    assert!(stdout.contains("failed"), "{stdout}");
    assert!(
        std::fs::read_dir(&plain).unwrap().next().is_none(),
        "the agent never ran there"
    );

    // A task that ran without a worktree has nothing to diff.
    let out = run(s.corral().args(["diff", s.task()["id"].as_str().unwrap()]));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("has no worktree"),
        "{}",
        both(&out)
    );
}

#[test]
fn discard_and_merge_refuse_while_the_agent_runs() {
    let s = Setup::new();
    let mut child = s
        .corral()
        .arg("run")
        .arg("--worktree")
        .arg("--cwd")
        .arg(&s.repo)
        .arg("--agent-bin")
        .arg(fixtures().join("agents/fake_claude.sh"))
        .arg("--kill-grace")
        .arg("0.3")
        .arg("--timeout")
        .arg("30")
        .env("FAKE_AGENT", "hang.sh")
        .arg("Wait a while")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("corral starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    let id = loop {
        let out = run(s.corral().args(["ls", "--json"]));
        let list: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        if let Some(t) = list.as_array().and_then(|a| a.first())
            && t["status"] == "running"
            && t["worktree"].is_string()
        {
            break t["id"].as_str().unwrap().to_string();
        }
        assert!(Instant::now() < deadline, "the task never ran: {list}");
        std::thread::sleep(Duration::from_millis(100));
    };
    for args in [vec!["discard", &id, "--yes"], vec!["merge", &id]] {
        let out = run(s.corral().args(&args));
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", both(&out));
        assert!(text(&out.stderr).contains("is running"), "{}", both(&out));
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().expect("corral ends");
    assert_eq!(status.code(), Some(130));
    assert!(PathBuf::from(s.task()["worktree"].as_str().unwrap()).exists());
}
