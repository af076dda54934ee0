//! The review of worktree tasks, carried out: [`execute`] runs one
//! [`ReviewOp`] with git, and the runtime's review worker runs the ops the
//! core asks for (`Effect::Review`) one at a time on a thread of its own,
//! reporting each as `Event::Reviewed`. `corral diff`, `merge` and `discard`
//! call [`execute`] too, so the cockpit and the command line do the same git
//! work.
//!
//! Decides nothing (refusals are the core's, see
//! [`crate::core::review::refusal`]) and never runs git on the caller's
//! thread when it is the runtime: a queue that is full is reported as a
//! failed op, never waited for.

use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};

use tokio::sync::mpsc::Sender;

use crate::core::review::{ReviewOp, ReviewOutcome};
use crate::core::{Event, TaskId};
use crate::worktree::{self, Worktree, WorktreeError};

/// Review ops waiting for the worker at most (a user presses keys; more
/// than this waiting means git hangs).
const QUEUE: usize = 16;

/// The message a commit gets when the op carries none.
const DEFAULT_MESSAGE: &str = "corral: the task's work";

/// Runs `op` on `wt` with git, on this thread (seconds in a large
/// repository). A merge refuses a base checkout that cannot take it before
/// committing anything; a discard removes nothing when the work is no
/// longer what was confirmed.
pub fn execute(wt: &Worktree, op: &ReviewOp) -> Result<ReviewOutcome, WorktreeError> {
    execute_telling(wt, op, &mut |_| {})
}

/// [`execute`], telling `committed` of a commit as soon as it is made (a
/// merge that conflicts afterwards still made it).
pub fn execute_telling(
    wt: &Worktree,
    op: &ReviewOp,
    committed: &mut dyn FnMut(&str),
) -> Result<ReviewOutcome, WorktreeError> {
    let mut commit = |message: &Option<String>| {
        let sha = worktree::commit_all(wt, message.as_deref().unwrap_or(DEFAULT_MESSAGE))?;
        if let Some(sha) = &sha {
            committed(sha);
        }
        Ok::<_, WorktreeError>(sha)
    };
    Ok(match op {
        ReviewOp::Refresh => ReviewOutcome::Changes(Box::new(worktree::changes(wt)?)),
        ReviewOp::Commit { message } => ReviewOutcome::Committed {
            sha: commit(message)?,
        },
        ReviewOp::Merge { strategy, message } => {
            worktree::check_base(wt)?;
            let committed = commit(message)?;
            let outcome = worktree::merge(wt, *strategy)?;
            ReviewOutcome::Merged { committed, outcome }
        }
        ReviewOp::ListUnmerged => ReviewOutcome::Unmerged(worktree::unmerged_work(wt)?),
        ReviewOp::Discard { confirmed } => {
            worktree::discard(wt, confirmed)?;
            ReviewOutcome::Discarded {
                lost: confirmed.clone(),
            }
        }
    })
}

/// One op for the worker.
type Job = (TaskId, Worktree, ReviewOp);

/// The thread that runs review ops in the order they were asked for.
pub(super) struct Worker {
    queue: SyncSender<Job>,
}

impl Worker {
    /// Starts the worker thread; it ends when the worker is dropped (after
    /// the op it is running).
    pub(super) fn start(events: Sender<Event>) -> std::io::Result<Worker> {
        let (queue, jobs) = sync_channel::<Job>(QUEUE);
        std::thread::Builder::new()
            .name("corral-review".into())
            .spawn(move || {
                for (task, wt, op) in jobs {
                    let result = execute(&wt, &op).map_err(|err| err.to_string());
                    if events
                        .blocking_send(Event::Reviewed { task, op, result })
                        .is_err()
                    {
                        break;
                    }
                }
            })?;
        Ok(Worker { queue })
    }

    /// Queues an op; gives it back with the reason when it cannot be.
    pub(super) fn submit(&self, job: Job) -> Result<(), Box<(Job, &'static str)>> {
        match self.queue.try_send(job) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(job)) => Err(Box::new((
                job,
                "git is still busy with earlier review actions; try again in a moment",
            ))),
            Err(TrySendError::Disconnected(job)) => {
                Err(Box::new((job, "the review worker has stopped")))
            }
        }
    }
}
