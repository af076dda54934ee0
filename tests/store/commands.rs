//! `corral ls`, `corral logs` and `corral rm` as a user runs them, against
//! tasks stored by `corral run` (fake agents from tests/fixtures/agents),
//! including while that run is still going. Every corral here keeps its
//! config, data and state in a temp dir through the XDG variables.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::prelude::*;
use predicates::prelude::*;
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn corral(home: &Path) -> Command {
    let mut cmd = Command::cargo_bin("corral").unwrap();
    cmd.env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    cmd
}

/// `corral run [FLAGS] PROMPT` with `fake_claude.sh` running `agent args`.
fn run_with(home: &Path, flags: &[&str], agent: &str, args: &str, prompt: &str) -> Command {
    let mut cmd = corral(home);
    cmd.args(["run", "--kill-grace", "0.3", "--agent-bin"])
        .arg(fixtures().join("agents/fake_claude.sh"))
        .args(flags)
        .arg("--")
        .arg(prompt)
        .env("FAKE_AGENT", agent)
        .env("FAKE_AGENT_ARGS", args);
    cmd
}

fn run_cmd(home: &Path, agent: &str, args: &str, prompt: &str) -> Command {
    run_with(home, &[], agent, args, prompt)
}

fn replay_args(transcript: &str) -> String {
    format!(
        "{} 0 2",
        fixtures().join("claude").join(transcript).display()
    )
}

