//! The core's side of live JSON-RPC protocols (ACP, codex app-server): the
//! first prompt waits for the session, a denial's reason follows the turn,
//! the interrupt comes before the signals, protocol replies are written and
//! never shown, a protocol that never starts falls back to one-shot, and a
//! resume over the one-shot protocol says so.

use serde_json::{Value, json};

use super::*;
use crate::agent::{AgentKind, AgentOptions};
use crate::core::Settings;
use crate::core::task::TaskSpec;
use crate::core::test_step::{
    agent_says as agent, answer_at, drain_published, exit_at, exit_code, follow_up_at, launch_in,
    session_event, spec_of, turn, update,
};

fn spec(agent: AgentKind, mode: Option<&str>) -> TaskSpec {
    TaskSpec {
        options: AgentOptions {
            permission_mode: mode.map(str::to_string),
            ..AgentOptions::default()
        },
        ..spec_of(agent, "fix it")
    }
}

fn launched(agent: AgentKind, mode: Option<&str>, settings: Settings) -> (State, TaskId) {
    let (s, id, fx) = launch_in(settings, spec(agent, mode));
    assert!(matches!(fx.as_slice(), [Effect::Spawn { .. }]), "{fx:?}");
    (s, id)
}

fn session(s: &mut State, task: TaskId) -> Vec<Effect> {
    agent(s, task, session_event("sess-1", "gemini"))
}

/// The one stdin line among `fx`, parsed.
fn written(fx: &[Effect]) -> Vec<Value> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::WriteStdin { line, .. } => serde_json::from_str(line).ok(),
            _ => None,
        })
        .collect()
}

fn shell_question() -> AgentEvent {
    AgentEvent::Question(Question {
        id: "0".into(),
        kind: QuestionKind::Approval,
        tool: Some("execute".into()),
        input: json!({"command": "touch x", "requestId": 0, "options": [
            {"optionId": "once", "kind": "allow_once"},
            {"optionId": "no", "kind": "reject_once"}]}),
        tool_use_id: Some("t1".into()),
        questions: vec![],
    })
}

fn turn_end() -> AgentEvent {
    turn(false, Some("done".into()), None, Some(1))
}

#[test]
fn the_first_prompt_goes_out_when_the_session_is_announced_then_follow_ups_count_up() {
    let (mut s, id) = launched(AgentKind::Gemini, None, Settings::default());
    let sent = written(&session(&mut s, id));
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["method"], "session/prompt");
    assert_eq!(sent[0]["params"]["sessionId"], "sess-1");
    assert_eq!(sent[0]["params"]["prompt"][0]["text"], "fix it");
    // A second session announcement (a reload) sends nothing again.
    assert!(written(&session(&mut s, id)).is_empty());
    agent(&mut s, id, turn_end());
    let fx = follow_up_at(&mut s, id, 3_000, "and the tests");
    let sent = written(&fx);
    assert_eq!(sent[0]["id"], "corral-prompt-1");
    assert_eq!(sent[0]["params"]["prompt"][0]["text"], "and the tests");
}

#[test]
fn a_denial_reason_follows_as_the_next_prompt_when_the_turn_ends() {
    let (mut s, id) = launched(AgentKind::Gemini, None, Settings::default());
    session(&mut s, id);
    agent(&mut s, id, shell_question());
    assert_eq!(s.task(id).unwrap().status, TaskStatus::Blocked);
    let fx = answer_at(
        &mut s,
        id,
        3_000,
        Answer::Deny {
            message: "not in this repo".into(),
        },
    );
    let sent = written(&fx);
    assert_eq!(sent[0]["result"]["outcome"]["optionId"], "no");
    drain_published();
    let fx = agent(&mut s, id, turn_end());
    let sent = written(&fx);
    assert_eq!(sent.len(), 1, "{fx:?}");
    assert_eq!(sent[0]["method"], "session/prompt");
    let text = sent[0]["params"]["prompt"][0]["text"].as_str().unwrap();
    assert!(text.contains("not in this repo"), "{text}");
    // The turn is not over: the agent answers the reason first.
    assert_eq!(s.task(id).unwrap().status, TaskStatus::Running);
    let published = drain_published();
    assert!(published.iter().any(
        |(_, e)| matches!(e, AgentEvent::UserMessage { text } if text.contains("not in this repo"))
    ));
}

