//! Pure `update` tests of rate-limit retries, follow-ups, the OpenAI kind's
//! conversation, commands and timers: one event in, state and effects out.

use super::*;
use crate::agent::{AgentKind, StdinMode};
use crate::core::test_step::{
    agent_says as agent, drain_published, exit_at, exit_code, exit_quiet, follow_up_at, launch_in,
    retry_timer, session_event, spec_of, turn, update,
};
use crate::core::{Limits, task::TaskSpec};
use crate::core::{RetryPolicy, Settings};

fn spec(agent: AgentKind) -> TaskSpec {
    // codex's one-shot `exec` (its app server is in update_live_tests).
    let mut spec = spec_of(agent, "fix it");
    spec.options.protocol = (agent == AgentKind::Codex).then(|| "exec".to_string());
    spec
}

fn launched(agent: AgentKind) -> (State, TaskId) {
    let (s, id, fx) = launch_in(Settings::default(), spec(agent));
    assert_eq!(fx.len(), 1);
    (s, id)
}

fn session(s: &mut State, task: TaskId, id: &str) {
    agent(s, task, session_event(id, "claude"));
}

fn failed_turn(status: Option<u16>, result: &str) -> AgentEvent {
    turn(true, Some(result.into()), status, Some(1))
}

fn exited(s: &mut State, task: TaskId, now: u64, code: i32) -> Vec<Effect> {
    exit_at(s, task, now, exit_code(code))
}

/// Keys typed for `task` at 2 000 ms.
fn input(s: &mut State, task: TaskId, bytes: &[u8]) -> Vec<Effect> {
    update(
        s,
        2_000,
        Event::Command(Command::Input {
            task,
            bytes: bytes.to_vec(),
        }),
    )
}

fn retry_event() -> (u32, Option<u64>, Option<u16>, String) {
    let published = drain_published();
    assert!(
        !published
            .iter()
            .any(|(_, e)| matches!(e, AgentEvent::Finished(_))),
        "a task waiting for a retry is not finished: {published:?}"
    );
    match published.last() {
        Some((
            _,
            AgentEvent::Retry {
                attempt,
                delay_ms,
                status,
                reason,
                ..
            },
        )) => (*attempt, *delay_ms, *status, reason.clone()),
        other => panic!("expected a retry event, got {other:?}"),
    }
}

/// One rate-limited run of a claude task: fails with 429 and exits 1.
fn rate_limited_run(s: &mut State, task: TaskId, now: u64) -> Vec<Effect> {
    agent(
        s,
        task,
        failed_turn(Some(429), "API Error: 429 rate_limit_error"),
    );
    exited(s, task, now, 1)
}

#[test]
fn a_429_is_retried_after_5_then_10_s_then_gives_up_failed() {
    let (mut s, id) = launched(AgentKind::Claude);
    session(&mut s, id, "sess-1");

    let fx = rate_limited_run(&mut s, id, 10_000);
    assert_eq!(
        fx,
        [Effect::Timer {
            task: id,
            after_ms: 5_000,
            kind: TimerKind::Retry { attempt: 1 }
        }]
    );
    let (attempt, delay, status, reason) = retry_event();
    assert_eq!((attempt, delay, status), (1, Some(5_000), Some(429)));
    assert!(reason.contains("retrying in 5s"), "{reason}");
    let t = s.task(id).unwrap();
    assert_eq!(t.status, TaskStatus::Queued);
    assert!(s.cooling_down(AgentKind::Claude, 14_999));
    assert!(!s.cooling_down(AgentKind::Claude, 15_000));
    assert!(!s.cooling_down(AgentKind::Codex, 12_000));

    // The timer fires: claude resumes its session with a "continue" message.
    let fx = retry_timer(&mut s, id, 15_000, 1);
    let [Effect::Spawn { spec, .. }] = fx.as_slice() else {
        panic!("expected a spawn, got {fx:?}");
    };
    assert!(spec.args.windows(2).any(|w| w == ["--resume", "sess-1"]));
    let StdinMode::Pipe { initial_lines } = &spec.stdin else {
        panic!("claude reads a pipe");
    };
    assert!(
        initial_lines
            .iter()
            .any(|l| l.contains("Continue the task"))
    );
    assert_eq!(s.task(id).unwrap().status, TaskStatus::Running);

    // Second 429: 10 s.
    let fx = rate_limited_run(&mut s, id, 20_000);
    assert!(matches!(
        fx.as_slice(),
        [Effect::Timer {
            after_ms: 10_000,
            kind: TimerKind::Retry { attempt: 2 },
            ..
        }]
    ));
    assert_eq!(retry_event().0, 2);
    retry_timer(&mut s, id, 30_000, 2);
    // Third: 20 s.
    let fx = rate_limited_run(&mut s, id, 40_000);
    assert!(matches!(
        fx.as_slice(),
        [Effect::Timer {
            after_ms: 20_000,
            ..
        }]
    ));
    retry_event();
    retry_timer(&mut s, id, 60_000, 3);
    // Fourth failure: out of retries, the task fails with the reason.
    let fx = rate_limited_run(&mut s, id, 70_000);
    assert!(fx.is_empty());
    let t = s.task(id).unwrap();
    assert_eq!(t.status, TaskStatus::Failed);
    match drain_published().pop() {
        Some((_, AgentEvent::Finished(f))) => {
            assert_eq!(f.status, FinishStatus::Failed);
            let reason = f.reason.unwrap_or_default();
            assert!(reason.contains("429"), "{reason}");
            assert!(reason.contains("gave up after 3 retries"), "{reason}");
        }
        other => panic!("expected finished, got {other:?}"),
    }
}

