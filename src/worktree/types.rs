//! The worktree layer's pure data: requests, a task's worktree, its
//! changes, merge and discard outcomes, and the errors, each saying what to
//! do. Core and the front ends may import these freely.
//!
//! Pure: types, formatting and arithmetic only. It must never run git or
//! touch the file system (that is `worktree`'s own job).

use std::fmt;
use std::io;
use std::ops::Range;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::parse::list_paths;
use super::{BASE_KEY, order_sections};

/// Everything [`create`] needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorktreeRequest {
    /// Any directory inside the repository; its checkout's current branch
    /// becomes the base.
    pub repo_dir: PathBuf,
    /// The task's short id: ASCII letters, digits, `-`, `_` (at most 40).
    pub task_short_id: String,
    /// The task title; its slug ends the branch name.
    pub title: String,
    /// Where worktrees live (for example `<data dir>/worktrees`); created
    /// when missing.
    pub root: PathBuf,
    /// A shell command (`sh -c`) run in the new worktree, for example
    /// `npm ci`; its failure undoes the creation.
    pub setup_command: Option<String>,
}

/// A task's worktree. Serializable so the task store can keep it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Worktree {
    /// The worktree directory (the agent's working directory).
    pub path: PathBuf,
    /// The task branch, `corral/<short-id>-<slug>`.
    pub branch: String,
    /// The branch the task started from and merges into (short name).
    pub base_branch: String,
    /// The commit the task branch started from.
    pub base_commit: String,
    /// The checkout the task was created from; merges happen there.
    pub repo_root: PathBuf,
}

/// What [`create`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// The new worktree.
    pub worktree: Worktree,
    /// Root-relative paths copied in from `.worktreeinclude`.
    pub copied: Vec<PathBuf>,
    /// Things the user may want to know: skipped `.worktreeinclude` lines,
    /// entries that matched nothing, files not overwritten.
    pub notes: Vec<String>,
    /// The end of the setup command's output (stdout and stderr together),
    /// when one ran.
    pub setup_output: Option<String>,
}

/// How a changed file differs from the base.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FileStatus {
    /// New since the base (including untracked files).
    Added,
    /// Changed content or type.
    Modified,
    /// Gone since the base.
    Deleted,
    /// Moved (possibly with edits) from `from`.
    Renamed {
        /// The path at the base.
        from: String,
    },
}

impl FileStatus {
    /// One-letter code as git shows it: `A`, `M`, `D`, `R`.
    pub fn letter(&self) -> char {
        match self {
            FileStatus::Added => 'A',
            FileStatus::Modified => 'M',
            FileStatus::Deleted => 'D',
            FileStatus::Renamed { .. } => 'R',
        }
    }
}

/// One changed file of a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileChange {
    /// Path relative to the worktree root (the new path for a rename).
    pub path: String,
    /// How it changed.
    pub status: FileStatus,
    /// Lines added (0 for a binary file).
    pub added: u64,
    /// Lines deleted (0 for a binary file).
    pub deleted: u64,
    /// Git considers the file binary: no line counts, no text diff.
    pub binary: bool,
}

/// A task's changes against its base: committed, staged, unstaged and
/// untracked (not ignored) files alike.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changes {
    /// The commit compared against: the merge base of the task's HEAD and
    /// the base branch (so work already merged into the base does not show
    /// again), or the recorded base commit when the base branch is gone.
    pub base: String,
    /// The changed files, in git's order (by path).
    pub files: Vec<FileChange>,
    /// The unified diff (git's format, uncoloured; empty from
    /// [`change_summary`]).
    pub diff: String,
    /// The diff text was longer than [`DIFF_TEXT_CAP`] and was cut.
    pub diff_truncated: bool,
    /// Byte ranges of each file's section in `diff`, parallel to `files`
    /// when the diff is complete.
    pub(super) sections: Vec<Range<usize>>,
}

impl Changes {
    /// Changes built from parts (for views and their tests); the per-file
    /// sections of `diff` are found as [`changes`] finds them.
    pub fn new(
        base: String,
        files: Vec<FileChange>,
        diff: String,
        diff_truncated: bool,
    ) -> Changes {
        let sections = if diff_truncated {
            Vec::new()
        } else {
            order_sections(&files, &diff)
        };
        Changes {
            base,
            files,
            diff,
            diff_truncated,
            sections,
        }
    }