#[test]
fn headless_runs_also_send_the_reason_before_closing_stdin() {
    let settings = Settings {
        end_after_turn: true,
        approval: ApprovalPolicy::Deny,
        ..Settings::default()
    };
    let (mut s, id) = launched(AgentKind::Gemini, None, settings);
    session(&mut s, id);
    let fx = agent(&mut s, id, shell_question());
    assert_eq!(written(&fx)[0]["result"]["outcome"]["optionId"], "no");
    let fx = agent(&mut s, id, turn_end());
    assert!(!fx.iter().any(|e| matches!(e, Effect::CloseStdin { .. })));
    assert_eq!(written(&fx)[0]["method"], "session/prompt");
    let fx = agent(&mut s, id, turn_end());
    assert!(
        fx.iter().any(|e| matches!(e, Effect::CloseStdin { .. })),
        "{fx:?}"
    );
}

#[test]
fn kill_sends_the_protocol_interrupt_before_the_signals() {
    let (mut s, id) = launched(AgentKind::Gemini, None, Settings::default());
    session(&mut s, id);
    let fx = update(&mut s, 3_000, Event::Command(Command::Kill { task: id }));
    let [Effect::WriteStdin { line, .. }, Effect::Kill { .. }] = fx.as_slice() else {
        panic!("{fx:?}");
    };
    let cancel: Value = serde_json::from_str(line).unwrap();
    assert_eq!(cancel["method"], "session/cancel");
    assert_eq!(cancel["params"]["sessionId"], "sess-1");

    // A one-shot kind has nothing to say first.
    let mut one_shot = spec(AgentKind::Gemini, None);
    one_shot.options.protocol = Some("stream-json".into());
    let mut s = State::new(Settings::default());
    update(&mut s, 1_000, Event::Command(Command::launch(one_shot)));
    let id = s.tasks[0].id;
    let fx = update(&mut s, 3_000, Event::Command(Command::Kill { task: id }));
    assert_eq!(fx, [Effect::Kill { task: id }]);
}

#[test]
fn a_protocol_reply_is_written_and_never_shown() {
    let (mut s, id) = launched(AgentKind::Acp, None, Settings::default());
    let fx = agent(
        &mut s,
        id,
        AgentEvent::ProtocolReply {
            line: "{\"id\":3}".into(),
        },
    );
    assert_eq!(
        fx,
        [Effect::WriteStdin {
            task: id,
            line: "{\"id\":3}".into()
        }]
    );
    assert!(drain_published().is_empty());
}

#[test]
fn a_generic_acp_agent_is_answered_by_the_permission_mode() {
    let (mut s, id) = launched(
        AgentKind::Acp,
        Some("bypassPermissions"),
        Settings::default(),
    );
    session(&mut s, id);
    let fx = agent(&mut s, id, shell_question());
    assert_eq!(written(&fx)[0]["result"]["outcome"]["optionId"], "once");
    assert_eq!(s.task(id).unwrap().status, TaskStatus::Running);

    let (mut s, id) = launched(AgentKind::Acp, Some("default"), Settings::default());
    session(&mut s, id);
    assert!(written(&agent(&mut s, id, shell_question())).is_empty());
    assert_eq!(s.task(id).unwrap().status, TaskStatus::Blocked);
}