fn ls(home: &Path) -> Vec<Value> {
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

fn only_id(home: &Path) -> String {
    let tasks = ls(home);
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    tasks[0]["id"].as_str().unwrap().to_string()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn wait_status(home: &Path, id: &str, status: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ls(home)
        .iter()
        .any(|t| t["id"] == id && t["status"] == status)
    {
        assert!(Instant::now() < deadline, "task {id} never became {status}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn spawn_run(mut cmd: Command) -> Child {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn ls_shows_a_finished_run_as_a_table_and_as_json() {
    let home = tempfile::tempdir().unwrap();
    run_cmd(
        home.path(),
        "replay.sh",
        &replay_args("tool.jsonl"),
        "say hi\nplease",
    )
    .assert()
    .success();
    let id = only_id(home.path());
    let t = &ls(home.path())[0];
    assert_eq!(t["status"], "succeeded");
    assert_eq!(t["title"], "say hi");
    assert_eq!(t["agent"], "claude");
    assert_eq!(t["input_tokens"], 84);
    assert_eq!(t["output_tokens"], 34);
    assert_eq!(t["cost_usd"], 0.00127);
    assert!(t["started_ms"].as_u64() <= t["finished_ms"].as_u64());
    assert_eq!(t["session_id"], "fab5edac-e68d-4fe2-95f4-5f42d885c82c");

    let out = corral(home.path()).arg("ls").output().unwrap();
    let table = stdout(&out);
    let mut lines = table.lines();
    let header = lines.next().unwrap();
    for col in [
        "ID", "STATUS", "AGENT", "AGE", "DURATION", "TOKENS", "COST", "TITLE",
    ] {
        assert!(header.contains(col), "{header}");
    }
    let row = lines.next().unwrap();
    assert!(row.starts_with(&id), "{row}");
    for cell in ["succeeded", "claude", "118", "$0.0013", "say hi"] {
        assert!(row.contains(cell), "{cell} in {row}");
    }
}

#[test]
fn logs_replays_the_transcript_and_the_exact_json_events() {
    let home = tempfile::tempdir().unwrap();
    let live = run_with(
        home.path(),
        &["--json"],
        "replay.sh",
        &replay_args("tool.jsonl"),
        "say hi",
    )
    .output()
    .unwrap();
    assert!(live.status.success());
    let id = only_id(home.path());

    let json = corral(home.path())
        .args(["logs", &id, "--json"])
        .output()
        .unwrap();
    assert!(json.status.success());
    assert_eq!(
        stdout(&json),
        stdout(&live),
        "the stored events are what run printed"
    );

    // A unique prefix is enough; the transcript reads like `corral run`.
    corral(home.path())
        .args(["logs", &id[..5]])
        .assert()
        .success()
        .stdout(predicate::str::contains("→ Bash echo hi"))
        .stdout(predicate::str::contains("✓ succeeded"));

    // The stream is stored once: what became events is not kept again
    // verbatim, so the store writes no more than the agent printed.
    let dir = home.path().join("data/corral/tasks").join(&id);
    let raw = std::fs::read_to_string(dir.join("raw-1.log")).unwrap_or_default();
    assert!(!raw.contains(r#""type":"result""#), "{raw}");
    let size = |name: &str| std::fs::metadata(dir.join(name)).map_or(0, |m| m.len());
    let printed = std::fs::metadata(fixtures().join("claude/tool.jsonl"))
        .unwrap()
        .len();
    assert!(
        size("events-1.jsonl") + size("raw-1.log") <= printed,
        "stored {} + {} bytes for {printed} printed",
        size("events-1.jsonl"),
        size("raw-1.log")
    );
}

#[test]
fn logs_follow_tails_a_running_task_until_it_ends() {
    let home = tempfile::tempdir().unwrap();
    let mut run = spawn_run(run_cmd(home.path(), "ticker.sh", "6 0.25", "count"));
    let deadline = Instant::now() + Duration::from_secs(20);
    let id = loop {
        if let Some(t) = ls(home.path()).first() {
            break t["id"].as_str().unwrap().to_string();
        }
        assert!(Instant::now() < deadline, "the run was never stored");
        std::thread::sleep(Duration::from_millis(20));
    };
    let started = Instant::now();
    let mut follow = corral(home.path());
    follow.args(["logs", "--follow", &id]);
    let out = assert_cmd::Command::from_std(follow)
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = stdout(&out);
    for n in 1..=6 {
        assert!(text.contains(&format!("tick {n}")), "tick {n} in {text}");
    }
    assert!(
        text.contains("exited without a result"),
        "the finish: {text}"
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    run.wait().unwrap();
}

#[test]
fn rm_refuses_a_running_task_unless_forced_and_works_beside_a_live_run() {
    let home = tempfile::tempdir().unwrap();
    let mut run = spawn_run(run_cmd(home.path(), "hang.sh", "", "never ends"));
    let deadline = Instant::now() + Duration::from_secs(20);
    let id = loop {
        if let Some(t) = ls(home.path()).iter().find(|t| t["status"] == "running") {
            break t["id"].as_str().unwrap().to_string();
        }
        assert!(Instant::now() < deadline, "the run never started");
        std::thread::sleep(Duration::from_millis(50));
    };
    // Its corral is alive: the task is running, not interrupted.
    wait_status(home.path(), &id, "running");
    std::thread::sleep(Duration::from_millis(300));
    corral(home.path())
        .args(["rm", &id])
        .assert()
        .failure()
        .stderr(predicate::str::contains("is running; use --force"));
    assert_eq!(ls(home.path()).len(), 1);

    corral(home.path())
        .args(["rm", "--force", &id])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!("removed {id}")));
    // Its agent was killed, so the run ends, and it does not bring the task back.
    let status = run.wait().unwrap();
    assert!(!status.success());
    assert!(ls(home.path()).is_empty());
    assert!(!home.path().join("data/corral/tasks").join(&id).exists());
}

#[test]
fn rm_deletes_a_finished_task_and_ls_hides_archived_ones() {
    let home = tempfile::tempdir().unwrap();
    for prompt in ["first", "second"] {
        run_cmd(home.path(), "replay.sh", &replay_args("text.jsonl"), prompt)
            .assert()
            .success();
    }
    let tasks = ls(home.path());
    assert_eq!(tasks.len(), 2);
    let first = tasks[0]["id"].as_str().unwrap().to_string();
    let second = tasks[1]["id"].as_str().unwrap().to_string();

    let store = corral::store::Store::open(&home.path().join("data/corral/tasks")).unwrap();
    store.set_archived(&first, true).unwrap();
    assert_eq!(ls(home.path()).len(), 1, "archived tasks are hidden");
    let all = corral(home.path())
        .args(["ls", "--all", "--json"])
        .output()
        .unwrap();
    let all: Value = serde_json::from_slice(&all.stdout).unwrap();
    assert_eq!(all.as_array().unwrap().len(), 2);
    assert!(
        all.as_array()
            .unwrap()
            .iter()
            .any(|t| t["archived"] == true)
    );

    corral(home.path()).args(["rm", &second]).assert().success();
    corral(home.path())
        .args(["logs", &second])
        .assert()
        .failure()
        .stderr(predicate::str::contains(format!("no task `{second}`")));
    assert!(ls(home.path()).is_empty());
}

#[test]
fn config_commands_write_and_locate_the_file_and_list_agents() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("config/corral/config.toml");
    corral(home.path())
        .args(["config", "path"])
        .assert()
        .success()
        .stdout(format!("{}\n", file.display()));
    corral(home.path())
        .args(["config", "init"])
        .assert()
        .success();
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        corral::config::EXAMPLE
    );
    corral(home.path())
        .args(["config", "init"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("already exists; use --force"));
    corral(home.path())
        .args(["config", "init", "--force"])
        .assert()
        .success();

    // `--config` names another file; `agents` lists its profiles.
    let other = home.path().join("other.toml");
    std::fs::write(
        &other,
        format!(
            "[agents.fake]\nkind = \"claude\"\nbinary = \"{}\"\nmodel = \"m1\"\n",
            fixtures().join("agents/fake_claude.sh").display()
        ),
    )
    .unwrap();
    let out = corral(home.path())
        .args(["agents", "--config"])
        .arg(&other)
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    let table = stdout(&out);
    let row = |name: &str| {
        table
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} in {table}"))
            .to_string()
    };
    assert!(
        row("fake").contains("yes") && row("fake").contains("m1"),
        "{table}"
    );
    assert!(row("claude").contains(" no "), "{table}");
    assert!(table.contains("https://api.openai.com/v1"), "{table}");

    // A broken config stops `corral run` with the file and line.
    std::fs::write(&other, "[defaults]\nconcurrency = 2\ncolour = \"red\"\n").unwrap();
    corral(home.path())
        .args(["run", "--config"])
        .arg(&other)
        .arg("hi")
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!(
            "{}:3:1: unknown field `colour`",
            other.display()
        )));
}

/// Waits for `child` at most `limit`, SIGKILLing it when it takes longer.
fn wait_bounded(mut child: Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("a corral took longer than {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn concurrent_runs_keep_their_final_status_while_ls_recovers_beside_them() {
    const WORKERS: usize = 20;
    const RUNS_EACH: usize = 5;
    let home = tempfile::tempdir().unwrap();
    let home_path = home.path().to_path_buf();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // `corral ls` in a loop: every one runs recovery over every record.
    let lister = {
        let (home, stop) = (home_path.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut listed = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let out = corral(&home)
                    .args(["ls", "--all", "--json"])
                    .output()
                    .unwrap();
                assert!(out.status.success());
                let tasks: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
                // Not even for a moment does a run that ends read as cut short.
                assert!(
                    tasks.iter().all(|t| t["status"] != "interrupted"),
                    "ls showed a live or finished run as interrupted: {tasks:?}"
                );
                listed += 1;
            }
            listed
        })
    };
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let home = home_path.clone();
            std::thread::spawn(move || {
                for _ in 0..RUNS_EACH {
                    let child = spawn_run(run_cmd(
                        &home,
                        "replay.sh",
                        &replay_args("text.jsonl"),
                        "say hi\nplease",
                    ));
                    let status = wait_bounded(child, Duration::from_secs(90));
                    assert!(status.success(), "a run failed: {status}");
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("every run succeeds");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let listed = lister.join().expect("every ls succeeds");
    assert!(listed > 0, "ls ran beside the runs");
    let tasks: Vec<Value> = serde_json::from_slice(
        &corral(home.path())
            .args(["ls", "--all", "--json"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(tasks.len(), WORKERS * RUNS_EACH);
    let lost: Vec<&Value> = tasks
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
fn usage_errors_record_no_task_and_a_named_config_is_always_read() {
    let home = tempfile::tempdir().unwrap();
    let out = run_with(home.path(), &["--cwd", "/no/such/dir"], "true", "", "hi")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        ls(home.path()),
        Vec::<Value>::new(),
        "no failed task is stored"
    );

    let bad = home.path().join("bad.toml");
    std::fs::write(&bad, "this is not toml\n").unwrap();
    // `--config` is global: before or after the subcommand, and never ignored.
    for args in [["--config", "X", "ls"], ["ls", "--config", "X"]] {
        let args = args.map(|a| if a == "X" { bad.to_str().unwrap() } else { a });
        let out = corral(home.path()).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("bad.toml"),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let good = home.path().join("good.toml");
    std::fs::write(&good, "").unwrap();
    let out = corral(home.path())
        .arg("--config")
        .arg(&good)
        .args(["ls", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return files;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn no_secret_reaches_any_stored_file_even_when_the_agent_echoes_it() {
    let home = tempfile::tempdir().unwrap();
    let own_key = "sk-own-0123456789abcdef";
    let db_pass = "dbpass-0123456789";
    let url_pass = "urlpass-0123456789";
    let arg_key = "argkey-0123456789";
    let prompt_pass = "promptpass-0123";
    let database_url = format!("postgres://app:{url_pass}@db.local/main");
    let out = run_with(
        home.path(),
        &[
            "--env",
            &format!("DB_PASS={db_pass}"),
            "--env",
            &format!("DATABASE_URL={database_url}"),
            &format!("--agent-arg=--api-key={arg_key}"),
        ],
        "echo_secrets.py",
        "ANTHROPIC_API_KEY DB_PASS DATABASE_URL",
        &format!("migrate postgres://app:{prompt_pass}@db.local/main"),
    )
    .env("ANTHROPIC_API_KEY", own_key)
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let files: Vec<PathBuf> = ["data", "state"]
        .iter()
        .flat_map(|dir| files_under(&home.path().join(dir)))
        .collect();
    let mut echoed = false;
    for file in &files {
        let text = String::from_utf8_lossy(&std::fs::read(file).unwrap()).into_owned();
        for secret in [own_key, db_pass, url_pass, arg_key, prompt_pass] {
            assert!(
                !text.contains(secret),
                "{secret} is in {}:\n{text}",
                file.display()
            );
        }
        echoed |= text.contains("plain line: ANTHROPIC_API_KEY=<redacted>");
    }
    assert!(echoed, "the raw log holds the agent's echo: {files:?}");
    let id = only_id(home.path());
    let out = corral(home.path()).args(["logs", &id]).output().unwrap();
    let shown = stdout(&out);
    assert!(
        shown.contains("postgres://app:<redacted>@db.local/main")
            && shown.contains("--api-key=<redacted>"),
        "readable, redacted: {shown}"
    );
}

/// Sets the modification time of `path` (file or folder) to `age` ago.
fn age_by(path: &Path, age: Duration) {
    let when = std::time::SystemTime::now() - age;
    std::fs::File::open(path)
        .unwrap()
        .set_modified(when)
        .unwrap();
}

#[test]
fn recovery_removes_leftovers_of_killed_runs_but_never_a_live_owners_folder() {
    let home = tempfile::tempdir().unwrap();
    run_cmd(home.path(), "replay.sh", &replay_args("text.jsonl"), "done")
        .assert()
        .success();
    let finished = only_id(home.path());
    let tasks = home.path().join("data/corral/tasks");
    let old = Duration::from_secs(300);

    // A killed run's temp file beside a finished record, and a fresh one
    // (a write in progress).
    let stale_tmp = tasks.join(&finished).join(".task.json.1.dead.tmp");
    let fresh_tmp = tasks.join(&finished).join(".task.json.2.busy.tmp");
    std::fs::write(&stale_tmp, "{").unwrap();
    std::fs::write(&fresh_tmp, "{").unwrap();
    age_by(&stale_tmp, old);

    // A folder a killed run made but never wrote a record into.
    let dead = tasks.join("deadbeef");
    std::fs::create_dir(&dead).unwrap();
    std::fs::write(dead.join("raw-1.log"), "partial").unwrap();
    age_by(&dead, old);
    // One just made (a run between mkdir and its first write).
    let young = tasks.join("y0un9000");
    std::fs::create_dir(&young).unwrap();
    // An old folder without a record whose lock a live process holds,
    // with an old temp file of its own.
    let owned = tasks.join("0wned000");
    std::fs::create_dir(&owned).unwrap();
    let owned_tmp = owned.join(".task.json.3.live.tmp");
    std::fs::write(&owned_tmp, "{").unwrap();
    age_by(&owned_tmp, old);
    let mut holder = Command::new("flock")
        .arg(owned.join("owner.lock"))
        .args(["-c", "echo held; exec cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(holder.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line.trim(), "held");
    age_by(&owned, old);

    // Any corral command runs recovery.
    assert_eq!(only_id(home.path()), finished);
    assert!(
        !dead.exists(),
        "an unowned old folder with no record is removed"
    );
    assert!(
        !stale_tmp.exists(),
        "an old temp file of a dead writer is removed"
    );
    assert!(
        fresh_tmp.exists(),
        "a fresh temp file may be a write in progress"
    );
    assert!(young.exists(), "a fresh folder may be a run about to write");
    assert!(owned.exists(), "a folder a live process owns is kept");
    assert!(owned_tmp.exists(), "so are its temp files");
    assert!(tasks.join(&finished).join("task.json").exists());

    // Closing its input ends the holder, and with it the lock.
    drop(holder.stdin.take());
    holder.wait().unwrap();
    // Its owner gone, the same folder is a leftover like any other.
    age_by(&owned, old);
    assert_eq!(only_id(home.path()), finished);
    assert!(!owned.exists(), "once its owner is gone it is removed");
}