#[test]
fn failures_that_are_not_rate_limits_are_not_retried() {
    let (mut s, id) = launched(AgentKind::Claude);
    agent(
        &mut s,
        id,
        failed_turn(Some(500), "API Error: 500 internal"),
    );
    assert!(exited(&mut s, id, 5_000, 1).is_empty());
    assert_eq!(s.task(id).unwrap().status, TaskStatus::Failed);

    // Nor is a clean exit, nor an exit without a turn and no rate-limit text.
    let (mut s, id) = launched(AgentKind::Gemini);
    session(&mut s, id, "s-1");
    assert!(exited(&mut s, id, 5_000, 2).is_empty());
    assert_eq!(s.task(id).unwrap().status, TaskStatus::Failed);
}

#[test]
fn codex_and_gemini_rate_limit_words_are_recognised_and_resume_their_sessions() {
    // codex: the failure text names the status; the retry resumes the thread.
    let (mut s, id) = launched(AgentKind::Codex);
    session(&mut s, id, "thread-9");
    agent(
        &mut s,
        id,
        AgentEvent::Error {
            message: "exceeded retry limit, last status: 429 Too Many Requests".into(),
        },
    );
    agent(&mut s, id, failed_turn(None, "turn failed"));
    let fx = exited(&mut s, id, 5_000, 1);
    assert!(matches!(fx.as_slice(), [Effect::Timer { .. }]), "{fx:?}");
    let (_, _, status, _) = retry_event();
    assert_eq!(status, Some(429));
    let fx = retry_timer(&mut s, id, 10_000, 1);
    let [Effect::Spawn { spec, .. }] = fx.as_slice() else {
        panic!("{fx:?}");
    };
    assert_eq!(spec.args[..2], ["exec", "resume"]);
    assert!(spec.args.contains(&"thread-9".to_string()));

    // gemini: RESOURCE_EXHAUSTED with no session: the original prompt again.
    let (mut s, id) = launched(AgentKind::Gemini);
    agent(
        &mut s,
        id,
        AgentEvent::Error {
            message: "[API Error: RESOURCE_EXHAUSTED: quota]".into(),
        },
    );
    assert!(!exited(&mut s, id, 5_000, 1).is_empty());
    let fx = retry_timer(&mut s, id, 10_000, 1);
    let [Effect::Spawn { spec, .. }] = fx.as_slice() else {
        panic!("{fx:?}");
    };
    // Over ACP the prompt waits for the new session (no `session/load`).
    let crate::agent::StdinMode::Pipe { initial_lines } = &spec.stdin else {
        panic!("ACP runs on a pipe: {spec:?}");
    };
    assert!(initial_lines.iter().any(|l| l.contains("session/new")));
    assert!(!initial_lines.iter().any(|l| l.contains("session/load")));
    assert_eq!(
        s.task(id).unwrap().live.first_prompt.as_deref(),
        Some("fix it")
    );
}

#[test]
fn an_overloaded_529_is_retried_and_the_policy_is_configurable() {
    let mut s = State::new(Settings {
        retry: RetryPolicy {
            max_attempts: 1,
            delays_ms: vec![250],
        },
        ..Settings::default()
    });
    update(
        &mut s,
        0,
        Event::Command(Command::launch(spec(AgentKind::Claude))),
    );
    let id = s.tasks[0].id;
    agent(&mut s, id, failed_turn(Some(529), "Overloaded"));
    let fx = exited(&mut s, id, 1_000, 1);
    assert!(matches!(
        fx.as_slice(),
        [Effect::Timer { after_ms: 250, .. }]
    ));
    retry_timer(&mut s, id, 1_250, 1);
    agent(&mut s, id, failed_turn(Some(529), "Overloaded"));
    assert!(exited(&mut s, id, 2_000, 1).is_empty(), "one retry only");
    assert_eq!(s.task(id).unwrap().status, TaskStatus::Failed);
}

