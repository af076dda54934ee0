//! Plain transition tests of `update`: one event in, state and effects out.

use serde_json::json;

use super::*;
use crate::agent::{AgentKind, AgentOptions};
use crate::core::event::{QuestionItem, Usage};
use crate::core::{Limits, task::TaskSpec};

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
    let (mut s, id) = launched(Settings::default());
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
