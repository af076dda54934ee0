//! Which tasks need the cockpit to redraw on a timer: the pure decision
//! behind the spinner and elapsed-time tick.
//!
//! Only a task that moves on its own (running: spinner and elapsed time;
//! queued: waiting time) arms the tick. A blocked task waits for the user and
//! a finished one for nothing, so neither keeps the cockpit awake. Must never
//! do IO or look at the clock.

use crate::core::State;
use crate::core::task::TaskStatus;

/// True while some task's row changes with time alone.
pub fn needs_tick(state: &State) -> bool {
    state
        .tasks
        .iter()
        .any(|t| matches!(t.status, TaskStatus::Running | TaskStatus::Queued))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blocked_or_finished_cockpit_sleeps_a_running_one_ticks() {
        use crate::agent::AgentKind;
        use crate::core::task::{Task, TaskSpec};
        let mut s = State::new(crate::core::Settings::default());
        assert!(!needs_tick(&s), "an empty cockpit ticks");
        let spec = TaskSpec {
            agent: AgentKind::Claude,
            prompt: "p".into(),
            title: None,
            cwd: ".".into(),
            options: Default::default(),
            limits: Default::default(),
            profile: None,
            budget: Default::default(),
            worktree: false,
        };
        s.tasks.push(Task::new(1, spec, 100));
        for (status, ticks) in [
            (TaskStatus::Queued, true),
            (TaskStatus::Running, true),
            (TaskStatus::Blocked, false),
            (TaskStatus::Succeeded, false),
        ] {
            s.tasks[0].status = status;
            assert_eq!(needs_tick(&s), ticks, "{status:?}");
        }
    }
}
