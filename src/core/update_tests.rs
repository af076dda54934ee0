//! Plain transition tests of `update`: one event in, state and effects out.

use serde_json::json;

use super::*;
use crate::agent::{AgentKind, AgentOptions};
use crate::core::event::{QuestionItem, Usage};
use crate::core::{
    Limits,
    task::{Budget, TaskSpec},
};

fn headless() -> Settings {
    Settings {
        end_after_turn: true,
        ..Settings::default()
    }
}

fn spec(prompt: &str) -> TaskSpec {
    TaskSpec {
        agent: AgentKind::Claude,
        prompt: prompt.into(),
        title: None,
        cwd: ".".into(),
        options: AgentOptions::default(),
        limits: Limits {
            idle_timeout_ms: Some(5_000),
            wall_timeout_ms: Some(60_000),
        },
        profile: None,
        budget: Budget::default(),
        worktree: false,
    }
}

fn launched(settings: Settings) -> (State, TaskId) {
    let mut s = State::new(settings);
    let fx = update(
        &mut s,
        1_000,
        Event::Command(Command::Launch(Box::new(spec("fix it")))),
    );
    assert!(matches!(fx.as_slice(), [Effect::Spawn { .. }]));
    let id = s.tasks[0].id;
    s.drain_published();
    (s, id)
}

fn agent(s: &mut State, task: TaskId, event: AgentEvent) -> Vec<Effect> {
    update(s, 2_000, Event::Agent { task, event })
}

fn exit(code: i32) -> ExitInfo {
    ExitInfo {
        code: Some(code),
        signal: None,
        killed_outside_group: 0,
    }
}

fn turn_end(is_error: bool, result: &str) -> AgentEvent {
    AgentEvent::TurnEnd {
        is_error,
        result: Some(result.into()),
        api_error_status: is_error.then_some(500),
        num_turns: Some(1),
        permission_denials: vec![],
    }
}

fn finished(s: &mut State) -> Finished {
    match s.drain_published().pop() {
        Some((_, AgentEvent::Finished(f))) => f,
        other => panic!("expected finished last, got {other:?}"),
    }
}

fn approval() -> Question {
    Question {
        id: "req-1".into(),
        kind: QuestionKind::Approval,
        tool: Some("Bash".into()),
        input: json!({"command": "touch x"}),
        tool_use_id: Some("toolu_1".into()),
        questions: vec![],
    }
}

#[test]
fn launch_spawns_and_runs() {
    let (s, id) = launched(Settings::default());
    let t = s.task(id).unwrap();
    assert_eq!(t.status, TaskStatus::Running);
    assert_eq!(t.title(), "fix it");
    assert!(t.stdin_open, "claude's stdin is a pipe kept open");
}

#[test]
fn a_clean_turn_and_exit_succeeds_with_totals() {
    let (mut s, id) = launched(headless());
    agent(
        &mut s,
        id,
        AgentEvent::Session {
            session_id: "abc".into(),
            model: Some("m".into()),
            cwd: None,
            agent: "claude".into(),
        },
    );
    for _ in 0..2 {
        agent(
            &mut s,
            id,
            AgentEvent::Usage(Usage {
                input_tokens: 10,
                output_tokens: 5,
                cost_usd: Some(0.25),
                ..Default::default()
            }),
        );
    }
    agent(&mut s, id, turn_end(false, "done"));
    update(
        &mut s,
        4_500,
        Event::Exited {
            task: id,
            exit: exit(0),
        },
    );
    let f = finished(&mut s);
    assert_eq!(f.status, FinishStatus::Succeeded);
    assert_eq!(f.result.as_deref(), Some("done"));
    assert_eq!(f.session_id.as_deref(), Some("abc"));
    assert_eq!(f.duration_ms, 3_500);
    assert_eq!(f.usage.input_tokens, 20);
    assert_eq!(f.usage.cost_usd, Some(0.5));
    assert_eq!(s.task(id).unwrap().status, TaskStatus::Succeeded);
}