#[test]
fn killing_a_task_during_its_cool_down_ends_it_and_the_stale_timer_does_nothing() {
    let (mut s, id) = launched(AgentKind::Claude);
    rate_limited_run(&mut s, id, 5_000);
    drain_published();
    assert!(update(&mut s, 6_000, Event::Command(Command::Kill { task: id })).is_empty());
    assert_eq!(s.task(id).unwrap().status, TaskStatus::Killed);
    assert!(!s.cooling_down(AgentKind::Claude, 7_000));
    let fx = retry_timer(&mut s, id, 10_000, 1);
    assert!(fx.is_empty());
    assert_eq!(s.task(id).unwrap().status, TaskStatus::Killed);
}

#[test]
fn a_killed_run_is_never_retried_even_on_a_rate_limit() {
    let (mut s, id) = launched(AgentKind::Claude);
    update(&mut s, 1_500, Event::Command(Command::Kill { task: id }));
    agent(&mut s, id, failed_turn(Some(429), "rate limited"));
    assert!(exited(&mut s, id, 3_000, 1).is_empty());
    assert_eq!(s.task(id).unwrap().status, TaskStatus::Killed);
}

#[test]
fn the_openai_kind_sends_a_chat_and_keeps_the_conversation() {
    let (mut s, id) = launched(AgentKind::OpenAi);
    agent(
        &mut s,
        id,
        turn(false, Some("first answer".into()), None, Some(1)),
    );
    exit_at(&mut s, id, 3_000, exit_quiet());
    assert_eq!(s.task(id).unwrap().status, TaskStatus::Succeeded);
    let fx = follow_up_at(&mut s, id, 4_000, "more");
    let [Effect::Chat { request, .. }] = fx.as_slice() else {
        panic!("{fx:?}");
    };
    let roles: Vec<(&str, &str)> = request.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["role"].as_str().unwrap(), m["content"].as_str().unwrap()))
        .collect();
    assert_eq!(
        roles,
        [
            ("user", "fix it"),
            ("assistant", "first answer"),
            ("user", "more")
        ]
    );
    assert_eq!(s.task(id).unwrap().status, TaskStatus::Running);
}

#[test]
fn an_openai_rate_limit_failure_is_not_retried_by_core() {
    // Its runtime already retried with backoff and Retry-After.
    let (mut s, id) = launched(AgentKind::OpenAi);
    agent(&mut s, id, failed_turn(Some(429), "HTTP 429: slow down"));
    let fx = exit_at(&mut s, id, 3_000, exit_quiet());
    assert!(fx.is_empty());
    assert_eq!(s.task(id).unwrap().status, TaskStatus::Failed);
}

#[test]
fn a_follow_up_to_a_working_agent_is_refused_visibly() {
    let (mut s, id) = launched(AgentKind::Codex);
    let fx = follow_up_at(&mut s, id, 2_000, "hurry");
    assert!(fx.is_empty());
    assert!(matches!(
        drain_published().last(),
        Some((_, AgentEvent::Error { message })) if message.contains("still working")
    ));
}

#[test]
fn a_follow_up_resumes_a_finished_codex_session() {
    let (mut s, id) = launched(AgentKind::Codex);
    session(&mut s, id, "thread-1");
    agent(&mut s, id, turn(false, Some("done".into()), None, None));
    exited(&mut s, id, 3_000, 0);
    assert_eq!(s.task(id).unwrap().status, TaskStatus::Succeeded);
    let fx = follow_up_at(&mut s, id, 4_000, "and the tests");
    let [Effect::Spawn { spec, .. }] = fx.as_slice() else {
        panic!("{fx:?}");
    };
    assert_eq!(spec.args[..2], ["exec", "resume"]);
    assert_eq!(spec.args.last().map(String::as_str), Some("and the tests"));
}

