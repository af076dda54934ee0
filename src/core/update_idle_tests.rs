//! Idle live sessions: armed when a turn ends, disarmed by activity, closed
//! when the timer fires (stdin, then the kill ladder after a grace), and
//! resumed from the session id by the next follow-up, with a note each time.

use super::*;
use crate::agent::{AgentKind, StdinMode};
use crate::core::Settings;
use crate::core::test_step::{
    agent_says as agent, drain_published, exit_at, exit_code, exit_signal, follow_up_at, launch_in,
    session_event, spec_of, turn, update,
};

const IDLE: u64 = 600_000;

fn closing(idle_close_ms: Option<u64>) -> Settings {
    Settings {
        idle_close_ms,
        ..Settings::default()
    }
}

/// A live task of `agent` whose session `sess-1` is announced.
fn live(agent_kind: AgentKind, settings: Settings) -> (State, TaskId) {
    let (mut s, id, fx) = launch_in(settings, spec_of(agent_kind, "fix it"));
    assert!(matches!(fx.as_slice(), [Effect::Spawn { .. }]), "{fx:?}");
    agent(&mut s, id, session_event("sess-1", agent_kind.name()));
    drain_published();
    (s, id)
}

fn turn_end_at(s: &mut State, task: TaskId, now: u64) -> Vec<Effect> {
    let event = turn(false, Some("done".into()), None, Some(1));
    update(s, now, Event::Agent { task, event })
}

fn fire(s: &mut State, task: TaskId, now: u64, kind: TimerKind) -> Vec<Effect> {
    update(s, now, Event::TimerFired { task, kind })
}

/// The idle-close timer due at `at` fires then.
fn fire_idle_close(s: &mut State, task: TaskId, at: u64) -> Vec<Effect> {
    fire(s, task, at, TimerKind::IdleClose { at_ms: at })
}

/// The idle-close timer among `fx`: (after, deadline).
fn armed(fx: &[Effect]) -> Option<(u64, u64)> {
    fx.iter().find_map(|e| match e {
        Effect::Timer {
            after_ms,
            kind: TimerKind::IdleClose { at_ms },
            ..
        } => Some((*after_ms, *at_ms)),
        _ => None,
    })
}

/// What closing the session of run 1 of `task` does: its stdin closes,
/// and the kill ladder waits for the grace.
fn closing_effects(task: TaskId) -> Vec<Effect> {
    vec![
        Effect::CloseStdin { task },
        Effect::Timer {
            task,
            after_ms: IDLE_CLOSE_GRACE_MS,
            kind: TimerKind::ClosedKill { run: 1 },
        },
    ]
}

fn notices() -> Vec<String> {
    drain_published()
        .into_iter()
        .filter_map(|(_, e)| match e {
            AgentEvent::Notice { line } => Some(line),
            _ => None,
        })
        .collect()
}

