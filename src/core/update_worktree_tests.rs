//! Plain transition tests of worktree tasks in `update`: launch, creation,
//! the agent in the worktree, failures, kills while creating, change
//! counts, and reruns that reuse the worktree.

use std::path::PathBuf;

use super::*;
use crate::agent::AgentKind;
use crate::core::Settings;
use crate::core::task::{ChangeCount, TaskSpec};
use crate::core::test_step::{
    drain_published, exit_at, exit_code, follow_up_at, spec_of, turn, update,
};
use crate::worktree::types::Worktree;

fn settings() -> Settings {
    Settings {
        end_after_turn: true,
        worktree_root: Some("/data/worktrees".into()),
        worktree_setup: Some("make deps".into()),
        ..Settings::default()
    }
}

fn spec(prompt: &str) -> TaskSpec {
    TaskSpec {
        cwd: "/src/project".into(),
        worktree: true,
        ..spec_of(AgentKind::Claude, prompt)
    }
}

fn worktree() -> Worktree {
    Worktree {
        path: "/data/worktrees/project-ab12cd34".into(),
        branch: "corral/ab12cd34-fix-the-bug".into(),
        base_branch: "main".into(),
        base_commit: "0123456789abcdef".into(),
        repo_root: "/src/project".into(),
    }
}

fn created() -> Box<Created> {
    Box::new(Created {
        worktree: worktree(),
        copied: vec![PathBuf::from(".env")],
        notes: vec![],
        setup_output: Some("installed 3 packages\n".into()),
    })
}

fn launch(s: &mut State) -> (TaskId, Vec<Effect>) {
    let fx = update(
        s,
        1_000,
        Event::Command(Command::launch(spec("Fix the bug\nin detail"))),
    );
    (s.tasks[0].id, fx)
}

fn ready(s: &mut State, task: TaskId, result: Result<Box<Created>, String>) -> Vec<Effect> {
    update(s, 1_500, Event::WorktreeReady { task, result })
}

fn spawned_cwd(fx: &[Effect]) -> Vec<PathBuf> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Spawn { spec, .. } => Some(spec.cwd.clone()),
            _ => None,
        })
        .collect()
}

/// The agent ends its turn well and exits.
fn finish_run(s: &mut State, task: TaskId) {
    update(
        s,
        2_900,
        Event::Agent {
            task,
            event: turn(false, Some("done".into()), None, Some(1)),
        },
    );
    exit_at(s, task, 3_000, exit_code(0));
}

#[test]
fn launching_a_worktree_task_creates_the_worktree_before_the_agent() {
    let mut s = State::new(settings());
    let (id, fx) = launch(&mut s);
    assert_eq!(
        fx,
        vec![Effect::CreateWorktree {
            task: id,
            request: WorktreeRequest {
                repo_dir: "/src/project".into(),
                task_short_id: format!("t{id}"),
                title: "Fix the bug".into(),
                root: "/data/worktrees".into(),
                setup_command: Some("make deps".into()),
            },
        }]
    );
    let t = s.task(id).unwrap();
    assert_eq!(t.status, TaskStatus::Running, "it holds its slot");
    assert!(t.worktree_pending && !t.process_alive);
}