#[test]
fn allow_always_lets_the_same_command_through_without_asking() {
    let (mut s, id) = launched(AgentKind::Gemini, None, Settings::default());
    session(&mut s, id);
    agent(&mut s, id, shell_question());
    let fx = update(
        &mut s,
        3_000,
        Event::Command(Command::AllowAlways { task: id }),
    );
    assert_eq!(written(&fx)[0]["result"]["outcome"]["optionId"], "once");
    let fx = agent(&mut s, id, shell_question());
    assert_eq!(written(&fx)[0]["result"]["outcome"]["optionId"], "once");
    assert_eq!(s.task(id).unwrap().status, TaskStatus::Running);
}

#[test]
fn codex_interrupts_the_turn_it_was_told_about_before_the_signals() {
    let (mut s, id) = launched(AgentKind::Codex, None, Settings::default());
    let sent = written(&session(&mut s, id));
    assert_eq!(sent[0]["method"], "turn/start");
    assert_eq!(sent[0]["params"]["threadId"], "sess-1");
    assert_eq!(sent[0]["params"]["input"][0]["text"], "fix it");
    drain_published();
    assert!(
        agent(
            &mut s,
            id,
            AgentEvent::TurnStarted {
                turn_id: "turn-7".into()
            }
        )
        .is_empty()
    );
    assert!(drain_published().is_empty(), "plumbing is not shown");
    let fx = update(&mut s, 3_000, Event::Command(Command::Kill { task: id }));
    let sent = written(&fx);
    assert_eq!(sent[0]["method"], "turn/interrupt");
    assert_eq!(sent[0]["params"]["turnId"], "turn-7");
    assert!(matches!(fx.last(), Some(Effect::Kill { .. })));
}

#[test]
fn codex_accept_edits_lets_file_changes_through_and_asks_for_commands() {
    let (mut s, id) = launched(AgentKind::Codex, Some("acceptEdits"), Settings::default());
    session(&mut s, id);
    let edit = AgentEvent::Question(Question {
        id: "4".into(),
        kind: QuestionKind::Approval,
        tool: Some("apply_patch".into()),
        input: json!({"kind": "edit", "requestId": 4}),
        tool_use_id: None,
        questions: vec![],
    });
    let fx = agent(&mut s, id, edit);
    assert_eq!(written(&fx)[0]["result"]["decision"], "accept");
    let command = AgentEvent::Question(Question {
        id: "5".into(),
        kind: QuestionKind::Approval,
        tool: Some("shell".into()),
        input: json!({"kind": "execute", "command": "rm -rf x", "requestId": 5}),
        tool_use_id: None,
        questions: vec![],
    });
    assert!(written(&agent(&mut s, id, command)).is_empty());
    assert_eq!(s.task(id).unwrap().status, TaskStatus::Blocked);
}

/// The program and wire of the one spawn among `fx`.
fn spawned(fx: &[Effect]) -> (crate::agent::Wire, Vec<String>) {
    match fx {
        [Effect::Spawn { wire, spec, .. }] => (*wire, spec.args.clone()),
        other => panic!("expected one spawn: {other:?}"),
    }
}

#[test]
fn a_codex_too_old_for_app_server_runs_again_over_exec_and_says_why() {
    let (mut s, id) = launched(AgentKind::Codex, None, Settings::default());
    agent(
        &mut s,
        id,
        AgentEvent::Raw {
            line: "error: unrecognized subcommand 'app-server'".into(),
        },
    );
    drain_published();
    let fx = exit_at(&mut s, id, 3_000, exit_code(2));
    let (wire, args) = spawned(&fx);
    assert_eq!(wire, crate::agent::Wire::OneShot);
    assert_eq!(args[0], "exec", "{args:?}");
    assert!(args.iter().any(|a| a.starts_with("fix it")), "{args:?}");
    let t = s.task(id).unwrap();
    assert_eq!(t.status, TaskStatus::Running);
    assert_eq!(t.spec.options.protocol.as_deref(), Some("exec"), "kept");
    let told = drain_published();
    assert!(
        told.iter()
            .any(|(_, e)| matches!(e, AgentEvent::Error { message }
            if message.contains("too old") && message.contains("unrecognized subcommand"))),
        "{told:?}"
    );
    // The fallback failing too is the end: no third start.
    assert!(exit_at(&mut s, id, 4_000, exit_code(1)).is_empty());
    assert_eq!(s.task(id).unwrap().status, TaskStatus::Failed);
}