#[test]
fn an_error_turn_fails_even_with_exit_zero() {
    let (mut s, id) = launched(Settings::default());
    agent(&mut s, id, turn_end(true, "API Error: 500 boom"));
    update(
        &mut s,
        3_000,
        Event::Exited {
            task: id,
            exit: exit(0),
        },
    );
    let f = finished(&mut s);
    assert_eq!(f.status, FinishStatus::Failed);
    assert_eq!(f.reason.as_deref(), Some("API Error: 500 boom"));
}

#[test]
fn exiting_without_a_result_fails_and_quotes_the_last_output() {
    let (mut s, id) = launched(Settings::default());
    agent(
        &mut s,
        id,
        AgentEvent::Raw {
            line: "--permission-mode bypassPermissions cannot be used with root".into(),
        },
    );
    update(
        &mut s,
        3_000,
        Event::Exited {
            task: id,
            exit: exit(1),
        },
    );
    let f = finished(&mut s);
    assert_eq!(f.status, FinishStatus::Failed);
    let reason = f.reason.unwrap();
    assert!(
        reason.contains("without a result (exit code 1)"),
        "{reason}"
    );
    assert!(reason.contains("cannot be used with root"), "{reason}");
}

#[test]
fn spawn_failure_fails_with_its_message() {
    let (mut s, id) = launched(Settings::default());
    update(
        &mut s,
        1_001,
        Event::SpawnFailed {
            task: id,
            message: "agent binary `nope` not found on PATH".into(),
        },
    );
    let published = s.drain_published();
    assert!(matches!(&published[0].1, AgentEvent::Error { message } if message.contains("nope")));
    match &published[1].1 {
        AgentEvent::Finished(f) => {
            assert_eq!(f.status, FinishStatus::Failed);
            assert!(f.reason.as_deref().unwrap().contains("not found"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn user_kill_asks_the_runtime_and_finishes_killed() {
    let (mut s, id) = launched(Settings::default());
    let fx = update(&mut s, 1_500, Event::Command(Command::Kill { task: id }));
    assert_eq!(fx, vec![Effect::Kill { task: id }]);
    assert_eq!(
        s.task(id).unwrap().status,
        TaskStatus::Running,
        "until it exits"
    );
    update(
        &mut s,
        1_700,
        Event::Exited {
            task: id,
            exit: ExitInfo {
                code: None,
                signal: Some("SIGINT".into()),
                killed_outside_group: 0,
            },
        },
    );
    let f = finished(&mut s);
    assert_eq!(f.status, FinishStatus::Killed);
    assert_eq!(f.signal.as_deref(), Some("SIGINT"));
}

#[test]
fn a_limit_kills_once_and_finishes_timed_out() {
    let (mut s, id) = launched(Settings::default());
    let fx = update(
        &mut s,
        6_000,
        Event::LimitReached {
            task: id,
            limit: Limit::Idle,
        },
    );
    assert_eq!(fx, vec![Effect::Kill { task: id }]);
    let again = update(
        &mut s,
        6_001,
        Event::LimitReached {
            task: id,
            limit: Limit::Wall,
        },
    );
    assert!(again.is_empty(), "one kill is enough");
    update(
        &mut s,
        6_100,
        Event::Exited {
            task: id,
            exit: exit(143),
        },
    );
    let f = finished(&mut s);
    assert_eq!(f.status, FinishStatus::TimedOut);
    assert_eq!(f.reason.as_deref(), Some("no output for 5s (idle timeout)"));
}

#[test]
fn kill_after_finish_does_nothing() {
    let (mut s, id) = launched(Settings::default());
    agent(&mut s, id, turn_end(false, "ok"));
    update(
        &mut s,
        3_000,
        Event::Exited {
            task: id,
            exit: exit(0),
        },
    );
    assert!(update(&mut s, 3_001, Event::Command(Command::Kill { task: id })).is_empty());
    assert_eq!(s.task(id).unwrap().status, TaskStatus::Succeeded);
}

#[test]
fn headless_closes_stdin_after_the_turn() {
    let (mut s, id) = launched(Settings {
        end_after_turn: true,
        ..Settings::default()
    });
    let fx = agent(&mut s, id, turn_end(false, "ok"));
    assert_eq!(fx, vec![Effect::CloseStdin { task: id }]);
    assert!(agent(&mut s, id, turn_end(false, "again")).is_empty());
}

#[test]
fn asking_policy_blocks_until_the_user_answers() {
    let (mut s, id) = launched(Settings::default());
    let fx = agent(&mut s, id, AgentEvent::Question(approval()));
    assert!(fx.is_empty());
    assert_eq!(s.task(id).unwrap().status, TaskStatus::Blocked);
    let fx = update(
        &mut s,
        2_500,
        Event::Command(Command::Answer {
            task: id,
            answer: Answer::Allow {
                updated_input: None,
            },
        }),
    );
    assert!(matches!(fx.as_slice(), [Effect::WriteStdin { task, .. }] if *task == id));
    let t = s.task(id).unwrap();
    assert_eq!(t.status, TaskStatus::Running);
    assert!(t.pending_question.is_none());
    let published = s.drain_published();
    assert!(matches!(
        &published.last().unwrap().1,
        AgentEvent::Answered { decision, by, .. } if decision == "allow" && by == "user"
    ));
}

#[test]
fn deny_policy_answers_at_once_and_says_so() {
    let (mut s, id) = launched(Settings {
        approval: ApprovalPolicy::Deny,
        ..Settings::default()
    });
    let fx = agent(&mut s, id, AgentEvent::Question(approval()));
    assert!(matches!(fx.as_slice(), [Effect::WriteStdin { .. }]));
    assert_eq!(
        s.task(id).unwrap().status,
        TaskStatus::Running,
        "never blocks"
    );
    let published = s.drain_published();
    assert!(matches!(&published[0].1, AgentEvent::Question(_)));
    match &published[1].1 {
        AgentEvent::Answered {
            decision,
            by,
            message,
            ..
        } => {
            assert_eq!((decision.as_str(), by.as_str()), ("deny", "policy"));
            assert!(message.as_deref().unwrap().contains("--approve deny"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn allow_policy_still_declines_questions_it_cannot_answer() {
    let (mut s, id) = launched(Settings {
        approval: ApprovalPolicy::Allow,
        ..Settings::default()
    });
    let question = Question {
        kind: QuestionKind::Question,
        tool: Some("AskUserQuestion".into()),
        questions: vec![QuestionItem {
            question: "Which colour?".into(),
            header: None,
            options: vec![],
            multi_select: false,
        }],
        ..approval()
    };
    agent(&mut s, id, AgentEvent::Question(question));
    let published = s.drain_published();
    assert!(matches!(
        &published[1].1,
        AgentEvent::Answered { decision, .. } if decision == "deny"
    ));
}

#[test]
fn answering_without_a_question_does_nothing() {
    let (mut s, id) = launched(Settings::default());
    let fx = update(
        &mut s,
        2_000,
        Event::Command(Command::Answer {
            task: id,
            answer: Answer::Deny {
                message: "no".into(),
            },
        }),
    );
    assert!(fx.is_empty());
}

#[test]
fn survivors_after_kill_are_reported() {
    let (mut s, id) = launched(Settings::default());
    update(
        &mut s,
        2_000,
        Event::KillDone {
            task: id,
            survivors: 2,
        },
    );
    let published = s.drain_published();
    assert!(
        matches!(&published[0].1, AgentEvent::Error { message } if message.contains("2 process"))
    );
}

fn session(s: &mut State, id: TaskId, session_id: &str) {
    agent(
        s,
        id,
        AgentEvent::Session {
            session_id: session_id.into(),
            model: None,
            cwd: None,
            agent: "claude".into(),
        },
    );
}

fn spawned_prompt_and_resume(fx: &[Effect]) -> (String, Option<String>, Vec<(String, String)>) {
    match fx {
        [Effect::Spawn { spec, .. }] => {
            let stdin = match &spec.stdin {
                crate::agent::StdinMode::Pipe { initial_lines } => initial_lines.join("\n"),
                crate::agent::StdinMode::Null | crate::agent::StdinMode::Terminal { .. } => {
                    String::new()
                }
            };
            let resume = spec
                .args
                .windows(2)
                .find(|w| w[0] == "--resume")
                .map(|w| w[1].clone());
            (
                format!("{} {stdin}", spec.args.join(" ")),
                resume,
                spec.env.clone(),
            )
        }
        other => panic!("expected one spawn, got {other:?}"),
    }
}

#[test]
fn the_prompt_opens_the_conversation() {
    let mut s = State::new(Settings::default());
    update(
        &mut s,
        1,
        Event::Command(Command::Launch(Box::new(spec("fix it")))),
    );
    assert_eq!(
        s.drain_published()[0].1,
        AgentEvent::UserMessage {
            text: "fix it".into()
        }
    );
}

#[test]
fn a_live_session_finishes_the_turn_and_takes_a_follow_up_on_stdin() {
    let (mut s, id) = launched(Settings::default());
    session(&mut s, id, "abc");
    let fx = agent(&mut s, id, turn_end(false, "done"));
    assert!(fx.is_empty(), "the session stays open: {fx:?}");
    let t = s.task(id).unwrap();
    assert_eq!(t.status, TaskStatus::Succeeded);
    assert!(t.process_alive && t.stdin_open);
    assert_eq!(finished(&mut s).status, FinishStatus::Succeeded);

    let fx = update(
        &mut s,
        5_000,
        Event::Command(Command::FollowUp {
            task: id,
            text: "and the tests".into(),
        }),
    );
    match fx.as_slice() {
        [Effect::WriteStdin { line, .. }] => assert!(line.contains("and the tests")),
        other => panic!("{other:?}"),
    }
    assert_eq!(s.task(id).unwrap().status, TaskStatus::Running);
    assert!(
        matches!(&s.drain_published()[0].1, AgentEvent::UserMessage { text } if text == "and the tests")
    );

    agent(&mut s, id, turn_end(false, "tests pass"));
    assert_eq!(finished(&mut s).result.as_deref(), Some("tests pass"));
    update(
        &mut s,
        9_000,
        Event::Exited {
            task: id,
            exit: exit(0),
        },
    );
    assert!(
        s.drain_published().is_empty(),
        "closing the session finishes nothing twice"
    );
}

#[test]
fn a_follow_up_after_exit_resumes_the_session_and_falls_back_to_fresh() {
    let (mut s, id) = launched(headless());
    session(&mut s, id, "sess-1");
    agent(&mut s, id, turn_end(false, "done"));
    update(
        &mut s,
        3_000,
        Event::Exited {
            task: id,
            exit: exit(0),
        },
    );
    let fx = update(
        &mut s,
        4_000,
        Event::Command(Command::FollowUp {
            task: id,
            text: "now add docs".into(),
        }),
    );
    let (all, resume, _) = spawned_prompt_and_resume(&fx);
    assert_eq!(resume.as_deref(), Some("sess-1"));
    assert!(all.contains("now add docs"));
    assert!(
        !all.contains("fix it"),
        "a resume sends only the new message"
    );
    assert_eq!(s.task(id).unwrap().status, TaskStatus::Running);

    // The resume dies without a result: start afresh, and say so.
    s.drain_published();
    let fx = update(
        &mut s,
        5_000,
        Event::Exited {
            task: id,
            exit: exit(1),
        },
    );
    let (all, resume, _) = spawned_prompt_and_resume(&fx);
    assert_eq!(resume, None);
    assert!(
        all.contains("fix it") && all.contains("now add docs"),
        "{all}"
    );
    assert!(
        matches!(&s.drain_published()[0].1, AgentEvent::Error { message } if message.contains("afresh"))
    );
    assert_eq!(s.task(id).unwrap().runs, 3);
}

#[test]
fn allow_always_remembers_the_exact_command() {
    let (mut s, id) = launched(Settings::default());
    agent(&mut s, id, AgentEvent::Question(approval()));
    let fx = update(
        &mut s,
        2_100,
        Event::Command(Command::AllowAlways { task: id }),
    );
    assert!(matches!(fx.as_slice(), [Effect::WriteStdin { .. }]));

    let again = Question {
        id: "req-2".into(),
        ..approval()
    };
    let fx = agent(&mut s, id, AgentEvent::Question(again));
    assert!(
        matches!(fx.as_slice(), [Effect::WriteStdin { .. }]),
        "answered by the rule"
    );
    assert_eq!(s.task(id).unwrap().status, TaskStatus::Running);
    assert!(s.drain_published().iter().any(
        |(_, e)| matches!(e, AgentEvent::Answered { by, id, .. } if by == "rule" && id == "req-2")
    ));

    let other = Question {
        id: "req-3".into(),
        input: json!({"command": "rm -rf /"}),
        ..approval()
    };
    assert!(agent(&mut s, id, AgentEvent::Question(other)).is_empty());
    assert_eq!(s.task(id).unwrap().status, TaskStatus::Blocked);
}

fn codex_spec() -> TaskSpec {
    TaskSpec {
        agent: AgentKind::Codex,
        ..spec("refactor")
    }
}

fn file_question(id: TaskId) -> Question {
    crate::agent::question_file::parse(
        &id.to_string(),
        r#"{"text":"Which db?","options":["pg","sqlite"]}"#,
    )
    .unwrap()
}

#[test]
fn agents_without_a_live_channel_are_told_about_the_question_file() {
    let mut s = State::new(Settings {
        question_dir: Some("/q".into()),
        ..Settings::default()
    });
    let fx = update(
        &mut s,
        1,
        Event::Command(Command::Launch(Box::new(codex_spec()))),
    );
    let (all, _, env) = spawned_prompt_and_resume(&fx);
    assert!(all.contains("CORRAL_QUESTION_FILE"), "{all}");
    assert!(env.contains(&("CORRAL_QUESTION_FILE".into(), "/q/task-1-run-1.json".into())));

    let mut opted_out = codex_spec();
    opted_out.options.no_question_file = true;
    let fx = update(
        &mut s,
        1,
        Event::Command(Command::Launch(Box::new(opted_out))),
    );
    let (all, _, env) = spawned_prompt_and_resume(&fx);
    assert!(!all.contains("CORRAL_QUESTION_FILE"));
    assert!(env.is_empty());

    let fx = update(
        &mut s,
        1,
        Event::Command(Command::Launch(Box::new(spec("x")))),
    );
    let (_, _, env) = spawned_prompt_and_resume(&fx);
    assert!(env.is_empty(), "claude asks live");
}

#[test]
fn a_file_question_blocks_after_exit_and_the_answer_resumes() {
    let mut s = State::new(Settings {
        question_dir: Some("/q".into()),
        ..headless()
    });
    update(
        &mut s,
        1,
        Event::Command(Command::Launch(Box::new(codex_spec()))),
    );
    let id = s.tasks[0].id;
    agent(
        &mut s,
        id,
        AgentEvent::Session {
            session_id: "thread-9".into(),
            model: None,
            cwd: None,
            agent: "codex".into(),
        },
    );
    agent(&mut s, id, AgentEvent::Question(file_question(id)));
    update(
        &mut s,
        3_000,
        Event::Exited {
            task: id,
            exit: exit(0),
        },
    );
    let t = s.task(id).unwrap();
    assert_eq!(
        t.status,
        TaskStatus::Blocked,
        "still waiting after the exit"
    );
    assert!(
        !s.drain_published()
            .iter()
            .any(|(_, e)| matches!(e, AgentEvent::Finished(_)))
    );

    let fx = update(
        &mut s,
        9_000,
        Event::Command(Command::Answer {
            task: id,
            answer: Answer::Answer {
                answers: vec![("Which db?".into(), "sqlite".into())],
            },
        }),
    );
    let (all, _, _) = spawned_prompt_and_resume(&fx);
    assert!(all.contains("resume") && all.contains("thread-9"), "{all}");
    assert!(all.contains("The user answered: sqlite"), "{all}");
    assert_eq!(s.task(id).unwrap().status, TaskStatus::Running);
}

#[test]
fn headless_declines_a_file_question_and_resumes_instead_of_hanging() {
    let mut s = State::new(Settings {
        question_dir: Some("/q".into()),
        approval: ApprovalPolicy::Deny,
        ..headless()
    });
    update(
        &mut s,
        1,
        Event::Command(Command::Launch(Box::new(codex_spec()))),
    );
    let id = s.tasks[0].id;
    let fx = agent(&mut s, id, AgentEvent::Question(file_question(id)));
    assert!(
        fx.is_empty(),
        "nothing starts while the agent is still exiting"
    );
    let fx = update(
        &mut s,
        3_000,
        Event::Exited {
            task: id,
            exit: exit(0),
        },
    );
    let (all, _, _) = spawned_prompt_and_resume(&fx);
    assert!(all.contains("declined"), "{all}");
}

// ---- queue, limits, retry, resume, archive, delete ----

fn launch(s: &mut State, now: u64, spec: TaskSpec) -> Vec<Effect> {
    update(s, now, Event::Command(Command::Launch(Box::new(spec))))
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
    fx.extend(update(
        s,
        now,
        Event::Exited {
            task: id,
            exit: exit(0),
        },
    ));
    fx
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
    let mut s = State::new(headless());
    launch(
        &mut s,
        1_000,
        TaskSpec {
            budget: Budget {
                max_cost_usd: Some(0.5),
                ..Budget::default()
            },
            ..spec("spend")
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
    update(
        &mut s,
        3_000,
        Event::Exited {
            task: 1,
            exit: ExitInfo {
                code: None,
                signal: Some("SIGINT".into()),
                killed_outside_group: 0,
            },
        },
    );
    let f = finished(&mut s);
    assert_eq!(f.status, FinishStatus::Killed);
    assert_eq!(
        f.reason.as_deref(),
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
    s.drain_published();
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
    let published = s.drain_published();
    assert!(matches!(&published[0].1, AgentEvent::Usage(u) if u.cost_usd.is_some()));
}

#[test]
fn max_turns_kills_once_the_agent_reports_more() {
    let mut s = State::new(headless());
    launch(
        &mut s,
        1_000,
        TaskSpec {
            budget: Budget {
                max_turns: Some(2),
                ..Budget::default()
            },
            ..spec("loop")
        },
    );
    let turn = |n| AgentEvent::TurnEnd {
        is_error: false,
        result: Some("r".into()),
        api_error_status: None,
        num_turns: Some(n),
        permission_denials: vec![],
    };
    assert!(
        !agent(&mut s, 1, turn(2)).contains(&Effect::Kill { task: 1 }),
        "at the limit is fine"
    );
    assert_eq!(agent(&mut s, 1, turn(1)), vec![Effect::Kill { task: 1 }]);
    update(
        &mut s,
        2_000,
        Event::Exited {
            task: 1,
            exit: exit(0),
        },
    );
    let f = finished(&mut s);
    assert_eq!(f.status, FinishStatus::Killed);
    assert_eq!(
        f.reason.as_deref(),
        Some("took 3 turns, over the 2-turn limit")
    );
}

#[test]
fn retry_relaunches_a_failed_task_from_its_prompt_as_a_new_run() {
    let (mut s, id) = launched(Settings::default());
    agent(&mut s, id, turn_end(true, "boom"));
    update(
        &mut s,
        2_000,
        Event::Exited {
            task: id,
            exit: exit(1),
        },
    );
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
    update(
        &mut s,
        1_600,
        Event::Exited {
            task: id,
            exit: exit(130),
        },
    );
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
    assert!(s.drain_deleted().is_empty());
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
    assert_eq!(s.drain_deleted(), vec![id]);
}

#[test]
fn adopted_unfinished_tasks_are_interrupted_and_resumable() {
    let mut s = State::new(Settings::default());
    let mut task = crate::core::task::Task::new(0, spec("old"), 10);
    task.status = TaskStatus::Blocked;
    task.session_id = Some("s-1".into());
    task.pending_question = Some(approval());
    let id = s.adopt(task);
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
    s.drain_published();
    let fx = agent(&mut s, id, AgentEvent::Question(approval()));
    assert!(fx.is_empty());
    let t = s.task(id).unwrap();
    assert_eq!(t.status, TaskStatus::Succeeded);
    assert!(!t.process_alive);
    assert!(t.pending_question.is_none());
    assert!(s.drain_published().is_empty());
}