#[test]
fn the_store_id_that_came_with_the_launch_names_the_worktree() {
    let mut s = State::new(settings());
    let fx = update(
        &mut s,
        1_000,
        Event::Command(Command::Launch {
            spec: Box::new(spec("Fix the bug")),
            store_id: Some("ab12cd34".into()),
        }),
    );
    let id = s.tasks[0].id;
    assert_eq!(s.task(id).unwrap().short_id.as_deref(), Some("ab12cd34"));
    match &fx[0] {
        Effect::CreateWorktree { task, request } => {
            assert_eq!(*task, id);
            assert_eq!(request.task_short_id, "ab12cd34");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_ready_worktree_is_recorded_announced_and_the_agent_spawns_there_and_is_watched() {
    let mut s = State::new(settings());
    let (id, _) = launch(&mut s);
    drain_published();
    let fx = ready(&mut s, id, Ok(created()));
    assert_eq!(spawned_cwd(&fx), vec![worktree().path]);
    assert_eq!(
        fx.last(),
        Some(&Effect::WatchWorktree {
            task: id,
            worktree: worktree()
        })
    );
    let t = s.task(id).unwrap();
    assert_eq!(t.worktree, Some(worktree()));
    assert_eq!(t.spec.cwd, PathBuf::from("/src/project"), "the repo stays");
    assert!(!t.worktree_pending && t.process_alive);
    let lines: Vec<String> = drain_published()
        .into_iter()
        .filter_map(|(_, e)| match e {
            AgentEvent::Raw { line } => Some(line),
            _ => None,
        })
        .collect();
    assert_eq!(
        lines,
        [
            "worktree /data/worktrees/project-ab12cd34 on branch corral/ab12cd34-fix-the-bug (from main at 0123456)",
            "copied from .worktreeinclude: .env",
            "setup command output:",
            "  installed 3 packages",
        ]
    );
}

#[test]
fn a_worktree_that_cannot_be_created_fails_the_task_with_the_reason() {
    let mut s = State::new(settings());
    let (id, _) = launch(&mut s);
    let fx = ready(
        &mut s,
        id,
        Err("/tmp/x is not inside a git repository".into()),
    );
    assert!(fx.is_empty(), "no agent runs: {fx:?}");
    let t = s.task(id).unwrap();
    assert_eq!(t.status, TaskStatus::Failed);
    assert_eq!(
        t.finish_reason.as_deref(),
        Some("cannot create the task's worktree: /tmp/x is not inside a git repository")
    );
    assert!(t.worktree.is_none() && !t.worktree_pending);
}

#[test]
fn without_a_place_for_worktrees_the_task_fails_at_once() {
    let mut s = State::new(Settings {
        worktree_root: None,
        ..settings()
    });
    let (id, fx) = launch(&mut s);
    assert!(fx.is_empty(), "{fx:?}");
    let t = s.task(id).unwrap();
    assert_eq!(t.status, TaskStatus::Failed);
    assert!(
        t.finish_reason
            .as_deref()
            .unwrap()
            .contains("worktree_root"),
        "{:?}",
        t.finish_reason
    );
}

#[test]
fn killing_while_the_worktree_is_made_finishes_killed_and_keeps_the_worktree() {
    let mut s = State::new(settings());
    let (id, _) = launch(&mut s);
    let fx = update(&mut s, 1_200, Event::Command(Command::Kill { task: id }));
    assert!(fx.is_empty(), "no process to kill: {fx:?}");
    assert_eq!(s.task(id).unwrap().status, TaskStatus::Killed);
    let fx = ready(&mut s, id, Ok(created()));
    assert!(fx.is_empty(), "a killed task does not start: {fx:?}");
    let t = s.task(id).unwrap();
    assert_eq!(t.status, TaskStatus::Killed);
    assert_eq!(t.worktree, Some(worktree()), "so it can be discarded");
}

#[test]
fn change_counts_are_kept_for_the_task_row_even_after_the_finish() {
    let mut s = State::new(settings());
    let (id, _) = launch(&mut s);
    ready(&mut s, id, Ok(created()));
    finish_run(&mut s, id);
    let fx = update(
        &mut s,
        3_100,
        Event::WorktreeChanges {
            task: id,
            files: 3,
            added: 40,
            deleted: 7,
        },
    );
    assert!(fx.is_empty());
    let counted = s.task(id).unwrap().changes.unwrap();
    assert_eq!(
        counted,
        ChangeCount {
            files: 3,
            added: 40,
            deleted: 7
        }
    );
    assert_eq!(crate::present::change_count(&counted), "3 files +40 -7");
}

#[test]
fn follow_ups_and_retries_reuse_the_worktree() {
    let mut s = State::new(settings());
    let (id, _) = launch(&mut s);
    ready(&mut s, id, Ok(created()));
    update(
        &mut s,
        2_000,
        Event::Agent {
            task: id,
            event: AgentEvent::Session {
                session_id: "sess-1".into(),
                model: None,
                cwd: None,
                agent: "claude".into(),
            },
        },
    );
    finish_run(&mut s, id);
    let fx = follow_up_at(&mut s, id, 4_000, "also add a test");
    assert_eq!(spawned_cwd(&fx), vec![worktree().path]);
    assert!(
        !fx.iter()
            .any(|e| matches!(e, Effect::CreateWorktree { .. })),
        "{fx:?}"
    );
    assert!(fx.iter().any(|e| matches!(e, Effect::WatchWorktree { .. })));
    finish_run(&mut s, id);
    let fx = update(&mut s, 5_000, Event::Command(Command::Retry { task: id }));
    assert_eq!(spawned_cwd(&fx), vec![worktree().path]);
    assert_eq!(s.task(id).unwrap().runs, 3);
    assert_eq!(s.task(id).unwrap().worktree, Some(worktree()));
}

#[test]
fn a_follow_up_of_a_worktree_task_without_its_worktree_makes_one_first() {
    let mut s = State::new(settings());
    let (id, _) = launch(&mut s);
    ready(&mut s, id, Err("git was not found on PATH".into()));
    assert_eq!(s.task(id).unwrap().status, TaskStatus::Failed);
    let fx = follow_up_at(&mut s, id, 4_000, "try again");
    assert!(
        matches!(fx.as_slice(), [Effect::CreateWorktree { .. }]),
        "never the main checkout: {fx:?}"
    );
    let fx = ready(&mut s, id, Ok(created()));
    assert_eq!(spawned_cwd(&fx), vec![worktree().path]);
}

#[test]
fn a_plain_task_never_touches_worktrees() {
    let mut s = State::new(settings());
    let fx = update(
        &mut s,
        1_000,
        Event::Command(Command::launch(TaskSpec {
            worktree: false,
            ..spec("plain")
        })),
    );
    assert_eq!(spawned_cwd(&fx), vec![PathBuf::from("/src/project")]);
    assert_eq!(fx.len(), 1, "no watcher: {fx:?}");
}
