//! The runtime's worktree effects against a real git repository: creating a
//! worktree reports `WorktreeReady`, and watching it while a fake agent
//! edits files reports the change count, with a last count after the
//! agent exited. Waits only guard against a hang.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use corral::agent::{AgentKind, LaunchSpec, StdinMode};
use corral::core::{Effect, Event, Limits};
use corral::runtime::{Runtime, RuntimeConfig};
use corral::worktree::WorktreeRequest;
use tokio::sync::mpsc;

const HANG_GUARD: Duration = Duration::from_secs(30);

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}");
}

fn repo(root: &Path) -> PathBuf {
    let repo = root.join("project");
    std::fs::create_dir(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["config", "user.name", "Test User"]);
    git(&repo, &["config", "user.email", "test@example.invalid"]);
    std::fs::write(repo.join("greeting.txt"), "hello\nsecond line\n").unwrap();
    std::fs::write(repo.join("obsolete.txt"), "old stuff\n").unwrap();
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "start"]);
    repo
}

async fn next(events: &mut mpsc::Receiver<Event>) -> Event {
    match tokio::time::timeout(HANG_GUARD, events.recv()).await {
        Ok(Some(event)) => event,
        other => panic!("no event: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_created_worktree_is_watched_until_after_its_agent_exits() {
    let home = tempfile::tempdir().unwrap();
    let repo = repo(home.path());
    let (tx, mut events) = mpsc::channel(64);
    let mut runtime = Runtime::new(tx, RuntimeConfig::default());

    runtime.apply(Effect::CreateWorktree {
        task: 1,
        request: WorktreeRequest {
            repo_dir: repo.clone(),
            task_short_id: "t1".into(),
            title: "Edit files".into(),
            root: home.path().join("worktrees"),
            setup_command: Some("echo set up".into()),
        },
    });
    let created = match next(&mut events).await {
        Event::WorktreeReady {
            task: 1,
            result: Ok(created),
        } => created,
        other => panic!("{other:?}"),
    };
    assert_eq!(created.worktree.branch, "corral/t1-edit-files");
    assert_eq!(
        created.setup_output.as_deref().map(str::trim),
        Some("set up")
    );
    let wt = created.worktree.clone();

    runtime.apply(Effect::Spawn {
        task: 1,
        agent: AgentKind::Claude,
        wire: corral::agent::Wire::ClaudeStdio,
        spec: LaunchSpec {
            program: Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/agents/edit_files.sh")
                .to_string_lossy()
                .into_owned(),
            args: vec![],
            cwd: wt.path.clone(),
            env: vec![],
            stdin: StdinMode::Null,
        },
        limits: Limits::default(),
    });
    runtime.apply(Effect::WatchWorktree {
        task: 1,
        worktree: wt.clone(),
    });
    let mut counts = Vec::new();
    let mut exited = false;
    loop {
        // Until the agent exited, then until the watcher has gone quiet.
        let event = if exited {
            match tokio::time::timeout(Duration::from_secs(3), events.recv()).await {
                Ok(Some(event)) => event,
                _ => break,
            }
        } else {
            next(&mut events).await
        };
        match event {
            Event::WorktreeChanges {
                task: 1,
                files,
                added,
                deleted,
            } => counts.push((files, added, deleted)),
            Event::Exited { task: 1, .. } => exited = true,
            _ => {}
        }
    }
    assert_eq!(
        counts.last(),
        Some(&(3, 3, 2)),
        "the last count has every edit: {counts:?}"
    );
    let mut deduped = counts.clone();
    deduped.dedup();
    assert_eq!(deduped, counts, "only changed counts are reported");

    runtime.apply(Effect::CreateWorktree {
        task: 2,
        request: WorktreeRequest {
            repo_dir: home.path().to_path_buf(),
            task_short_id: "t2".into(),
            title: "x".into(),
            root: home.path().join("worktrees"),
            setup_command: None,
        },
    });
    match next(&mut events).await {
        Event::WorktreeReady {
            task: 2,
            result: Err(message),
        } => assert!(message.contains("not inside a git repository"), "{message}"),
        other => panic!("{other:?}"),
    }
}
