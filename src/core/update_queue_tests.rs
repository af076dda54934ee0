//! Pure `update` tests of the queue, limits and budgets, retry, resume,
//! archive, delete and adoption; the setup helpers are the parent's.

use super::*;
use crate::core::Settings;
use crate::core::test_step::{drain_deleted, drain_published, exit_at, exit_signal, turn, update};

fn launch(s: &mut State, now: u64, spec: TaskSpec) -> Vec<Effect> {
    update(s, now, Event::Command(Command::launch(spec)))
}

/// A headless state with one task (`prompt`) launched under `budget`.
fn budgeted(prompt: &str, budget: Budget) -> State {
    let mut s = State::new(headless());
    launch(
        &mut s,
        1_000,
        TaskSpec {
            budget,
            ..spec(prompt)
        },
    );
    s
}

fn spawned(fx: &[Effect]) -> Vec<TaskId> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Spawn { task, .. } => Some(*task),
            _ => None,
        })
        .collect()
}

/// The agent's turn ends well and it exits; the effects of both. (With a
/// live session the slot frees at the turn's end, before the exit.)
fn succeed(s: &mut State, now: u64, id: TaskId) -> Vec<Effect> {
    let mut fx = update(
        s,
        now,
        Event::Agent {
            task: id,
            event: turn_end(false, "ok"),
        },
    );
    fx.extend(exit_at(s, id, now, exit(0)));
    fx
}

/// The finished task was killed; why.
fn killed_because() -> Option<String> {
    let f = finished();
    assert_eq!(f.status, FinishStatus::Killed);
    f.reason
}

fn codex_task(prompt: &str) -> TaskSpec {
    TaskSpec {
        agent: AgentKind::Codex,
        ..spec(prompt)
    }
}

#[test]
fn the_global_limit_queues_tasks_and_starts_them_in_order() {
    let mut s = State::new(Settings {
        concurrency: Some(2),
        ..Settings::default()
    });
    let mut started = Vec::new();
    for (i, p) in ["a", "b", "c", "d"].iter().enumerate() {
        started.extend(spawned(&launch(&mut s, 1_000 + i as u64, spec(p))));
    }
    assert_eq!(started, vec![1, 2]);
    assert_eq!(s.queue(), vec![3, 4]);
    assert_eq!(s.task(3).unwrap().status, TaskStatus::Queued);
    assert_eq!(s.task(3).unwrap().started_ms, None);
    // A slot frees: the oldest queued task starts, at that time.
    let fx = succeed(&mut s, 5_000, 1);
    assert_eq!(spawned(&fx), vec![3]);
    assert_eq!(s.task(3).unwrap().started_ms, Some(5_000));
    assert_eq!(s.queue(), vec![4]);
    // A kill of a queued task takes it out of the queue without a spawn.
    update(&mut s, 5_001, Event::Command(Command::Kill { task: 4 }));
    assert_eq!(s.task(4).unwrap().status, TaskStatus::Killed);
    assert!(s.queue().is_empty());
}

#[test]
fn the_per_agent_limit_does_not_hold_back_other_kinds() {
    let mut s = State::new(Settings {
        concurrency: Some(10),
        per_agent_concurrency: vec![(AgentKind::Claude, 1)],
        ..Settings::default()
    });
    assert_eq!(spawned(&launch(&mut s, 1, spec("c1"))), vec![1]);
    assert!(spawned(&launch(&mut s, 2, spec("c2"))).is_empty());
    assert_eq!(spawned(&launch(&mut s, 3, codex_task("x1"))), vec![3]);
    assert_eq!(s.active_count(Some(AgentKind::Claude)), 1);
    assert_eq!(s.queue(), vec![2]);
    let fx = succeed(&mut s, 4, 1);
    assert_eq!(spawned(&fx), vec![2]);
}

