//! Live sessions of finished tasks: a live session (claude's stream-json,
//! codex app-server, ACP) whose turn ended keeps its agent for follow-ups
//! until it is closed, either once it has been idle for
//! [`Settings::idle_close_ms`](super::super::Settings) or when the user
//! stops it (a kill of the finished task, `Q`, `corral server stop`). The
//! next follow-up resumes it from its session id, and the pane says so
//! both times.
//!
//! The idle deadline is armed when a turn ends, as one timer
//! ([`TimerKind::IdleClose`]) that carries the deadline it was armed with:
//! a timer of an earlier arming is stale and does nothing. A session that
//! is no longer idle when its timer fires (a follow-up went out, a question
//! came, it exited) is left alone; one the agent wrote to meanwhile is given
//! the rest of its idle time from then by a new timer. Closing is the
//! protocol's end of conversation (stdin closed), then, if the agent is
//! still there after a grace, the kill ladder; a second kill while it
//! closes runs the ladder at once. The task keeps the status its turn
//! ended with: a closed (or idle) session is never shown as running.
//!
//! Pure: part of `update`; never polls, never reads the clock.

use super::*;
use crate::core::task::SessionClosed;

/// How long a closed session may take to exit on its own before it gets
/// the kill ladder.
pub(super) const IDLE_CLOSE_GRACE_MS: u64 = 5_000;

/// The configured idle time, when sessions are closed at all.
fn idle_close_ms(state: &State) -> Option<u64> {
    state.settings.idle_close_ms.filter(|ms| *ms > 0)
}

/// Whether `t` is a live session idling after its turn: the turn is over
/// (the task shows how it ended), its agent runs with the conversation
/// open, and nothing waits on the user or on a kill.
fn idles(t: &Task) -> bool {
    t.status.is_final()
        && t.process_alive
        && t.stdin_open
        && t.pending_question.is_none()
        && t.kill_reason.is_none()
        && t.spec.wire().is_live()
}

/// An idle time in words: `10 min`, `90s`, `0.5s`.
pub(super) fn idle_words(ms: u64) -> String {
    if ms >= 60_000 && ms % 60_000 == 0 {
        format!("{} min", ms / 60_000)
    } else {
        seconds(Some(ms))
    }
}

/// After a turn ended at `now_ms`: arms the close of `task`'s session if
/// it idles and sessions are closed at all.
pub(super) fn arm_idle_close(state: &mut Stepper<'_>, task: TaskId, now_ms: u64) -> Option<Effect> {
    let idle = idle_close_ms(state)?;
    let t = state.task_mut(task)?;
    if !idles(t) {
        return None;
    }
    let at_ms = now_ms.saturating_add(idle);
    t.idle_close_at_ms = Some(at_ms);
    Some(Effect::Timer {
        task,
        after_ms: idle,
        kind: TimerKind::IdleClose { at_ms },
    })
}

/// [`TimerKind::IdleClose`] fired: closes the session if it is still the
/// armed one and still idle, or waits the rest of the idle time since the
/// agent last wrote.
pub(super) fn idle_close_fired(
    state: &mut Stepper<'_>,
    task: TaskId,
    now_ms: u64,
    at_ms: u64,
) -> Vec<Effect> {
    let Some(idle) = idle_close_ms(state) else {
        return vec![];
    };
    let Some(t) = state.task_mut(task) else {
        return vec![];
    };
    if t.idle_close_at_ms != Some(at_ms) {
        return vec![];
    }
    if !idles(t) {
        t.idle_close_at_ms = None;
        return vec![];
    }
    let due = t
        .last_output_ms
        .map_or(at_ms, |at| at.saturating_add(idle))
        .max(at_ms);
    if due > now_ms {
        t.idle_close_at_ms = Some(due);
        return vec![Effect::Timer {
            task,
            after_ms: due - now_ms,
            kind: TimerKind::IdleClose { at_ms: due },
        }];
    }
    t.idle_close_at_ms = None;
    close_session(state, task, SessionClosed::Idle { after_ms: idle })
}

/// Closes `task`'s open session for `why`: the end of conversation now,
/// the kill ladder after a grace; the pane says so.
fn close_session(state: &mut Stepper<'_>, task: TaskId, why: SessionClosed) -> Vec<Effect> {
    let Some(t) = state.task_mut(task) else {
        return vec![];
    };
    t.session_closed = Some(why);
    t.stdin_open = false;
    let run = t.runs;
    let line = match why {
        SessionClosed::Idle { after_ms } => format!(
            "idle for {}: session closed, a follow-up resumes it",
            idle_words(after_ms)
        ),
        SessionClosed::ByUser => "session closed, a follow-up resumes it".to_string(),
    };
    publish(state, task, AgentEvent::Notice { line });
    vec![
        Effect::CloseStdin { task },
        Effect::Timer {
            task,
            after_ms: IDLE_CLOSE_GRACE_MS,
            kind: TimerKind::ClosedKill { run },
        },
    ]
}

/// The user's kill of a finished task whose agent is still there: its open
/// session is closed as an idle one would be (the status stays, a
/// follow-up resumes it); an agent already on its way out (a session
/// closing, a kill under way) gets the kill ladder at once.
pub(super) fn kill_finished(state: &mut Stepper<'_>, task: TaskId) -> Vec<Effect> {
    let Some(t) = state.task_mut(task) else {
        return vec![];
    };
    if !t.process_alive {
        return vec![];
    }
    if idles(t) {
        t.idle_close_at_ms = None;
        return close_session(state, task, SessionClosed::ByUser);
    }
    vec![Effect::Kill { task }]
}

/// [`TimerKind::ClosedKill`] fired: the agent of run `run`, whose session
/// was closed, has not exited by itself; the kill ladder ends it.
pub(super) fn closed_kill_fired(state: &mut Stepper<'_>, task: TaskId, run: u32) -> Vec<Effect> {
    match state.task(task) {
        Some(t)
            if t.runs == run && t.process_alive && !t.stdin_open && t.session_closed.is_some() =>
        {
            vec![Effect::Kill { task }]
        }
        _ => vec![],
    }
}

/// When `t`'s session was closed (idle or by the user), what the run that
/// resumes it (`resume`, or a fresh start without a session) tells the
/// user; the mark is cleared.
pub(super) fn closed_resume_note(t: &mut Task, resume: Option<&str>) -> Option<String> {
    let why = match t.session_closed.take()? {
        SessionClosed::Idle { after_ms } => format!(" after {} idle", idle_words(after_ms)),
        SessionClosed::ByUser => String::new(),
    };
    Some(match resume {
        Some(session) => format!("session was closed{why}; resumed from session {session}"),
        None => format!("session was closed{why}; starting it again with your message"),
    })
}
