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

    /// What corral knows and the executor at once (a front end that
    /// forwards commands elsewhere reads the one to talk through the other).
    pub fn parts(&mut self) -> (&State, &mut X) {
        (&self.state, &mut self.executor)
    }

    /// The store recorder, if the store is usable.
    pub fn recorder(&self) -> Option<&Recorder> {
        self.recorder.as_ref()
    }

    /// One step: `event` into `update` at `now_ms`, the result recorded,
    /// then its effects carried out. Returns the step with its effects
    /// taken (the published events and deletions stay for the caller).
    pub fn step(&mut self, now_ms: u64, event: Event) -> Step {
        // A step that only concerns one task (its output, its adoption,
        // its stored transcript) is recorded by looking at that task only.
        let output_of = match &event {
            Event::Agent { task, .. }
            | Event::Agents { task, .. }
            | Event::Output { task, .. }
            | Event::Command(Command::LoadTranscript { task, .. }) => Some(*task),
            Event::Command(Command::Adopt { .. }) => Some(self.state.next_task_id()),
            _ => None,
        };
        let mut step = update(&mut self.state, now_ms, event);
        // Recorded before the effects run: a task is in the store before
        // its agent starts.
        if let Some(recorder) = self.recorder.as_mut() {
            let only = output_of.filter(|_| step.effects.is_empty() && step.deleted.is_empty());
            recorder.observe(&self.state, &step, only);
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

    /// Reads the stored transcript of `task` if it has one not read yet
    /// (an adopted task being opened) and puts it in front of what it has.
    /// Returns whether it read one.
    pub fn load_transcript(&mut self, now_ms: u64, task: TaskId) -> bool {
        let Some(t) = self.state.task(task) else {
            return false;
        };
        let (Some(run), Some(id), Some(recorder)) = (
            t.transcript_stored,
            t.short_id.as_ref(),
            self.recorder.as_ref(),
        ) else {
            return false;
        };
        let events = recorder.stored_events(id, run);
        self.step(
            now_ms,
            Event::Command(Command::LoadTranscript { task, events }),
        );
        true
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

    mod worktree_review {
        use super::*;
        use crate::core::ExitInfo;
        use crate::core::review::{ReviewOp, ReviewOutcome};
        use crate::worktree::types::{Created, UnmergedWork, Worktree};

        fn worktree(path: &str) -> Worktree {
            Worktree {
                path: path.into(),
                branch: "corral/ab12-fix".into(),
                base_branch: "main".into(),
                base_commit: "0123456".into(),
                repo_root: "/src/project".into(),
            }
        }

        fn ready(d: &mut Driver<Vec<Effect>>, task: TaskId, path: &str) {
            let created = Created {
                worktree: worktree(path),
                copied: vec![],
                notes: vec![],
                setup_output: None,
            };
            d.step(
                1_500,
                Event::WorktreeReady {
                    task,
                    result: Ok(Box::new(created)),
                },
            );
        }

        fn spawned_in(effects: &[Effect]) -> Vec<std::path::PathBuf> {
            effects
                .iter()
                .filter_map(|e| match e {
                    Effect::Spawn { spec, .. } => Some(spec.cwd.clone()),
                    _ => None,
                })
                .collect()
        }

        /// A worktree task whose agent runs in `/wt/one`.
        fn running_worktree_task() -> (Driver<Vec<Effect>>, TaskId) {
            let settings = Settings {
                worktree_root: Some("/wt".into()),
                ..Settings::default()
            };
            let mut d = Driver::new(State::new(settings), None, Vec::new());
            let mut task = spec("fix it");
            task.worktree = true;
            let (id, _) = d.launch(1_000, task);
            ready(&mut d, id, "/wt/one");
            assert_eq!(
                spawned_in(&d.executor),
                vec![std::path::PathBuf::from("/wt/one")]
            );
            d.executor.clear();
            (d, id)
        }

        /// A worktree task whose agent ran in `/wt/one` and exited.
        fn finished_worktree_task() -> (Driver<Vec<Effect>>, TaskId) {
            let (mut d, id) = running_worktree_task();
            let exit = ExitInfo {
                code: Some(0),
                signal: None,
                killed_outside_group: 0,
            };
            d.step(2_000, Event::Exited { task: id, exit });
            assert!(d.state().task(id).unwrap().status.is_final());
            d.executor.clear();
            (d, id)
        }

        fn review(d: &mut Driver<Vec<Effect>>, task: TaskId, op: ReviewOp) -> Step {
            d.step(3_000, Event::Command(Command::Review { task, op }))
        }

        #[test]
        fn a_follow_up_after_a_discard_never_starts_in_the_removed_worktree() {
            let (mut d, id) = finished_worktree_task();
            let discard = ReviewOp::Discard {
                confirmed: UnmergedWork::default(),
            };
            review(&mut d, id, discard.clone());
            assert!(
                matches!(d.executor.as_slice(), [Effect::Review { worktree, .. }] if worktree.path.to_str() == Some("/wt/one")),
                "{:?}",
                d.executor
            );
            d.executor.clear();
            let step = d.step(
                3_500,
                Event::Reviewed {
                    task: id,
                    op: discard,
                    result: Ok(ReviewOutcome::Discarded {
                        lost: UnmergedWork::default(),
                    }),
                },
            );
            assert_eq!(step.reviews.len(), 1, "the front end hears of it");
            assert!(d.state().task(id).unwrap().worktree.is_none());
            // The follow-up makes a fresh worktree first, then starts there.
            d.step(
                4_000,
                Event::Command(Command::FollowUp {
                    task: id,
                    text: "and the tests".into(),
                }),
            );
            assert!(spawned_in(&d.executor).is_empty(), "{:?}", d.executor);
            assert!(
                matches!(d.executor.as_slice(), [Effect::CreateWorktree { task, .. }] if *task == id),
                "{:?}",
                d.executor
            );
            d.executor.clear();
            ready(&mut d, id, "/wt/two");
            assert_eq!(
                spawned_in(&d.executor),
                vec![std::path::PathBuf::from("/wt/two")]
            );
        }

        #[test]
        fn writing_review_ops_wait_for_the_agent_and_reading_does_not() {
            let (mut d, id) = running_worktree_task();
            for op in [
                ReviewOp::Commit { message: None },
                ReviewOp::ListUnmerged,
                ReviewOp::Discard {
                    confirmed: UnmergedWork::default(),
                },
            ] {
                let step = review(&mut d, id, op);
                let report = &step.reviews[0];
                assert!(
                    report
                        .result
                        .as_ref()
                        .is_err_and(|e| e.contains("still working")),
                    "{report:?}"
                );
            }
            assert!(d.executor.is_empty(), "nothing ran: {:?}", d.executor);
            let step = review(&mut d, id, ReviewOp::Refresh);
            assert!(step.reviews.is_empty(), "answered later, by git");
            assert!(matches!(
                d.executor.as_slice(),
                [Effect::Review {
                    op: ReviewOp::Refresh,
                    ..
                }]
            ));
        }

        #[test]
        fn a_merge_commits_with_the_title_and_is_noted_in_the_transcript() {
            let (mut d, id) = finished_worktree_task();
            review(
                &mut d,
                id,
                ReviewOp::Merge {
                    strategy: Default::default(),
                    message: None,
                },
            );
            let Some(Effect::Review { op, .. }) = d.executor.first().cloned() else {
                panic!("{:?}", d.executor);
            };
            assert_eq!(
                op,
                ReviewOp::Merge {
                    strategy: Default::default(),
                    message: Some("fix it".into()),
                }
            );
            let outcome = crate::worktree::types::MergeOutcome {
                kind: crate::worktree::types::MergeKind::FastForward,
                base_before: "a".into(),
                base_after: "b".into(),
                left_uncommitted: vec![],
            };
            let step = d.step(
                3_500,
                Event::Reviewed {
                    task: id,
                    op,
                    result: Ok(ReviewOutcome::Merged {
                        committed: None,
                        outcome,
                    }),
                },
            );
            assert!(
                step.published.iter().any(|(_, e)| matches!(e, AgentEvent::Raw { line } if line == "merged corral/ab12-fix into main (fast-forward)")),
                "{:?}",
                step.published
            );
            assert!(
                d.state().task(id).unwrap().worktree.is_some(),
                "a merge keeps it"
            );
        }

        #[test]
        fn a_task_without_a_worktree_is_refused_in_words() {
            let mut d = Driver::new(State::new(Settings::default()), None, Vec::new());
            let (id, _) = d.launch(1_000, spec("x"));
            d.executor.clear();
            let step = review(&mut d, id, ReviewOp::Refresh);
            assert!(d.executor.is_empty());
            assert!(
                step.reviews[0]
                    .result
                    .as_ref()
                    .is_err_and(|e| e.contains("has no worktree")),
                "{:?}",
                step.reviews
            );
        }
    }
}