    /// Number of changed files (the count for a task row).
    pub fn file_count(&self) -> usize {
        self.files.len()
    }

    /// Total lines added and deleted over all text files.
    pub fn line_totals(&self) -> (u64, u64) {
        self.files
            .iter()
            .fold((0, 0), |(a, d), f| (a + f.added, d + f.deleted))
    }

    /// The diff section of `files[index]`, when the diff text is complete.
    pub fn file_diff(&self, index: usize) -> Option<&str> {
        if self.diff_truncated || self.sections.len() != self.files.len() {
            return None;
        }
        self.sections
            .get(index)
            .and_then(|r| self.diff.get(r.clone()))
    }

    /// The diff section of a file by path (the new path for a rename).
    pub fn diff_of(&self, path: &str) -> Option<&str> {
        let index = self.files.iter().position(|f| f.path == path)?;
        self.file_diff(index)
    }
}

/// How [`merge`] joins the task branch into the base branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum MergeStrategy {
    /// Only move the base branch forward; refuse when it has moved on.
    FastForwardOnly,
    /// Fast-forward when possible, otherwise create a merge commit.
    #[default]
    FastForwardOrMerge,
    /// Always create a merge commit.
    MergeCommit,
}

/// What a successful merge did to the base branch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MergeKind {
    /// The base branch already contained the task branch; nothing changed.
    AlreadyUpToDate,
    /// The base branch moved forward to the task branch.
    FastForward,
    /// A merge commit was created on the base branch.
    MergeCommit,
}

/// The result of [`merge`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeOutcome {
    /// What happened.
    pub kind: MergeKind,
    /// The base branch's commit before the merge.
    pub base_before: String,
    /// The base branch's commit after the merge.
    pub base_after: String,
    /// Uncommitted changes still in the worktree: they were NOT merged
    /// (only commits merge); the UI should say so.
    pub left_uncommitted: Vec<UncommittedChange>,
}

/// A commit, as listed for a confirmation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitSummary {
    /// Full commit id.
    pub sha: String,
    /// First line of the message.
    pub subject: String,
}

/// An uncommitted change in a worktree, as `git status --porcelain` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UncommittedChange {
    /// Path relative to the worktree root.
    pub path: String,
    /// The two-letter status code (`" M"`, `"A "`, `"??"`, `" D"`, ...).
    pub status: String,
}

/// Work that discarding a task would destroy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnmergedWork {
    /// Commits on the task branch that the base branch does not have,
    /// newest first.
    pub commits: Vec<CommitSummary>,
    /// Uncommitted changes and untracked files in the worktree.
    pub uncommitted: Vec<UncommittedChange>,
}

impl UnmergedWork {
    /// Nothing would be lost.
    pub fn is_empty(&self) -> bool {
        self.commits.is_empty() && self.uncommitted.is_empty()
    }
}

impl fmt::Display for UnmergedWork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.commits.len();
        let u = self.uncommitted.len();
        write!(
            f,
            "{c} unmerged commit{}, {u} uncommitted change{}",
            if c == 1 { "" } else { "s" },
            if u == 1 { "" } else { "s" }
        )
    }
}

