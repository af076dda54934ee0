//! Plain transition tests of `update`: one event in, state and effects out.

use serde_json::json;

use super::*;
use crate::agent::AgentKind;
use crate::core::Settings;
use crate::core::event::{QuestionItem, Usage};
use crate::core::test_step::{
    agent_says as agent, answer_at, drain_published, exit_at, exit_code as exit, exit_signal,
    follow_up_at, launch_in, spec_of, turn, update,
};
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
        limits: Limits {
            idle_timeout_ms: Some(5_000),
            wall_timeout_ms: Some(60_000),
        },
        ..spec_of(AgentKind::Claude, prompt)
    }
}

fn launched(settings: Settings) -> (State, TaskId) {
    let (s, id, fx) = launch_in(settings, spec("fix it"));
    assert!(matches!(fx.as_slice(), [Effect::Spawn { .. }]));
    (s, id)
}

fn turn_end(is_error: bool, result: &str) -> AgentEvent {
    turn(
        is_error,
        Some(result.into()),
        is_error.then_some(500),
        Some(1),
    )
}

fn finished() -> Finished {
    match drain_published().pop() {
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
    exit_at(&mut s, id, 4_500, exit(0));
    let f = finished();
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
    exit_at(&mut s, id, 3_000, exit(0));
    let f = finished();
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
    exit_at(&mut s, id, 3_000, exit(1));
    let f = finished();
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
    let published = drain_published();
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
    exit_at(&mut s, id, 1_700, exit_signal("SIGINT"));
    let f = finished();
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
    exit_at(&mut s, id, 6_100, exit(143));
    let f = finished();
    assert_eq!(f.status, FinishStatus::TimedOut);
    assert_eq!(f.reason.as_deref(), Some("no output for 5s (idle timeout)"));
}

#[test]
fn kill_after_finish_does_nothing() {
    let (mut s, id) = launched(Settings::default());
    agent(&mut s, id, turn_end(false, "ok"));
    exit_at(&mut s, id, 3_000, exit(0));
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
    let fx = answer_at(
        &mut s,
        id,
        2_500,
        Answer::Allow {
            updated_input: None,
        },
    );
    assert!(matches!(fx.as_slice(), [Effect::WriteStdin { task, .. }] if *task == id));
    let t = s.task(id).unwrap();
    assert_eq!(t.status, TaskStatus::Running);
    assert!(t.pending_question.is_none());
    let published = drain_published();
    assert!(matches!(
        &published.last().unwrap().1,
        AgentEvent::Answered { decision, by, .. } if decision == "allow" && by == "user"
    ));
}

#[test]
fn a_batch_of_one_read_does_what_its_events_do_one_by_one() {
    let events = vec![
        AgentEvent::Text {
            text: "let me check".into(),
            delta: true,
        },
        AgentEvent::Question(approval()),
        AgentEvent::Raw {
            line: "after the question".into(),
        },
    ];
    let (mut one_by_one, id) = launched(Settings::default());
    let mut fx_one = Vec::new();
    for event in events.clone() {
        fx_one.extend(agent(&mut one_by_one, id, event));
    }
    let published_one = drain_published();
    let (mut batched, id2) = launched(Settings::default());
    assert_eq!(id, id2);
    let fx = update(&mut batched, 2_000, Event::Agents { task: id, events });
    assert_eq!(fx, fx_one);
    assert_eq!(drain_published(), published_one);
    assert_eq!(batched.task(id).unwrap().status, TaskStatus::Blocked);
    assert_eq!(batched.task(id), one_by_one.task(id));
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
    let published = drain_published();
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
    let published = drain_published();
    assert!(matches!(
        &published[1].1,
        AgentEvent::Answered { decision, .. } if decision == "deny"
    ));
}

#[test]
fn answering_without_a_question_does_nothing() {
    let (mut s, id) = launched(Settings::default());
    let fx = answer_at(
        &mut s,
        id,
        2_000,
        Answer::Deny {
            message: "no".into(),
        },
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
    let published = drain_published();
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
    update(&mut s, 1, Event::Command(Command::launch(spec("fix it"))));
    assert_eq!(
        drain_published()[0].1,
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
    assert_eq!(finished().status, FinishStatus::Succeeded);

    let fx = follow_up_at(&mut s, id, 5_000, "and the tests");
    match fx.as_slice() {
        [Effect::WriteStdin { line, .. }] => assert!(line.contains("and the tests")),
        other => panic!("{other:?}"),
    }
    assert_eq!(s.task(id).unwrap().status, TaskStatus::Running);
    assert!(
        matches!(&drain_published()[0].1, AgentEvent::UserMessage { text } if text == "and the tests")
    );

    agent(&mut s, id, turn_end(false, "tests pass"));
    assert_eq!(finished().result.as_deref(), Some("tests pass"));
    exit_at(&mut s, id, 9_000, exit(0));
    assert!(
        drain_published().is_empty(),
        "closing the session finishes nothing twice"
    );
}

#[test]
fn a_follow_up_after_exit_resumes_the_session_and_falls_back_to_fresh() {
    let (mut s, id) = launched(headless());
    session(&mut s, id, "sess-1");
    agent(&mut s, id, turn_end(false, "done"));
    exit_at(&mut s, id, 3_000, exit(0));
    let fx = follow_up_at(&mut s, id, 4_000, "now add docs");
    let (all, resume, _) = spawned_prompt_and_resume(&fx);
    assert_eq!(resume.as_deref(), Some("sess-1"));
    assert!(all.contains("now add docs"));
    assert!(
        !all.contains("fix it"),
        "a resume sends only the new message"
    );
    assert_eq!(s.task(id).unwrap().status, TaskStatus::Running);

    // The resume dies without a result: start afresh, and say so.
    drain_published();
    let fx = exit_at(&mut s, id, 5_000, exit(1));
    let (all, resume, _) = spawned_prompt_and_resume(&fx);
    assert_eq!(resume, None);
    assert!(
        all.contains("fix it") && all.contains("now add docs"),
        "{all}"
    );
    assert!(
        matches!(&drain_published()[0].1, AgentEvent::Error { message } if message.contains("afresh"))
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
    assert!(drain_published().iter().any(
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

/// codex one-shot (`exec`): no live channel, questions through the file.
fn codex_spec() -> TaskSpec {
    let mut spec = TaskSpec {
        agent: AgentKind::Codex,
        ..spec("refactor")
    };
    spec.options.protocol = Some("exec".into());
    spec
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
    let fx = update(&mut s, 1, Event::Command(Command::launch(codex_spec())));
    let (all, _, env) = spawned_prompt_and_resume(&fx);
    assert!(all.contains("CORRAL_QUESTION_FILE"), "{all}");
    assert!(env.contains(&("CORRAL_QUESTION_FILE".into(), "/q/task-1-run-1.json".into())));

    let mut opted_out = codex_spec();
    opted_out.options.no_question_file = true;
    let fx = update(&mut s, 1, Event::Command(Command::launch(opted_out)));
    let (all, _, env) = spawned_prompt_and_resume(&fx);
    assert!(!all.contains("CORRAL_QUESTION_FILE"));
    assert!(env.is_empty());

    let fx = update(&mut s, 1, Event::Command(Command::launch(spec("x"))));
    let (_, _, env) = spawned_prompt_and_resume(&fx);
    assert!(env.is_empty(), "claude asks live");
}

#[test]
fn a_file_question_blocks_after_exit_and_the_answer_resumes() {
    let mut s = State::new(Settings {
        question_dir: Some("/q".into()),
        ..headless()
    });
    update(&mut s, 1, Event::Command(Command::launch(codex_spec())));
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
    exit_at(&mut s, id, 3_000, exit(0));
    let t = s.task(id).unwrap();
    assert_eq!(
        t.status,
        TaskStatus::Blocked,
        "still waiting after the exit"
    );
    assert!(
        !drain_published()
            .iter()
            .any(|(_, e)| matches!(e, AgentEvent::Finished(_)))
    );

    let fx = answer_at(
        &mut s,
        id,
        9_000,
        Answer::Answer {
            answers: vec![("Which db?".into(), "sqlite".into())],
        },
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
    update(&mut s, 1, Event::Command(Command::launch(codex_spec())));
    let id = s.tasks[0].id;
    let fx = agent(&mut s, id, AgentEvent::Question(file_question(id)));
    assert!(
        fx.is_empty(),
        "nothing starts while the agent is still exiting"
    );
    let fx = exit_at(&mut s, id, 3_000, exit(0));
    let (all, _, _) = spawned_prompt_and_resume(&fx);
    assert!(all.contains("declined"), "{all}");
}

#[path = "update_queue_tests.rs"]
mod queue;

#[test]
fn process_costs_show_while_the_agent_lives_and_are_gone_once_it_exits() {
    use crate::core::task::ProcCost;
    let (mut s, id) = launched(Settings::default());
    // The front end asks; the runtime samples.
    assert_eq!(
        update(
            &mut s,
            1_500,
            Event::Command(Command::WatchCosts { on: true })
        ),
        vec![Effect::WatchCosts { on: true }]
    );
    let busy = ProcCost {
        cpu_percent: 100,
        rss_kib: 65_536,
        processes: 2,
    };
    // A sample for a task that is gone is ignored.
    assert!(
        update(
            &mut s,
            2_000,
            Event::ProcCosts(vec![(id, busy), (99, busy)])
        )
        .is_empty()
    );
    assert_eq!(s.task(id).unwrap().cost, Some(busy));
    assert!(drain_published().is_empty(), "costs are not events");
    exit_at(&mut s, id, 3_000, exit(0));
    assert_eq!(s.task(id).unwrap().cost, None);
    // A sample taken before the exit and applied after it is stale.
    update(&mut s, 3_100, Event::ProcCosts(vec![(id, busy)]));
    assert_eq!(s.task(id).unwrap().cost, None);
    assert_eq!(
        update(
            &mut s,
            4_000,
            Event::Command(Command::WatchCosts { on: false })
        ),
        vec![Effect::WatchCosts { on: false }]
    );
}
