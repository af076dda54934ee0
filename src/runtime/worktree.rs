//! The runtime's side of worktree tasks: creating a task's worktree and
//! polling its change count while the agent runs, both on threads of their
//! own (git can take seconds; the caller of `Runtime::apply` never waits).
//!
//! Reports only through `Event::WorktreeReady` and `Event::WorktreeChanges`;
//! decides nothing (the core does) and never changes a worktree: polling
//! uses [`worktree::change_summary`], which leaves the agent's index alone.

use std::time::{Duration, Instant};

use tokio::sync::mpsc::Sender;

use super::Registry;
use crate::core::{Event, TaskId};
use crate::worktree::{self, Worktree, WorktreeRequest};

/// How often a running worktree task's changes are counted.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// How often the poller looks whether the agent is still there (so the
/// last count follows the exit closely).
const ALIVE_CHECK: Duration = Duration::from_millis(100);

/// Creates the worktree of `task` on a thread and reports
/// `Event::WorktreeReady`. Returns the thread, or reports the failure to
/// start one as the creation's error.
pub(super) fn create(
    events: Sender<Event>,
    task: TaskId,
    request: WorktreeRequest,
) -> Option<std::thread::JoinHandle<()>> {
    let failed = events.clone();
    let spawned = std::thread::Builder::new()
        .name(format!("corral-worktree-{task}"))
        .spawn(move || {
            let result = worktree::create(&request)
                .map(Box::new)
                .map_err(|err| err.to_string());
            let _ = events.blocking_send(Event::WorktreeReady { task, result });
        });
    match spawned {
        Ok(handle) => Some(handle),
        Err(err) => {
            let event = Event::WorktreeReady {
                task,
                result: Err(format!("could not start a thread to create it: {err}")),
            };
            std::thread::spawn(move || {
                let _ = failed.blocking_send(event);
            });
            None
        }
    }
}

/// Counts the changes of `wt` at once and every [`POLL_INTERVAL`] while
/// `task` has an agent in `registry`, then once more after it is gone, reporting each
/// count that differs from the last as `Event::WorktreeChanges`. A poll
/// that fails (git busy, worktree removed) is skipped, not reported.
pub(super) fn watch(
    events: Sender<Event>,
    registry: Registry,
    task: TaskId,
    wt: Worktree,
) -> Option<std::thread::JoinHandle<()>> {
    let alive = move || {
        registry
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .contains_key(&task)
    };
    std::thread::Builder::new()
        .name(format!("corral-changes-{task}"))
        .spawn(move || {
            let mut last: Option<(usize, u64, u64)> = None;
            let report = |last: &mut Option<(usize, u64, u64)>| {
                let Ok(changes) = worktree::change_summary(&wt) else {
                    return true;
                };
                let (added, deleted) = changes.line_totals();
                let now = (changes.file_count(), added, deleted);
                if *last == Some(now) {
                    return true;
                }
                *last = Some(now);
                events
                    .blocking_send(Event::WorktreeChanges {
                        task,
                        files: now.0,
                        added,
                        deleted,
                    })
                    .is_ok()
            };
            // A first count at once, then one per interval while the agent
            // runs, and the last one after it is gone.
            while report(&mut last) {
                let next = Instant::now() + POLL_INTERVAL;
                while alive() && Instant::now() < next {
                    std::thread::sleep(ALIVE_CHECK);
                }
                if !alive() {
                    report(&mut last);
                    break;
                }
            }
        })
        .map_err(|err| tracing::warn!(task, "no thread to count the worktree's changes: {err}"))
        .ok()
}
