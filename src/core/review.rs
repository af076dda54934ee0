//! The review of a worktree task, as the core sees it: what a user can ask
//! for (`ReviewOp`), what the runtime reports back (`ReviewOutcome`), what
//! `update` tells the one who asked (`ReviewReport`), and the one rule for
//! refusing while the agent works, shared by the cockpit (through
//! `update`) and `corral merge`/`discard`.
//!
//! Pure data and rules: the git work is `crate::runtime::review`'s, run off
//! the UI thread; nothing here does IO.

use crate::worktree::types::{Changes, MergeKind, MergeOutcome, MergeStrategy, UnmergedWork};
use serde::{Deserialize, Serialize};

use super::TaskId;

/// One thing to do to a worktree task's worktree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReviewOp {
    /// Read its changes against the base (the diff).
    Refresh,
    /// Commit its uncommitted work; `message` `None`: the task's title.
    Commit { message: Option<String> },
    /// Commit, then merge the task branch into its base branch.
    Merge {
        strategy: MergeStrategy,
        message: Option<String>,
    },
    /// List what a discard would lose (to ask the user).
    ListUnmerged,
    /// Remove the worktree and its branch, if the work is still exactly
    /// `confirmed` (what the user was shown).
    Discard { confirmed: UnmergedWork },
}

impl ReviewOp {
    /// What the op does, as a verb for messages ("merge", "discard").
    pub fn verb(&self) -> &'static str {
        match self {
            ReviewOp::Refresh => "read the changes",
            ReviewOp::Commit { .. } => "commit",
            ReviewOp::Merge { .. } => "merge",
            ReviewOp::ListUnmerged | ReviewOp::Discard { .. } => "discard",
        }
    }

    /// Whether it changes the worktree or the repository (and so must wait
    /// until the agent has stopped writing).
    pub fn writes(&self) -> bool {
        !matches!(self, ReviewOp::Refresh)
    }
}

/// What a review op did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReviewOutcome {
    /// The changes against the base, with the diff text.
    Changes(Box<Changes>),
    /// The commit made, `None`: nothing to commit.
    Committed { sha: Option<String> },
    /// The merge, after committing `committed` (if there was work).
    Merged {
        committed: Option<String>,
        outcome: MergeOutcome,
    },
    /// What a discard would lose.
    Unmerged(UnmergedWork),
    /// The worktree and branch are gone, with `lost`.
    Discarded { lost: UnmergedWork },
}

/// The answer to a [`super::Command::Review`]: the outcome, or why it was
/// refused or failed, in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewReport {
    pub task: TaskId,
    pub op: ReviewOp,
    pub result: Result<ReviewOutcome, String>,
}

/// Why `op` must not run now, when the task's agent `busy` (running,
/// blocked, queued, or its process still there). Reading is always fine.
pub fn refusal(op: &ReviewOp, busy: bool) -> Option<String> {
    (busy && op.writes()).then(|| {
        format!(
            "the agent is still working: wait for it to finish (or kill it) before you {}",
            op.verb()
        )
    })
}

/// A merge's kind in words.
pub fn merge_words(kind: &MergeKind) -> &'static str {
    match kind {
        MergeKind::AlreadyUpToDate => "already up to date",
        MergeKind::FastForward => "fast-forward",
        MergeKind::MergeCommit => "merge commit",
    }
}
