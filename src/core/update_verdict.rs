//! How a run ends: prices and budgets, the finish, and the verdict
//! (status and reason) from what the agent said and how it exited.
//!
//! Pure: part of `update`; reads and writes only the `State` it is given.

use super::*;

/// Adds the configured price's cost to a usage increment without one.
pub(super) fn priced(t: &Task, mut usage: Usage) -> Usage {
    let b = &t.spec.budget;
    if usage.cost_usd.is_none()
        && let (Some(pin), Some(pout)) = (b.price_input_per_mtok, b.price_output_per_mtok)
    {
        let cost = usage.input_total() as f64 * pin + usage.output_tokens as f64 * pout;
        usage.cost_usd = Some(crate::core::event::sane_cost(cost / 1_000_000.0));
    }
    usage
}

/// The budget limit this run has gone over, if any.
pub(super) fn over_budget(t: &Task) -> Option<Limit> {
    let b = &t.spec.budget;
    if let (Some(max), Some(spent)) = (b.max_cost_usd, t.run_usage.cost_usd)
        && spent > max
    {
        return Some(Limit::Cost);
    }
    if b.max_turns.is_some_and(|max| t.run_turns > max) {
        return Some(Limit::Turns);
    }
    None
}

/// Decides how the run ended, records it and publishes `finished`.
pub(super) fn finish(state: &mut Stepper<'_>, task: TaskId, now_ms: u64, exit: Option<ExitInfo>) {
    let Some(t) = state.task_mut(task) else {
        return;
    };
    if t.status.is_final() {
        return;
    }
    let (status, mut reason) = judge(t, exit.as_ref());
    if status == TaskStatus::Failed && t.retries > 0 {
        reason = reason.map(|r| format!("{r} (gave up after {} retries)", t.retries));
    }
    if !set_status(t, status) {
        return;
    }
    t.retry_at_ms = None;
    t.finish_reason = reason.clone();
    t.finished_ms = Some(now_ms);
    t.pending_question = None;
    if exit.is_some() {
        t.stdin_open = false;
        t.exit = exit.clone();
    }
    let finished = AgentEvent::Finished(Finished {
        status: match status {
            TaskStatus::Succeeded => FinishStatus::Succeeded,
            TaskStatus::Killed => FinishStatus::Killed,
            TaskStatus::TimedOut => FinishStatus::TimedOut,
            _ => FinishStatus::Failed,
        },
        exit_code: exit.as_ref().and_then(|e| e.code),
        signal: exit.as_ref().and_then(|e| e.signal.clone()),
        reason,
        result: t.last_turn.as_ref().and_then(|l| l.result.clone()),
        session_id: t.session_id.clone(),
        duration_ms: t.elapsed_ms(now_ms),
        usage: t.usage.clone(),
        killed_outside_group: exit.as_ref().and_then(ExitInfo::killed_outside),
    });
    t.transcript.push(finished.clone());
    state.out.published.push((task, finished));
}

/// A failed turn's reason with why the agent says it stopped, when it
/// says more than the reason already does (claude's `terminal_reason`
/// and `api_error_type`: "... (stopped: api_error; error type: overloaded_error)").
pub(super) fn with_stop_reason(why: String, turn: &TurnOutcome) -> String {
    let mut notes = Vec::new();
    if let Some(reason) = turn
        .terminal_reason
        .as_deref()
        .filter(|r| *r != "completed" && !why.contains(r))
    {
        notes.push(format!("stopped: {reason}"));
    }
    if let Some(kind) = turn.api_error_type.as_deref().filter(|k| !why.contains(k)) {
        notes.push(format!("error type: {kind}"));
    }
    if notes.is_empty() {
        why
    } else {
        format!("{why} ({})", notes.join("; "))
    }
}

pub(super) fn seconds(ms: Option<u64>) -> String {
    match ms {
        Some(ms) if ms % 1000 == 0 => format!("{}s", ms / 1000),
        Some(ms) => format!("{:.1}s", ms as f64 / 1000.0),
        None => "?".into(),
    }
}