/// Everything that can go wrong; each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum WorktreeError {
    /// `git` could not be started.
    #[error("git was not found on PATH; corral needs the git command for worktrees")]
    GitMissing,
    /// The given directory does not exist.
    #[error("{} does not exist or is not a directory", dir.display())]
    NoSuchDirectory {
        /// The directory given.
        dir: PathBuf,
    },
    /// The given directory is not inside a git repository.
    #[error("{} is not inside a git repository (run `git init` there, or start the task in a repository)", dir.display())]
    NotARepository {
        /// The directory given.
        dir: PathBuf,
    },
    /// The directory belongs to a repository without a working tree.
    #[error("{} is in a bare repository or .git directory; worktrees need a checkout", dir.display())]
    NoWorkTree {
        /// The directory given.
        dir: PathBuf,
    },
    /// The checkout is not on a branch.
    #[error("{} has a detached HEAD: a worktree needs a base branch to merge back into; check out a branch first (git switch <branch>)", repo.display())]
    DetachedHead {
        /// The checkout.
        repo: PathBuf,
    },
    /// The repository has no commit to start from.
    #[error("{} has no commits yet: a worktree needs a base commit; make a first commit", repo.display())]
    NoCommits {
        /// The checkout.
        repo: PathBuf,
    },
    /// The short id cannot be used in a branch or directory name.
    #[error(
        "task id {id:?} cannot name a branch: use ASCII letters, digits, '-' and '_' (at most 40)"
    )]
    InvalidTaskId {
        /// The id given.
        id: String,
    },
    /// The task branch exists already.
    #[error("branch {branch} already exists in {}; discard it or choose another task id", repo.display())]
    BranchExists {
        /// The branch.
        branch: String,
        /// The checkout.
        repo: PathBuf,
    },
    /// The worktree directory exists already.
    #[error("{} already exists; corral will not create a worktree over it", path.display())]
    PathExists {
        /// The directory.
        path: PathBuf,
    },
    /// A `.worktreeinclude` entry could not be copied (the creation was undone).
    #[error(
        "cannot copy {entry} from .worktreeinclude into the worktree (nothing was created): {source}"
    )]
    Include {
        /// The entry (root-relative path).
        entry: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The setup command failed (the creation was undone).
    #[error("setup command `{command}` failed ({status}) in {}; the worktree was removed. Its output:\n{output}", dir.display())]
    SetupFailed {
        /// The command.
        command: String,
        /// Exit code or signal, in words.
        status: String,
        /// The end of its output (stdout and stderr together).
        output: String,
        /// Where it ran.
        dir: PathBuf,
    },
    /// The worktree directory is gone.
    #[error("the worktree {} no longer exists", path.display())]
    WorktreeMissing {
        /// The directory.
        path: PathBuf,
    },
    /// The worktree is not on its task branch.
    #[error("the worktree {} has {actual} checked out, not its task branch {branch}; switch back first", path.display())]
    WrongBranch {
        /// The directory.
        path: PathBuf,
        /// The task branch.
        branch: String,
        /// What it has checked out instead.
        actual: String,
    },
    /// An empty commit message.
    #[error("the commit message is empty")]
    EmptyMessage,
    /// The main checkout is not on the base branch.
    #[error("cannot merge into {base_branch}: {} has {} checked out; switch it to {base_branch} first", repo.display(), head.as_deref().map_or_else(|| "a detached HEAD".to_string(), |b| format!("branch {b}")))]
    BaseNotCheckedOut {
        /// The main checkout.
        repo: PathBuf,
        /// The base branch.
        base_branch: String,
        /// What is checked out instead (None: detached HEAD).
        head: Option<String>,
    },
    /// The main checkout has uncommitted changes to tracked files.
    #[error("cannot merge: {} has uncommitted changes to tracked files ({}); commit or stash them first", repo.display(), list_paths(paths))]
    DirtyBase {
        /// The main checkout.
        repo: PathBuf,
        /// The changed paths.
        paths: Vec<String>,
    },
    /// A fast-forward-only merge is impossible.
    #[error(
        "cannot fast-forward {base_branch} to {branch}: {base_branch} has commits the task branch does not; merge with a merge commit instead"
    )]
    NotFastForward {
        /// The base branch.
        base_branch: String,
        /// The task branch.
        branch: String,
    },
    /// The merge conflicted and was aborted.
    #[error(
        "merging {branch} into {base_branch} conflicts in {}; the merge was aborted and both branches are unchanged",
        list_paths(paths)
    )]
    Conflict {
        /// The task branch.
        branch: String,
        /// The base branch.
        base_branch: String,
        /// The conflicting paths.
        paths: Vec<String>,
    },
    /// The unmerged work changed after the user confirmed the discard.
    #[error(
        "nothing was discarded: the unmerged work changed since it was confirmed (now {current}); review it again"
    )]
    StaleConfirmation {
        /// The unmerged work now.
        current: UnmergedWork,
    },
    /// The branch has no corral base recorded.
    #[error(
        "branch {branch} has no base recorded (branch.{branch}.{BASE_KEY}): it was not created by corral"
    )]
    NotCorralBranch {
        /// The branch.
        branch: String,
    },
    /// A git command failed.
    #[error("`git {command}` failed in {}: {stderr}", dir.display())]
    Git {
        /// The arguments after `git -C <dir>`.
        command: String,
        /// The directory.
        dir: PathBuf,
        /// What git said.
        stderr: String,
    },
    /// A file-system operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}