#[test]
fn input_and_resize_reach_only_live_commands() {
    let (mut s, id) = launched(AgentKind::Command);
    let fx = input(&mut s, id, b"q");
    assert_eq!(
        fx,
        [Effect::WriteInput {
            task: id,
            bytes: b"q".to_vec()
        }]
    );
    let fx = update(
        &mut s,
        2_000,
        Event::Command(Command::Resize {
            task: id,
            rows: 10,
            cols: 20,
        }),
    );
    assert_eq!(
        fx,
        [Effect::Resize {
            task: id,
            rows: 10,
            cols: 20
        }]
    );
    exited(&mut s, id, 3_000, 0);
    let fx = update(
        &mut s,
        4_000,
        Event::Command(Command::Input {
            task: id,
            bytes: b"q".to_vec(),
        }),
    );
    assert!(fx.is_empty(), "nothing to type into once it exited");

    // Claude reads a pipe: no keystrokes for it.
    let (mut s, id) = launched(AgentKind::Claude);
    let fx = input(&mut s, id, b"q");
    assert!(fx.is_empty());
}

#[test]
fn output_marks_activity_for_busy_or_idle() {
    let (mut s, id) = launched(AgentKind::Command);
    assert!(!s.task(id).unwrap().is_busy(1_500), "no output yet");
    update(
        &mut s,
        2_000,
        Event::Output {
            task: id,
            bytes: b"x".to_vec(),
        },
    );
    let t = s.task(id).unwrap();
    assert!(t.is_busy(3_000));
    assert!(!t.is_busy(2_000 + crate::core::task::BUSY_WINDOW_MS));
}

#[test]
fn a_command_succeeds_on_exit_zero_and_fails_with_its_code() {
    let (mut s, id) = launched(AgentKind::Command);
    exited(&mut s, id, 2_000, 0);
    assert_eq!(s.task(id).unwrap().status, TaskStatus::Succeeded);
    let (mut s, id) = launched(AgentKind::Command);
    exited(&mut s, id, 2_000, 7);
    let t = s.task(id).unwrap();
    assert_eq!(t.status, TaskStatus::Failed);
    match drain_published().pop() {
        Some((_, AgentEvent::Finished(f))) => {
            assert_eq!(f.reason.as_deref(), Some("the command exited with code 7"))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_live_session_that_hits_a_rate_limit_is_closed_and_retried() {
    // The cockpit keeps claude's session open after a turn (the default
    // settings): a rate-limited turn must end it so the retry can start.
    let (mut s, id) = launched(AgentKind::Claude);
    session(&mut s, id, "sess-1");
    let fx = agent(
        &mut s,
        id,
        failed_turn(Some(429), "API Error: 429 rate_limit_error"),
    );
    assert_eq!(fx, [Effect::CloseStdin { task: id }]);
    assert!(!s.task(id).unwrap().status.is_final(), "not finished yet");
    let fx = exited(&mut s, id, 10_000, 1);
    assert!(
        matches!(
            fx.as_slice(),
            [Effect::Timer {
                after_ms: 5_000,
                ..
            }]
        ),
        "{fx:?}"
    );
}

#[test]
fn the_wall_timeout_counts_across_rate_limit_retries() {
    // Launched at 1 s with `--timeout 20`.
    let mut s = State::new(Settings::default());
    let mut limited = spec(AgentKind::Claude);
    limited.limits.wall_timeout_ms = Some(20_000);
    let fx = update(&mut s, 1_000, Event::Command(Command::launch(limited)));
    assert!(matches!(
        fx.as_slice(),
        [Effect::Spawn {
            limits: Limits {
                wall_timeout_ms: Some(20_000),
                ..
            },
            ..
        }]
    ));
    let id = s.tasks[0].id;

    // Rate limited at 6 s: the retry at 11 s gets the 10 s that are left.
    rate_limited_run(&mut s, id, 6_000);
    let fx = retry_timer(&mut s, id, 11_000, 1);
    let [Effect::Spawn { limits, .. }] = fx.as_slice() else {
        panic!("expected a spawn, got {fx:?}");
    };
    assert_eq!(limits.wall_timeout_ms, Some(10_000));

    // Rate limited again at 15 s: a 10 s wait would end past 21 s, so no
    // retry; the task fails on the rate limit now instead of running on.
    let fx = rate_limited_run(&mut s, id, 15_000);
    assert!(
        !fx.iter().any(|e| matches!(e, Effect::Timer { .. })),
        "{fx:?}"
    );
    let t = s.task(id).unwrap();
    assert_eq!(t.status, TaskStatus::Failed);

    // A follow-up is a new run with the whole timeout again.
    let fx = follow_up_at(&mut s, id, 30_000, "go on");
    assert!(
        fx.iter().any(|e| matches!(
            e,
            Effect::Spawn {
                limits: Limits {
                    wall_timeout_ms: Some(20_000),
                    ..
                },
                ..
            }
        )),
        "{fx:?}"
    );
}
