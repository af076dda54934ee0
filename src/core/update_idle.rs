//! Idle live sessions: a live session (claude's stream-json, codex
//! app-server, ACP) whose turn ended and that waits on nothing is closed
//! once it has been idle for [`Settings::idle_close_ms`](super::super::Settings);
//! the next follow-up resumes it from its session id, and the pane says so
//! both times.
//!
//! The deadline is armed when a turn ends, as one timer
//! ([`TimerKind::IdleClose`]) that carries the deadline it was armed with:
//! a timer of an earlier arming is stale and does nothing. A session that
//! is no longer idle when its timer fires (a follow-up went out, a question
//! came, it exited) is left alone; one the agent wrote to meanwhile is given
//! the rest of its idle time from then by a new timer. Closing is the
//! protocol's end of conversation (stdin closed), then, if the agent is
//! still there after a grace, the kill ladder. The task keeps the status
//! its turn ended with: an idle session is never shown as running.
//!
//! Pure: part of `update`; never polls, never reads the clock.

use super::*;

/// How long a session closed for idleness may take to exit on its own
/// before it gets the kill ladder.
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
    t.idle_closed_after_ms = Some(idle);
    t.stdin_open = false;
    let run = t.runs;
    let line = format!(
        "idle for {}: session closed, a follow-up resumes it",
        idle_words(idle)
    );
    publish(state, task, AgentEvent::Notice { line });
    vec![
        Effect::CloseStdin { task },
        Effect::Timer {
            task,
            after_ms: IDLE_CLOSE_GRACE_MS,
            kind: TimerKind::IdleKill { run },
        },
    ]
}

/// [`TimerKind::IdleKill`] fired: the agent of run `run`, closed for
/// idleness, has not exited by itself; the kill ladder ends it.
pub(super) fn idle_kill_fired(state: &mut Stepper<'_>, task: TaskId, run: u32) -> Vec<Effect> {
    match state.task(task) {
        Some(t)
            if t.runs == run
                && t.process_alive
                && !t.stdin_open
                && t.idle_closed_after_ms.is_some() =>
        {
            vec![Effect::Kill { task }]
        }
        _ => vec![],
    }
}

/// When `t`'s session was closed for idleness, what the run that resumes
/// it (`resume`, or a fresh start without a session) tells the user; the
/// mark is cleared.
pub(super) fn idle_resume_note(t: &mut Task, resume: Option<&str>) -> Option<String> {
    let idle = idle_words(t.idle_closed_after_ms.take()?);
    Some(match resume {
        Some(session) => {
            format!("session was closed after {idle} idle; resumed from session {session}")
        }
        None => {
            format!("session was closed after {idle} idle; starting it again with your message")
        }
    })
}