#[test]
fn an_idle_claude_session_is_closed_and_the_next_follow_up_resumes_it() {
    let (mut s, id) = live(AgentKind::Claude, closing(Some(IDLE)));
    let fx = turn_end_at(&mut s, id, 2_000);
    assert_eq!(armed(&fx), Some((IDLE, 2_000 + IDLE)), "{fx:?}");
    let t = s.task(id).unwrap();
    assert_eq!(
        t.status,
        TaskStatus::Succeeded,
        "an idle session is not running"
    );
    assert_eq!(t.idle_close_at_ms, Some(2_000 + IDLE));
    drain_published();

    let fx = fire_idle_close(&mut s, id, 2_000 + IDLE);
    assert_eq!(fx, closing_effects(id));
    assert_eq!(
        notices(),
        ["idle for 10 min: session closed, a follow-up resumes it"]
    );
    let t = s.task(id).unwrap();
    assert_eq!(t.status, TaskStatus::Succeeded);
    assert!(!t.stdin_open && t.idle_close_at_ms.is_none());

    // The agent leaves on its own: the task ends nothing a second time,
    // and the grace timer finds nothing to kill.
    exit_at(&mut s, id, 2_500 + IDLE, exit_code(0));
    assert!(drain_published().is_empty());
    assert!(!s.task(id).unwrap().process_alive);
    assert!(fire(&mut s, id, 7_000 + IDLE, TimerKind::ClosedKill { run: 1 }).is_empty());
    assert_eq!(s.task(id).unwrap().status, TaskStatus::Succeeded);

    let fx = follow_up_at(&mut s, id, 900_000, "and the tests");
    let [Effect::Spawn { spec, .. }] = fx.as_slice() else {
        panic!("{fx:?}");
    };
    let resume = spec.args.windows(2).find(|w| w[0] == "--resume");
    assert_eq!(
        resume.map(|w| w[1].as_str()),
        Some("sess-1"),
        "{:?}",
        spec.args
    );
    let StdinMode::Pipe { initial_lines } = &spec.stdin else {
        panic!("{:?}", spec.stdin);
    };
    let sent = initial_lines.join("\n");
    assert!(
        sent.contains("and the tests") && !sent.contains("fix it"),
        "{sent}"
    );
    let published = drain_published();
    assert!(
        matches!(&published[0].1, AgentEvent::Notice { line }
            if line == "session was closed after 10 min idle; resumed from session sess-1"),
        "{published:?}"
    );
    assert!(matches!(&published[1].1, AgentEvent::UserMessage { text } if text == "and the tests"));
    let t = s.task(id).unwrap();
    assert_eq!(t.status, TaskStatus::Running);
    assert!(t.session_closed.is_none());

    // The resumed session idles again after its turn.
    agent(&mut s, id, session_event("sess-1", "claude"));
    let fx = turn_end_at(&mut s, id, 950_000);
    assert_eq!(armed(&fx), Some((IDLE, 950_000 + IDLE)));
    // A second follow-up, live this time, says nothing about idling.
    drain_published();
    follow_up_at(&mut s, id, 960_000, "thanks");
    assert!(notices().is_empty());
}

#[test]
fn no_setting_or_zero_keeps_sessions_open() {
    for settings in [closing(None), closing(Some(0))] {
        let (mut s, id) = live(AgentKind::Claude, settings);
        let fx = turn_end_at(&mut s, id, 2_000);
        assert!(fx.is_empty(), "{fx:?}");
        assert!(s.task(id).unwrap().idle_close_at_ms.is_none());
    }
}

#[test]
fn headless_runs_and_one_shot_agents_are_never_armed() {
    let headless = Settings {
        end_after_turn: true,
        ..closing(Some(IDLE))
    };
    let (mut s, id) = live(AgentKind::Claude, headless);
    let fx = turn_end_at(&mut s, id, 2_000);
    assert_eq!(fx, vec![Effect::CloseStdin { task: id }]);
    let (mut s, id) = live(AgentKind::Command, closing(Some(IDLE)));
    assert!(armed(&turn_end_at(&mut s, id, 2_000)).is_none());
}

#[test]
fn codex_app_server_and_acp_sessions_are_armed_too() {
    for kind in [AgentKind::Codex, AgentKind::Gemini, AgentKind::Acp] {
        let (mut s, id) = live(kind, closing(Some(IDLE)));
        let fx = turn_end_at(&mut s, id, 2_000);
        assert_eq!(armed(&fx), Some((IDLE, 2_000 + IDLE)), "{kind:?}: {fx:?}");
        let fx = fire_idle_close(&mut s, id, 2_000 + IDLE);
        assert_eq!(
            fx.first(),
            Some(&Effect::CloseStdin { task: id }),
            "{kind:?}"
        );
    }
}