/// The final status and, unless it succeeded, the reason in words.
pub(super) fn judge(t: &Task, exit: Option<&ExitInfo>) -> (TaskStatus, Option<String>) {
    match t.kill_reason {
        Some(KillReason::User) => return (TaskStatus::Killed, Some("killed by the user".into())),
        Some(KillReason::Limit(Limit::Idle)) => {
            return (
                TaskStatus::TimedOut,
                Some(format!(
                    "no output for {} (idle timeout)",
                    seconds(t.spec.limits.idle_timeout_ms)
                )),
            );
        }
        Some(KillReason::Limit(Limit::Cost)) => {
            let spent = t.run_usage.cost_usd.unwrap_or(0.0);
            let max = t.spec.budget.max_cost_usd.unwrap_or(0.0);
            return (
                TaskStatus::Killed,
                Some(format!(
                    "spent {}, over the {} limit",
                    crate::present::cost(spent),
                    crate::present::cost(max)
                )),
            );
        }
        Some(KillReason::Limit(Limit::Turns)) => {
            let max = t.spec.budget.max_turns.unwrap_or(0);
            return (
                TaskStatus::Killed,
                Some(format!(
                    "took {} turns, over the {max}-turn limit",
                    t.run_turns
                )),
            );
        }
        Some(KillReason::Limit(Limit::Wall)) => {
            return (
                TaskStatus::TimedOut,
                Some(format!(
                    "still running after {} (timeout)",
                    seconds(t.spec.limits.wall_timeout_ms)
                )),
            );
        }
        None => {}
    }
    let Some(exit) = exit else {
        if let Some(turn) = &t.last_turn {
            // A turn ended and the session stays open.
            return if turn.is_error {
                let why = turn
                    .result
                    .clone()
                    .unwrap_or_else(|| "the agent reported an error".into());
                (TaskStatus::Failed, Some(with_stop_reason(why, turn)))
            } else {
                (TaskStatus::Succeeded, None)
            };
        }
        // Never started: the spawn failure is the reason.
        let why = t
            .recent_errors
            .last()
            .cloned()
            .unwrap_or_else(|| "the agent could not be started".into());
        return (TaskStatus::Failed, Some(why));
    };
    let context = || {
        t.recent_errors
            .last()
            .or(t.recent_raw.last())
            .map(|l| format!(": {l}"))
            .unwrap_or_default()
    };
    if t.spec.agent == AgentKind::Command {
        // A program has no turns: its exit code is the verdict.
        return match (exit.code, &exit.signal) {
            (Some(0), _) | (None, None) => (TaskStatus::Succeeded, None),
            (Some(code), _) => (
                TaskStatus::Failed,
                Some(format!("the command exited with code {code}")),
            ),
            (None, Some(sig)) => (
                TaskStatus::Failed,
                Some(format!("the command was ended by {sig}")),
            ),
        };
    }
    match &t.last_turn {
        Some(turn) if turn.is_error => {
            let why = turn
                .result
                .clone()
                .or_else(|| t.recent_errors.last().cloned())
                .unwrap_or_else(|| "the agent reported an error".into());
            (TaskStatus::Failed, Some(with_stop_reason(why, turn)))
        }
        Some(_) => match (exit.code, &exit.signal) {
            (Some(0), _) => (TaskStatus::Succeeded, None),
            (Some(code), _) => (
                TaskStatus::Failed,
                Some(format!("the agent exited with code {code}{}", context())),
            ),
            (None, Some(sig)) => (
                TaskStatus::Failed,
                Some(format!("the agent was ended by {sig}")),
            ),
            (None, None) => (TaskStatus::Succeeded, None),
        },
        None => {
            let how = match (exit.code, &exit.signal) {
                (Some(code), _) => format!("exit code {code}"),
                (None, Some(sig)) => format!("ended by {sig}"),
                (None, None) => "no exit status".into(),
            };
            (
                TaskStatus::Failed,
                Some(format!(
                    "the agent exited without a result ({how}){}",
                    context()
                )),
            )
        }
    }
}