#[test]
fn max_cost_kills_with_the_amount_in_the_reason() {
    let mut s = budgeted(
        "spend",
        Budget {
            max_cost_usd: Some(0.5),
            ..Budget::default()
        },
    );
    let usage = |cost| {
        AgentEvent::Usage(Usage {
            input_tokens: 1,
            output_tokens: 1,
            cost_usd: Some(cost),
            ..Default::default()
        })
    };
    assert!(agent(&mut s, 1, usage(0.3)).is_empty(), "under the limit");
    assert_eq!(
        agent(&mut s, 1, usage(0.22)),
        vec![Effect::Kill { task: 1 }]
    );
    assert!(
        agent(&mut s, 1, usage(0.1)).is_empty(),
        "one kill is enough"
    );
    exit_at(&mut s, 1, 3_000, exit_signal("SIGINT"));
    assert_eq!(
        killed_because().as_deref(),
        Some("spent $0.62, over the $0.50 limit")
    );
}

#[test]
fn a_configured_price_counts_the_cost_when_the_agent_reports_none() {
    let mut s = State::new(Settings::default());
    launch(
        &mut s,
        1_000,
        TaskSpec {
            budget: Budget {
                max_cost_usd: Some(1.0),
                price_input_per_mtok: Some(3.0),
                price_output_per_mtok: Some(15.0),
                ..Budget::default()
            },
            ..spec("priced")
        },
    );
    drain_published();
    let fx = agent(
        &mut s,
        1,
        AgentEvent::Usage(Usage {
            input_tokens: 100_000,
            output_tokens: 50_000,
            ..Default::default()
        }),
    );
    // 0.1 M * $3 + 0.05 M * $15 = $1.05 > $1.
    assert_eq!(fx, vec![Effect::Kill { task: 1 }]);
    let t = s.task(1).unwrap();
    assert!((t.usage.cost_usd.unwrap() - 1.05).abs() < 1e-9);
    let published = drain_published();
    assert!(matches!(&published[0].1, AgentEvent::Usage(u) if u.cost_usd.is_some()));
}

#[test]
fn max_turns_kills_once_the_agent_reports_more() {
    let mut s = budgeted(
        "loop",
        Budget {
            max_turns: Some(2),
            ..Budget::default()
        },
    );
    let turn = |n| turn(false, Some("r".into()), None, Some(n));
    assert!(
        !agent(&mut s, 1, turn(2)).contains(&Effect::Kill { task: 1 }),
        "at the limit is fine"
    );
    assert_eq!(agent(&mut s, 1, turn(1)), vec![Effect::Kill { task: 1 }]);
    exit_at(&mut s, 1, 2_000, exit(0));
    assert_eq!(
        killed_because().as_deref(),
        Some("took 3 turns, over the 2-turn limit")
    );
}

#[test]
fn retry_relaunches_a_failed_task_from_its_prompt_as_a_new_run() {
    let (mut s, id) = launched(Settings::default());
    agent(&mut s, id, turn_end(true, "boom"));
    exit_at(&mut s, id, 2_000, exit(1));
    assert_eq!(s.task(id).unwrap().status, TaskStatus::Failed);
    let fx = update(&mut s, 3_000, Event::Command(Command::Retry { task: id }));
    let [Effect::Spawn { task, spec, .. }] = fx.as_slice() else {
        panic!("{fx:?}");
    };
    assert_eq!(*task, id, "same task, new run");
    assert!(!spec.args.contains(&"--resume".to_string()));
    let crate::agent::StdinMode::Pipe { initial_lines } = &spec.stdin else {
        panic!("pipe");
    };
    assert!(initial_lines[1].contains("fix it"), "the original prompt");
    let t = s.task(id).unwrap();
    assert_eq!(t.status, TaskStatus::Running);
    assert_eq!(t.runs, 2);
    assert_eq!(t.finish_reason, None);
    assert_eq!(t.started_ms, Some(1_000), "the task's first start");
}