#[test]
fn a_follow_up_disarms_and_the_earlier_timer_is_stale() {
    let (mut s, id) = live(AgentKind::Claude, closing(Some(IDLE)));
    turn_end_at(&mut s, id, 2_000);
    let fx = follow_up_at(&mut s, id, 100_000, "more");
    assert!(
        matches!(fx.as_slice(), [Effect::WriteStdin { .. }]),
        "{fx:?}"
    );
    assert!(s.task(id).unwrap().idle_close_at_ms.is_none());
    // The first deadline passes while the agent works: nothing happens.
    let first = TimerKind::IdleClose {
        at_ms: 2_000 + IDLE,
    };
    assert!(fire(&mut s, id, 2_000 + IDLE, first).is_empty());
    assert_eq!(s.task(id).unwrap().status, TaskStatus::Running);
    assert!(s.task(id).unwrap().stdin_open);
    // Its turn ends: a new deadline, and the old timer stays stale.
    let fx = turn_end_at(&mut s, id, 700_000);
    assert_eq!(armed(&fx), Some((IDLE, 700_000 + IDLE)));
    assert!(fire(&mut s, id, 710_000, first).is_empty());
    let fx = fire_idle_close(&mut s, id, 700_000 + IDLE);
    assert_eq!(fx.first(), Some(&Effect::CloseStdin { task: id }));
}

#[test]
fn output_after_the_turn_moves_the_deadline_with_one_new_timer() {
    let (mut s, id) = live(AgentKind::Claude, closing(Some(IDLE)));
    turn_end_at(&mut s, id, 2_000);
    let late = AgentEvent::Notice {
        line: "a late log line".into(),
    };
    update(
        &mut s,
        300_000,
        Event::Agent {
            task: id,
            event: late,
        },
    );
    let fx = fire_idle_close(&mut s, id, 2_000 + IDLE);
    assert_eq!(
        fx,
        vec![Effect::Timer {
            task: id,
            after_ms: 300_000 - 2_000,
            kind: TimerKind::IdleClose {
                at_ms: 300_000 + IDLE
            },
        }]
    );
    assert!(s.task(id).unwrap().stdin_open);
    let fx = fire_idle_close(&mut s, id, 300_000 + IDLE);
    assert_eq!(fx.first(), Some(&Effect::CloseStdin { task: id }));
}

#[test]
fn a_session_waiting_on_a_question_is_never_closed() {
    let (mut s, id) = live(AgentKind::Claude, closing(Some(IDLE)));
    turn_end_at(&mut s, id, 2_000);
    let question = AgentEvent::Question(Question {
        id: "q1".into(),
        kind: QuestionKind::Approval,
        tool: Some("Bash".into()),
        input: serde_json::json!({"command": "ls"}),
        tool_use_id: None,
        questions: vec![],
    });
    agent(&mut s, id, question);
    let fx = fire_idle_close(&mut s, id, 2_000 + IDLE);
    assert!(fx.is_empty(), "{fx:?}");
    let t = s.task(id).unwrap();
    assert!(t.stdin_open && t.idle_close_at_ms.is_none());
    // A turn that ends on a question is not armed at all.
    let (mut s, id) = live(AgentKind::Claude, closing(Some(IDLE)));
    let question = AgentEvent::Question(Question {
        id: "q2".into(),
        kind: QuestionKind::Approval,
        tool: Some("Bash".into()),
        input: serde_json::json!({"command": "ls"}),
        tool_use_id: None,
        questions: vec![],
    });
    agent(&mut s, id, question);
    assert_eq!(s.task(id).unwrap().status, TaskStatus::Blocked);
    assert!(armed(&turn_end_at(&mut s, id, 3_000)).is_none());
}

