//! The one loop step every front end uses: an event goes into `update`,
//! the store records what changed (reading state, never writing it), then
//! the effects are carried out.
//!
//! The cockpit, `corral run`, the test drivers and the benchmark all step
//! through [`Driver`]; what differs between them is only the [`Executor`]
//! (the runtime in production, a list of effects in loop tests, so those
//! need no PTY) and what they do with the published events.
//!
//! Never blocks on the disk beyond the recorder's bounded queue, never
//! writes `State` itself: `update` is its only writer.

use crate::core::task::{Task, TaskSpec};
use crate::core::{Command, Effect, Event, State, Step, TaskId, update};
use crate::runtime::Runtime;
use crate::store::{Recorder, TaskRecord};

/// Carries out effects.
pub trait Executor {
    /// Does what `effect` asks (starts processes, writes stdin, kills, ...).
    fn execute(&mut self, effect: Effect);
}

impl Executor for Runtime {
    fn execute(&mut self, effect: Effect) {
        self.apply(effect);
    }
}

/// Loop tests: keep the effects to look at them.
impl Executor for Vec<Effect> {
    fn execute(&mut self, effect: Effect) {
        self.push(effect);
    }
}

/// The core, the store and the executor, stepped together.
pub struct Driver<X: Executor> {
    state: State,
    recorder: Option<Recorder>,
    /// Carries out the effects; front ends reach the runtime through it.
    pub executor: X,
}

impl<X: Executor> Driver<X> {
    /// A driver over `state` (usually empty) that records into `recorder`
    /// (`None`: nothing is stored).
    pub fn new(state: State, recorder: Option<Recorder>, executor: X) -> Driver<X> {
        Driver {
            state,
            recorder,
            executor,
        }
    }

    /// What corral knows, for drawing and printing.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The store recorder, if the store is usable.
    pub fn recorder(&self) -> Option<&Recorder> {
        self.recorder.as_ref()
    }

    /// One step: `event` into `update` at `now_ms`, the result recorded,
    /// then its effects carried out. Returns the step with its effects
    /// taken (the published events and deletions stay for the caller).
    pub fn step(&mut self, now_ms: u64, event: Event) -> Step {
        let mut step = update(&mut self.state, now_ms, event);
        // Recorded before the effects run: a task is in the store before
        // its agent starts.
        if let Some(recorder) = self.recorder.as_mut() {
            recorder.observe(&self.state, &step);
        }
        for effect in std::mem::take(&mut step.effects) {
            self.executor.execute(effect);
        }
        step
    }

    /// Launches `spec` with a fresh store id (when there is a store) and
    /// returns the new task's id with the step.
    pub fn launch(&mut self, now_ms: u64, spec: TaskSpec) -> (TaskId, Step) {
        let id = self.state.next_task_id();
        let store_id = self.recorder.as_ref().map(|_| crate::store::new_task_id());
        let step = self.step(
            now_ms,
            Event::Command(Command::Launch {
                spec: Box::new(spec),
                store_id,
            }),
        );
        (id, step)
    }

    /// Brings back a stored task (after a restart): the recorder reads it
    /// and keeps recording it; `update` adopts it. `None` when it cannot be
    /// run by this build or belongs to another live corral.
    pub fn adopt(
        &mut self,
        now_ms: u64,
        record: &TaskRecord,
        config: Option<&crate::config::Config>,
    ) -> Option<TaskId> {
        let cap = self.state.settings.transcript_cap;
        let task: Task = self.recorder.as_mut()?.load(record, config, cap)?;
        let id = self.state.next_task_id();
        self.step(
            now_ms,
            Event::Command(Command::Adopt {
                task: Box::new(task),
            }),
        );
        Some(id)
    }

    /// Gives the recorder back (to flush or drop it before the runtime).
    pub fn take_recorder(&mut self) -> Option<Recorder> {
        self.recorder.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::{AgentKind, AgentOptions};
    use crate::core::Settings;
    use crate::core::event::AgentEvent;
    use crate::core::task::{Budget, TaskStatus};

    fn spec(prompt: &str) -> TaskSpec {
        TaskSpec {
            agent: AgentKind::Claude,
            prompt: prompt.into(),
            title: None,
            cwd: "/".into(),
            options: AgentOptions::default(),
            limits: Default::default(),
            profile: None,
            budget: Budget::default(),
            worktree: false,
        }
    }

    #[test]
    fn a_launch_without_a_store_spawns_the_agent_and_publishes_the_prompt() {
        let mut d = Driver::new(State::new(Settings::default()), None, Vec::new());
        let (id, step) = d.launch(1_000, spec("fix the parser"));
        assert_eq!(
            d.state().task(id).map(|t| t.status),
            Some(TaskStatus::Running)
        );
        assert!(d.state().task(id).unwrap().short_id.is_none());
        assert!(matches!(
            d.executor.as_slice(),
            [Effect::Spawn { task, .. }] if *task == id
        ));
        assert!(step.effects.is_empty(), "the driver carried them out");
        assert_eq!(
            step.published,
            vec![(
                id,
                AgentEvent::UserMessage {
                    text: "fix the parser".into()
                }
            )]
        );
    }

    #[test]
    fn killing_through_the_driver_asks_the_executor_to_kill() {
        let mut d = Driver::new(State::new(Settings::default()), None, Vec::new());
        let (id, _) = d.launch(1_000, spec("x"));
        d.executor.clear();
        d.step(2_000, Event::Command(Command::Kill { task: id }));
        assert_eq!(d.executor, vec![Effect::Kill { task: id }]);
    }
}
