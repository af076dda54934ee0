//! For core's tests (and other modules' tests that need a task): `update`
//! as the tests call it, returning the effects, with what each step
//! published kept per test thread (never in `State`) and read back with
//! [`drain_published`] and [`drain_deleted`]; and the builders every test
//! file shares (a spec, a launched task, an agent's event, a turn's end, an
//! exit, a follow-up), so each file writes only what its tests are about.
//!
//! Test-only (compiled under `cfg(test)`); production code gets the whole
//! [`super::Step`] from [`super::update`] and never keeps an outbox.

use std::cell::RefCell;

use super::event::AgentEvent;
use super::task::TaskSpec;
use super::{Command, Effect, Event, ExitInfo, Settings, State, TaskId};
use crate::agent::{AgentKind, AgentOptions};

thread_local! {
    static PUBLISHED: RefCell<Vec<(TaskId, AgentEvent)>> = const { RefCell::new(Vec::new()) };
    static DELETED: RefCell<Vec<TaskId>> = const { RefCell::new(Vec::new()) };
}

/// One step; its published events and deletions are kept for the test.
pub fn update(state: &mut State, now_ms: u64, event: Event) -> Vec<Effect> {
    let step = super::update(state, now_ms, event);
    PUBLISHED.with(|p| p.borrow_mut().extend(step.published));
    DELETED.with(|d| d.borrow_mut().extend(step.deleted));
    step.effects
}

/// What this test's steps published since it last looked.
pub fn drain_published() -> Vec<(TaskId, AgentEvent)> {
    PUBLISHED.with(|p| std::mem::take(&mut *p.borrow_mut()))
}

/// What this test's steps deleted since it last looked.
pub fn drain_deleted() -> Vec<TaskId> {
    DELETED.with(|d| std::mem::take(&mut *d.borrow_mut()))
}

/// A task for `agent` with `prompt`, in `.`, without limits or worktree.
pub fn spec_of(agent: AgentKind, prompt: &str) -> TaskSpec {
    TaskSpec {
        agent,
        prompt: prompt.into(),
        title: None,
        cwd: ".".into(),
        options: AgentOptions::default(),
        limits: Default::default(),
        profile: None,
        budget: Default::default(),
        worktree: false,
    }
}

/// A fresh state with `spec` launched at 1 000 ms (what the launch
/// published is drained): the state, the task's id and the launch's
/// effects.
pub fn launch_in(settings: Settings, spec: TaskSpec) -> (State, TaskId, Vec<Effect>) {
    let mut s = State::new(settings);
    let fx = update(&mut s, 1_000, Event::Command(Command::launch(spec)));
    let id = s.tasks[0].id;
    drain_published();
    (s, id, fx)
}

/// The agent of `task` says `event` at 2 000 ms.
pub fn agent_says(s: &mut State, task: TaskId, event: AgentEvent) -> Vec<Effect> {
    update(s, 2_000, Event::Agent { task, event })
}

/// The agent's session started (`agent` names the kind).
pub fn session_event(session_id: &str, agent: &str) -> AgentEvent {
    AgentEvent::Session {
        session_id: session_id.into(),
        model: None,
        cwd: None,
        agent: agent.into(),
    }
}

/// The end of a turn, with nothing denied and no reasons given.
pub fn turn(
    is_error: bool,
    result: Option<String>,
    api_error_status: Option<u16>,
    num_turns: Option<u32>,
) -> AgentEvent {
    AgentEvent::TurnEnd {
        is_error,
        result,
        api_error_status,
        num_turns,
        permission_denials: vec![],
        terminal_reason: None,
        api_error_type: None,
    }
}

/// An exit with `code` (no signal).
pub fn exit_code(code: i32) -> ExitInfo {
    ExitInfo {
        code: Some(code),
        signal: None,
        killed_outside_group: 0,
    }
}

/// The agent of `task` exited at `now` as `exit` says.
pub fn exit_at(s: &mut State, task: TaskId, now: u64, exit: ExitInfo) -> Vec<Effect> {
    update(s, now, Event::Exited { task, exit })
}

/// The user sends `text` to `task` at `now`.
pub fn follow_up_at(s: &mut State, task: TaskId, now: u64, text: &str) -> Vec<Effect> {
    update(
        s,
        now,
        Event::Command(Command::FollowUp {
            task,
            text: text.into(),
        }),
    )
}

/// An exit by `signal` (`SIGINT`, ...).
pub fn exit_signal(signal: &str) -> ExitInfo {
    ExitInfo {
        code: None,
        signal: Some(signal.into()),
        killed_outside_group: 0,
    }
}

/// The timer of rate-limit retry `attempt` of `task` fires at `now`.
pub fn retry_timer(s: &mut State, task: TaskId, now: u64, attempt: u32) -> Vec<Effect> {
    update(
        s,
        now,
        Event::TimerFired {
            task,
            kind: super::TimerKind::Retry { attempt },
        },
    )
}

/// An end with neither a code nor a signal (an HTTP agent's).
pub fn exit_quiet() -> ExitInfo {
    ExitInfo {
        code: None,
        signal: None,
        killed_outside_group: 0,
    }
}

/// The user answers `task`'s question at `now`.
pub fn answer_at(
    s: &mut State,
    task: TaskId,
    now: u64,
    answer: crate::agent::Answer,
) -> Vec<Effect> {
    update(s, now, Event::Command(Command::Answer { task, answer }))
}