#[test]
fn an_agent_that_stays_after_its_stdin_closed_gets_the_kill_ladder() {
    let (mut s, id) = live(AgentKind::Claude, closing(Some(IDLE)));
    turn_end_at(&mut s, id, 2_000);
    fire_idle_close(&mut s, id, 2_000 + IDLE);
    drain_published();
    let fx = fire(&mut s, id, 7_000 + IDLE, TimerKind::ClosedKill { run: 1 });
    assert_eq!(fx, vec![Effect::Kill { task: id }]);
    exit_at(&mut s, id, 8_000 + IDLE, exit_signal("SIGTERM"));
    let t = s.task(id).unwrap();
    assert_eq!(t.status, TaskStatus::Succeeded, "its turn's outcome stays");
    assert!(!t.process_alive);
    assert!(drain_published().is_empty());
}

#[test]
fn idle_times_are_worded_in_minutes_or_seconds() {
    assert_eq!(idle_words(600_000), "10 min");
    assert_eq!(idle_words(60_000), "1 min");
    assert_eq!(idle_words(90_000), "90s");
    assert_eq!(idle_words(1_500), "1.5s");
}

#[test]
fn a_kill_of_a_finished_task_closes_its_session_and_a_follow_up_resumes_it() {
    // Sessions that are never closed for idleness are closed by the user.
    for kind in [AgentKind::Claude, AgentKind::Codex, AgentKind::Acp] {
        let (mut s, id) = live(kind, closing(None));
        turn_end_at(&mut s, id, 2_000);
        drain_published();
        let fx = update(&mut s, 3_000, Event::Command(Command::Kill { task: id }));
        assert_eq!(fx, closing_effects(id), "{kind:?}");
        assert_eq!(notices(), ["session closed, a follow-up resumes it"]);
        let t = s.task(id).unwrap();
        assert_eq!(
            t.status,
            TaskStatus::Succeeded,
            "{kind:?}: the status stays"
        );
        assert!(t.kill_reason.is_none() && !t.stdin_open);
        // It leaves on its own: nothing is finished a second time.
        exit_at(&mut s, id, 3_200, exit_code(0));
        assert!(drain_published().is_empty());
        assert!(fire(&mut s, id, 8_000, TimerKind::ClosedKill { run: 1 }).is_empty());
        assert_eq!(s.task(id).unwrap().status, TaskStatus::Succeeded);
        // Nothing is left to kill.
        assert!(update(&mut s, 9_000, Event::Command(Command::Kill { task: id })).is_empty());

        let fx = follow_up_at(&mut s, id, 10_000, "and the tests");
        assert!(matches!(fx.as_slice(), [Effect::Spawn { .. }]), "{fx:?}");
        let published = drain_published();
        assert!(
            matches!(&published[0].1, AgentEvent::Notice { line }
                if line == "session was closed; resumed from session sess-1"),
            "{kind:?}: {published:?}"
        );
        assert_eq!(s.task(id).unwrap().status, TaskStatus::Running);
    }
}

#[test]
fn a_kill_while_the_session_closes_runs_the_ladder_at_once() {
    let (mut s, id) = live(AgentKind::Claude, closing(Some(IDLE)));
    let fx = turn_end_at(&mut s, id, 2_000);
    assert!(armed(&fx).is_some());
    update(&mut s, 3_000, Event::Command(Command::Kill { task: id }));
    // The idle deadline of the closed session is stale.
    let idle = TimerKind::IdleClose {
        at_ms: 2_000 + IDLE,
    };
    assert!(fire(&mut s, id, 2_000 + IDLE, idle).is_empty());
    drain_published();
    // A message before the agent is gone waits; it is not lost silently.
    assert!(follow_up_at(&mut s, id, 3_100, "more").is_empty());
    let published = drain_published();
    assert!(
        matches!(&published[..], [(_, AgentEvent::Error { message })]
            if message.contains("the session is closing")),
        "{published:?}"
    );
    let fx = update(&mut s, 3_200, Event::Command(Command::Kill { task: id }));
    assert_eq!(fx, vec![Effect::Kill { task: id }]);
    exit_at(&mut s, id, 3_300, exit_signal("SIGINT"));
    let t = s.task(id).unwrap();
    assert_eq!(t.status, TaskStatus::Succeeded);
    assert!(!t.process_alive);
}