#[test]
fn resume_continues_the_session_or_starts_over_without_one() {
    let (mut s, id) = launched(Settings::default());
    agent(
        &mut s,
        id,
        AgentEvent::Session {
            session_id: "sess-9".into(),
            model: None,
            cwd: None,
            agent: "claude".into(),
        },
    );
    update(&mut s, 1_500, Event::Command(Command::Kill { task: id }));
    exit_at(&mut s, id, 1_600, exit(130));
    let fx = update(
        &mut s,
        2_000,
        Event::Command(Command::Resume {
            task: id,
            message: None,
        }),
    );
    let [
        Effect::Spawn {
            spec: launch_spec, ..
        },
    ] = fx.as_slice()
    else {
        panic!("{fx:?}");
    };
    let resume = launch_spec
        .args
        .iter()
        .position(|a| a == "--resume")
        .unwrap();
    assert_eq!(launch_spec.args[resume + 1], "sess-9");
    let crate::agent::StdinMode::Pipe { initial_lines } = &launch_spec.stdin else {
        panic!("pipe");
    };
    assert!(initial_lines[1].contains("Continue the task"));

    // A task that never got a session starts over with its prompt.
    let mut s = State::new(Settings::default());
    launch(&mut s, 1, spec("first prompt"));
    update(
        &mut s,
        2,
        Event::SpawnFailed {
            task: 1,
            message: "no".into(),
        },
    );
    let fx = update(
        &mut s,
        3,
        Event::Command(Command::Resume {
            task: 1,
            message: None,
        }),
    );
    let [Effect::Spawn { spec, .. }] = fx.as_slice() else {
        panic!("{fx:?}");
    };
    assert!(!spec.args.contains(&"--resume".to_string()));
}

#[test]
fn running_tasks_cannot_be_retried_archived_or_deleted() {
    let (mut s, id) = launched(Settings::default());
    for cmd in [
        Command::Retry { task: id },
        Command::Archive {
            task: id,
            archived: true,
        },
        Command::Delete { task: id },
    ] {
        assert!(update(&mut s, 2_000, Event::Command(cmd)).is_empty());
    }
    let t = s.task(id).unwrap();
    assert_eq!(t.status, TaskStatus::Running);
    assert!(!t.archived);
    assert!(drain_deleted().is_empty());
}

#[test]
fn finished_tasks_can_be_archived_and_deleted() {
    let (mut s, id) = launched(Settings::default());
    succeed(&mut s, 2_000, id);
    update(
        &mut s,
        2_001,
        Event::Command(Command::Archive {
            task: id,
            archived: true,
        }),
    );
    assert!(s.task(id).unwrap().archived);
    update(&mut s, 2_002, Event::Command(Command::Delete { task: id }));
    assert!(s.task(id).is_none());
    assert_eq!(drain_deleted(), vec![id]);
}

#[test]
fn adopted_unfinished_tasks_are_interrupted_and_resumable() {
    let mut s = State::new(Settings::default());
    let mut task = crate::core::task::Task::new(0, spec("old"), 10);
    task.status = TaskStatus::Blocked;
    task.session_id = Some("s-1".into());
    task.pending_question = Some(approval());
    let id = s.next_task_id();
    let fx = update(
        &mut s,
        1_000,
        Event::Command(Command::Adopt {
            task: Box::new(task),
        }),
    );
    assert!(fx.is_empty(), "an adopted task starts nothing");
    let t = s.task(id).unwrap();
    assert_eq!(t.status, TaskStatus::Interrupted);
    assert!(t.pending_question.is_some(), "the question is kept");
    let fx = update(
        &mut s,
        10,
        Event::Command(Command::Resume {
            task: id,
            message: Some("yes, go ahead".into()),
        }),
    );
    assert_eq!(spawned(&fx), vec![id]);
    assert!(s.task(id).unwrap().pending_question.is_none());
}

#[test]
fn late_events_after_the_finish_change_nothing() {
    let (mut s, id) = launched(Settings::default());
    succeed(&mut s, 2_000, id);
    drain_published();
    let fx = agent(&mut s, id, AgentEvent::Question(approval()));
    assert!(fx.is_empty());
    let t = s.task(id).unwrap();
    assert_eq!(t.status, TaskStatus::Succeeded);
    assert!(!t.process_alive);
    assert!(t.pending_question.is_none());
    assert!(drain_published().is_empty());
}