#[test]
fn a_failed_opening_request_ends_the_process_and_a_named_protocol_has_no_fallback() {
    let mut options = spec(AgentKind::Gemini, None);
    options.options.protocol = Some("acp".into());
    let (mut s, id, _) = launch_in(Settings::default(), options);
    // session/new answered with an error: no session, the turn failed.
    let fx = agent(&mut s, id, turn(true, Some("no".into()), None, Some(0)));
    assert!(
        fx.iter().any(|e| matches!(e, Effect::CloseStdin { .. })),
        "{fx:?}"
    );
    assert!(!s.task(id).unwrap().status.is_final(), "its exit decides");
    assert!(
        !drain_published()
            .iter()
            .any(|(_, e)| matches!(e, AgentEvent::TurnEnd { .. })),
        "no turn was shown to have ended"
    );
    assert!(exit_at(&mut s, id, 3_000, exit_code(0)).is_empty());
    assert_eq!(s.task(id).unwrap().status, TaskStatus::Failed);
}

#[test]
fn a_codex_thread_that_cannot_be_resumed_starts_afresh_over_app_server() {
    let (mut s, id) = launched(AgentKind::Codex, None, Settings::default());
    session(&mut s, id);
    agent(&mut s, id, turn_end());
    // The process ended (a restart); the next message resumes the thread.
    exit_at(&mut s, id, 3_000, exit_code(0));
    let fx = follow_up_at(&mut s, id, 4_000, "go on");
    let (_, args) = spawned(&fx);
    assert!(args.contains(&"app-server".to_string()));
    // thread/resume answered "no rollout found": no session, an error turn.
    agent(
        &mut s,
        id,
        turn(true, Some("no rollout".into()), None, Some(0)),
    );
    drain_published();
    let fx = exit_at(&mut s, id, 5_000, exit_code(0));
    let (wire, args) = spawned(&fx);
    assert_eq!(wire, crate::agent::Wire::CodexAppServer, "{args:?}");
    let told = drain_published();
    assert!(
        told.iter()
            .any(|(_, e)| matches!(e, AgentEvent::Error { message }
            if message.contains("afresh"))),
        "{told:?}"
    );
    assert_eq!(s.task(id).unwrap().spec.options.protocol, None);
}

#[test]
fn a_gemini_session_resumed_after_its_process_ended_goes_one_shot_and_says_so() {
    let (mut s, id) = launched(AgentKind::Gemini, None, Settings::default());
    session(&mut s, id);
    agent(&mut s, id, turn_end());
    exit_at(&mut s, id, 3_000, exit_code(0));
    drain_published();
    let fx = follow_up_at(&mut s, id, 4_000, "go on");
    let (wire, args) = spawned(&fx);
    assert_eq!(wire, crate::agent::Wire::OneShot);
    assert!(args.contains(&"sess-1".to_string()), "{args:?}");
    let told = drain_published();
    assert!(
        told.iter()
            .any(|(_, e)| matches!(e, AgentEvent::Error { message }
            if message.contains("one-shot") && message.contains("approval"))),
        "{told:?}"
    );
    // codex resumes over its live protocol: no such note.
    let (mut s, id) = launched(AgentKind::Codex, None, Settings::default());
    session(&mut s, id);
    agent(&mut s, id, turn_end());
    exit_at(&mut s, id, 3_000, exit_code(0));
    drain_published();
    let (wire, _) = spawned(&follow_up_at(&mut s, id, 4_000, "go on"));
    assert_eq!(wire, crate::agent::Wire::CodexAppServer);
    assert!(
        !drain_published()
            .iter()
            .any(|(_, e)| matches!(e, AgentEvent::Error { .. }))
    );
}
