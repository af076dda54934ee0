//! Per-task isolation with git worktrees: create a worktree on a new branch
//! for a task, show its changes against the base, commit, merge it into the
//! base branch, and discard it safely.
//!
//! Conceptually part of the runtime layer: every public function here runs
//! the real `git` binary and touches the file system, synchronously (call it
//! off the UI thread). The pure parts (slugs, branch names, parsing git's
//! output, `.worktreeinclude` patterns) live in `parse` and `include` and are
//! unit-tested there.
//!
//! What this module must never do: lose work. A merge conflict is aborted
//! and reported, leaving both branches as they were; a merge refuses to run
//! in a checkout that is not on the base branch or has uncommitted changes
//! to tracked files; a discard removes nothing unless the unmerged work the
//! caller confirmed is still exactly the unmerged work there is. It also
//! never starts an interactive program (no editor, no pager, no prompt) and
//! never touches the user's index while polling for changes.
//!
//! Where things live: the worktree is `<root>/<repo-name>-<short-id>` on the
//! branch `corral/<short-id>-<slug>`; the base branch and base commit are
//! recorded in the repository's own config (`branch.<branch>.corralBase`,
//! `branch.<branch>.corralBaseCommit`), which `git branch -D` removes with
//! the branch, so [`find`] can re-open a worktree after corral restarts.

mod git;
mod include;
pub mod parse;
pub mod types;

pub use types::*;

use std::fs;
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

use git::{Git, toplevel};

/// The most diff text [`changes`] returns; a larger diff is cut there and
/// marked [`Changes::diff_truncated`].
pub const DIFF_TEXT_CAP: usize = 4 * 1024 * 1024;

/// The most setup-command output kept in [`WorktreeError::SetupFailed`] and
/// [`Created::setup_output`] (the end of it).
pub const SETUP_OUTPUT_CAP: usize = 16 * 1024;

/// Config key (under `branch.<name>.`) holding the base branch.
const BASE_KEY: &str = "corralbase";
/// Config key (under `branch.<name>.`) holding the base commit.
const BASE_COMMIT_KEY: &str = "corralbasecommit";

fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> WorktreeError {
    let context = context.into();
    move |source| WorktreeError::Io { context, source }
}

/// The branch checked out in `dir` (short name), or None when detached.
fn current_branch(dir: &Path) -> Result<Option<String>, WorktreeError> {
    let ran = Git::new(dir).run(&["symbolic-ref", "-q", "HEAD"])?;
    if !ran.success {
        return Ok(None);
    }
    let full = ran.text();
    Ok(Some(
        full.strip_prefix("refs/heads/")
            .unwrap_or(&full)
            .to_string(),
    ))
}

/// The commit a revision names, or None when it names none.
fn resolve(dir: &Path, rev: &str) -> Result<Option<String>, WorktreeError> {
    let spec = format!("{rev}^{{commit}}");
    let ran = Git::new(dir).run(&["rev-parse", "-q", "--verify", "--end-of-options", &spec])?;
    Ok(if ran.success { Some(ran.text()) } else { None })
}

fn branch_exists(dir: &Path, branch: &str) -> Result<bool, WorktreeError> {
    let full = format!("refs/heads/{branch}");
    Ok(Git::new(dir)
        .run(&["show-ref", "--verify", "--quiet", &full])?
        .success)
}

/// Creates a task's worktree: `git worktree add -b corral/<id>-<slug>
/// <root>/<repo-name>-<id> <base commit>` from the current branch of the
/// checkout containing `repo_dir`, copies the `.worktreeinclude` entries
/// from that checkout, and runs the setup command in the worktree.
///
/// All or nothing: when copying or the setup command fails, the new
/// worktree and branch are removed again (they hold no work yet) and the
/// error carries the command's output.
pub fn create(req: &WorktreeRequest) -> Result<Created, WorktreeError> {
    let repo_root = toplevel(&req.repo_dir)?;
    if !parse::valid_short_id(&req.task_short_id) {
        return Err(WorktreeError::InvalidTaskId {
            id: req.task_short_id.clone(),
        });
    }
    let branch = parse::branch_name(&req.task_short_id, &req.title);
    let base_branch = current_branch(&repo_root)?.ok_or_else(|| WorktreeError::DetachedHead {
        repo: repo_root.clone(),
    })?;
    let base_commit = resolve(&repo_root, "HEAD")?.ok_or_else(|| WorktreeError::NoCommits {
        repo: repo_root.clone(),
    })?;
    if branch_exists(&repo_root, &branch)? {
        return Err(WorktreeError::BranchExists {
            branch,
            repo: repo_root,
        });
    }
    fs::create_dir_all(&req.root).map_err(io_err(format!(
        "cannot create the worktree directory {}",
        req.root.display()
    )))?;
    let root = fs::canonicalize(&req.root).map_err(io_err(format!(
        "cannot resolve the worktree directory {}",
        req.root.display()
    )))?;
    let repo_name = repo_root
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let path = root.join(parse::worktree_dir_name(&repo_name, &req.task_short_id));
    if fs::symlink_metadata(&path).is_ok() {
        return Err(WorktreeError::PathExists { path });
    }
    let path_arg = path.to_string_lossy().into_owned();
    Git::new(&repo_root).ok(&[
        "worktree",
        "add",
        "--quiet",
        "-b",
        &branch,
        &path_arg,
        &base_commit,
    ])?;
    let worktree = Worktree {
        path,
        branch,
        base_branch,
        base_commit,
        repo_root,
    };
    match finish_create(&worktree, req) {
        Ok((copied, notes, setup_output)) => Ok(Created {
            worktree,
            copied,
            notes,
            setup_output,
        }),
        Err(e) => {
            undo_create(&worktree);
            Err(e)
        }
    }
}

type Finished = (Vec<PathBuf>, Vec<String>, Option<String>);

fn finish_create(wt: &Worktree, req: &WorktreeRequest) -> Result<Finished, WorktreeError> {
    let git = Git::new(&wt.repo_root);
    let key = format!("branch.{}.{BASE_KEY}", wt.branch);
    git.ok(&["config", &key, &wt.base_branch])?;
    let key = format!("branch.{}.{BASE_COMMIT_KEY}", wt.branch);
    git.ok(&["config", &key, &wt.base_commit])?;
    let (copied, notes) = copy_includes(&wt.repo_root, &wt.path)?;
    let setup_output = match &req.setup_command {
        Some(cmd) if !cmd.trim().is_empty() => Some(run_setup(cmd, &wt.path)?),
        _ => None,
    };
    Ok((copied, notes, setup_output))
}

/// Best effort: removes a worktree that was just created and holds no work.
fn undo_create(wt: &Worktree) {
    let git = Git::new(&wt.repo_root);
    let path = wt.path.to_string_lossy().into_owned();
    let _ = git.run(&["worktree", "remove", "--force", &path]);
    let _ = git.run(&["worktree", "prune"]);
    let _ = git.run(&["branch", "-D", &wt.branch]);
}

fn copy_includes(
    repo_root: &Path,
    wt_path: &Path,
) -> Result<(Vec<PathBuf>, Vec<String>), WorktreeError> {
    let file = repo_root.join(".worktreeinclude");
    let text = match fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((Vec::new(), Vec::new())),
        Err(e) => return Err(io_err(format!("cannot read {}", file.display()))(e)),
    };
    let mut copied = Vec::new();
    let mut notes = Vec::new();
    for entry in include::parse(&text) {
        match entry {
            include::Entry::Unsupported { raw, reason } => {
                notes.push(format!(".worktreeinclude: `{raw}` skipped: {reason}"));
            }
            include::Entry::Pattern {
                raw,
                components,
                dir_only,
            } => {
                let matches = include::expand(repo_root, &components, dir_only);
                if matches.is_empty() {
                    notes.push(format!(
                        ".worktreeinclude: `{raw}` matches nothing in {}, skipped",
                        repo_root.display()
                    ));
                }
                for rel in matches {
                    let mut out = include::Copied::default();
                    include::copy_entry(&repo_root.join(&rel), &wt_path.join(&rel), &rel, &mut out)
                        .map_err(|source| WorktreeError::Include {
                            entry: rel.display().to_string(),
                            source,
                        })?;
                    for kept in &out.kept {
                        notes.push(format!(
                            ".worktreeinclude: {} is already in the worktree, not overwritten",
                            kept.display()
                        ));
                    }
                    if out.created > 0 {
                        copied.push(rel);
                    }
                }
            }
        }
    }
    Ok((copied, notes))
}

fn run_setup(command: &str, dir: &Path) -> Result<String, WorktreeError> {
    // `exec 2>&1` first so stdout and stderr arrive interleaved on one pipe.
    let script = format!("exec 2>&1\n{command}");
    let out = Command::new("sh")
        .arg("-c")
        .arg(&script)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .map_err(io_err(format!("cannot run the setup command `{command}`")))?;
    // Anything on stderr came before the redirection (a shell start-up error).
    let mut all = String::from_utf8_lossy(&out.stderr).into_owned();
    all.push_str(&String::from_utf8_lossy(&out.stdout));
    let text = parse::tail(&all, SETUP_OUTPUT_CAP);
    if out.status.success() {
        return Ok(text);
    }
    let status = match out.status.code() {
        Some(c) => format!("exit code {c}"),
        None => {
            use std::os::unix::process::ExitStatusExt;
            match out.status.signal() {
                Some(s) => format!("killed by signal {s}"),
                None => "failed".to_string(),
            }
        }
    };
    Err(WorktreeError::SetupFailed {
        command: command.to_string(),
        status,
        output: text,
        dir: dir.to_path_buf(),
    })
}

fn ensure_exists(wt: &Worktree) -> Result<(), WorktreeError> {
    if wt.path.is_dir() {
        Ok(())
    } else {
        Err(WorktreeError::WorktreeMissing {
            path: wt.path.clone(),
        })
    }
}

/// The commit the task's changes are measured from (see [`Changes::base`]).
fn diff_base(wt: &Worktree) -> Result<String, WorktreeError> {
    let base_ref = format!("refs/heads/{}", wt.base_branch);
    let ran = Git::new(&wt.path).run(&["merge-base", &base_ref, "HEAD"])?;
    let mb = ran.text();
    if ran.success && !mb.is_empty() {
        Ok(mb)
    } else {
        Ok(wt.base_commit.clone())
    }
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A private index file next to the worktree's own index, removed on drop.
struct TempIndex {
    path: PathBuf,
}

impl TempIndex {
    fn new(git_dir: &Path) -> Self {
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = git_dir.join(format!("corral-index-{}-{n}", std::process::id()));
        TempIndex { path }
    }
}

impl Drop for TempIndex {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
        let mut lock = self.path.clone().into_os_string();
        lock.push(".lock");
        let _ = fs::remove_file(lock);
    }
}

/// The task's changes against its base, with the unified diff text:
/// committed, staged, unstaged and untracked (not ignored) files alike.
///
/// Works on a private copy of the worktree's index (untracked files are
/// added there as intent-to-add), so an agent's own git use is never
/// disturbed and nothing is written to the object store (beyond the empty
/// blob, once). Cost: six short git processes, about 25-30 ms on a
/// 1000-file repository (measured by `tests/worktree_git.rs`), so calling
/// it every second while an agent works is fine.
pub fn changes(wt: &Worktree) -> Result<Changes, WorktreeError> {
    collect(wt, true)
}

/// [`changes`] without the diff text: the changed files with their counts,
/// cheaper for a task row's counter.
pub fn change_summary(wt: &Worktree) -> Result<Changes, WorktreeError> {
    collect(wt, false)
}

fn collect(wt: &Worktree, with_diff: bool) -> Result<Changes, WorktreeError> {
    ensure_exists(wt)?;
    let base = diff_base(wt)?;
    let git = Git::new(&wt.path);
    let index_rel = git.text(&["rev-parse", "--git-path", "index"])?;
    let index = wt.path.join(index_rel);
    let git_dir = index
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| wt.path.clone());
    let tmp = TempIndex::new(&git_dir);
    let private = git.with_index(&tmp.path);
    match fs::copy(&index, &tmp.path) {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            private.ok(&["read-tree", "HEAD"])?;
        }
        Err(e) => return Err(io_err(format!("cannot copy the index {}", index.display()))(e)),
    }
    // Refresh stat data so files merely touched do not show as changed;
    // exit status 1 only means "some files need update".
    private.run(&["update-index", "-q", "--refresh"])?;
    private.ok(&["add", "--all", "--intent-to-add"])?;
    let raw = private.ok(&["diff-index", "-M", "--raw", "--numstat", "-z", &base, "--"])?;
    let files = parse::parse_raw_numstat(&raw.stdout);
    let (diff, diff_truncated) = if with_diff {
        let (bytes, truncated) = private.capped(
            &[
                "-c",
                "core.quotepath=off",
                "diff-index",
                "-M",
                "-p",
                "--no-color",
                &base,
                "--",
            ],
            DIFF_TEXT_CAP,
        )?;
        (String::from_utf8_lossy(&bytes).into_owned(), truncated)
    } else {
        (String::new(), false)
    };
    let sections = order_sections(&files, &diff);
    Ok(Changes {
        base,
        files,
        diff,
        diff_truncated,
        sections,
    })
}

/// Pairs each file with its diff section: git orders both by path, so the
/// n-th section belongs to the n-th file when the counts agree; otherwise
/// no per-file sections are offered.
fn order_sections(files: &[FileChange], diff: &str) -> Vec<Range<usize>> {
    let sections = parse::split_patch(diff);
    if sections.len() == files.len() {
        sections
    } else {
        Vec::new()
    }
}

/// Stages everything in the worktree (`git add -A`) and commits it with
/// `message` on the task branch. Returns the new commit, or None when
/// there was nothing to commit. Commit hooks run as usual.
pub fn commit_all(wt: &Worktree, message: &str) -> Result<Option<String>, WorktreeError> {
    if message.trim().is_empty() {
        return Err(WorktreeError::EmptyMessage);
    }
    ensure_exists(wt)?;
    match current_branch(&wt.path)? {
        Some(b) if b == wt.branch => {}
        other => {
            return Err(WorktreeError::WrongBranch {
                path: wt.path.clone(),
                branch: wt.branch.clone(),
                actual: other
                    .map_or_else(|| "a detached HEAD".to_string(), |b| format!("branch {b}")),
            });
        }
    }
    let git = Git::new(&wt.path);
    git.ok(&["add", "--all"])?;
    let staged = git.run(&["diff", "--cached", "--quiet", "--no-ext-diff"])?;
    match staged.code {
        Some(0) => return Ok(None),
        Some(1) => {}
        _ => return Err(git.failed(&["diff", "--cached", "--quiet"], &staged)),
    }
    git.ok(&["commit", "--quiet", "--no-edit", "-m", message])?;
    Ok(Some(git.text(&["rev-parse", "HEAD"])?))
}

fn dirty_tracked(repo: &Path) -> Result<Vec<String>, WorktreeError> {
    let ran = Git::new(repo).ok(&["status", "--porcelain=v1", "-z", "--untracked-files=no"])?;
    Ok(parse::parse_status_z(&ran.stdout)
        .into_iter()
        .map(|c| c.path)
        .collect())
}

fn uncommitted(wt: &Worktree) -> Result<Vec<UncommittedChange>, WorktreeError> {
    if !wt.path.is_dir() {
        return Ok(Vec::new());
    }
    let ran =
        Git::new(&wt.path).ok(&["status", "--porcelain=v1", "-z", "--untracked-files=all"])?;
    Ok(parse::parse_status_z(&ran.stdout))
}

fn is_ancestor(dir: &Path, a: &str, b: &str) -> Result<bool, WorktreeError> {
    let args = ["merge-base", "--is-ancestor", a, b];
    let ran = Git::new(dir).run(&args)?;
    match ran.code {
        Some(0) => Ok(true),
        Some(1) => Ok(false),
        _ => Err(Git::new(dir).failed(&args, &ran)),
    }
}

/// The checks [`merge`] makes before it changes anything: the main checkout
/// (`wt.repo_root`) is a repository, has the base branch checked out and
/// has no uncommitted changes to tracked files. Lets a caller refuse
/// before committing the worktree's work.
pub fn check_base(wt: &Worktree) -> Result<(), WorktreeError> {
    let repo = &wt.repo_root;
    toplevel(repo)?;
    let head = current_branch(repo)?;
    if head.as_deref() != Some(wt.base_branch.as_str()) {
        return Err(WorktreeError::BaseNotCheckedOut {
            repo: repo.clone(),
            base_branch: wt.base_branch.clone(),
            head,
        });
    }
    let paths = dirty_tracked(repo)?;
    if !paths.is_empty() {
        return Err(WorktreeError::DirtyBase {
            repo: repo.clone(),
            paths,
        });
    }
    Ok(())
}

/// Merges the task branch into the base branch in the main checkout
/// (`wt.repo_root`). Refuses when that checkout is not on the base branch
/// or has uncommitted changes to tracked files. A conflict aborts the
/// merge (`git merge --abort`) and returns [`WorktreeError::Conflict`] with
/// the paths: both branches stay as they were. Only commits merge: call
/// [`commit_all`] first to include uncommitted work (what is left is listed
/// in [`MergeOutcome::left_uncommitted`]).
pub fn merge(wt: &Worktree, strategy: MergeStrategy) -> Result<MergeOutcome, WorktreeError> {
    let repo = &wt.repo_root;
    check_base(wt)?;
    let branch_ref = format!("refs/heads/{}", wt.branch);
    let base_ref = format!("refs/heads/{}", wt.base_branch);
    let tip = resolve(repo, &branch_ref)?.ok_or_else(|| WorktreeError::Git {
        command: format!("rev-parse {branch_ref}"),
        dir: repo.clone(),
        stderr: format!("the task branch {} no longer exists", wt.branch),
    })?;
    let base_before = resolve(repo, "HEAD")?.unwrap_or_default();
    let left_uncommitted = uncommitted(wt)?;
    let outcome = |kind, base_after| MergeOutcome {
        kind,
        base_before: base_before.clone(),
        base_after,
        left_uncommitted: left_uncommitted.clone(),
    };
    if is_ancestor(repo, &tip, &base_ref)? {
        return Ok(outcome(MergeKind::AlreadyUpToDate, base_before.clone()));
    }
    let can_ff = is_ancestor(repo, &base_ref, &tip)?;
    if strategy == MergeStrategy::FastForwardOnly && !can_ff {
        return Err(WorktreeError::NotFastForward {
            base_branch: wt.base_branch.clone(),
            branch: wt.branch.clone(),
        });
    }
    let mode = match strategy {
        MergeStrategy::FastForwardOnly => "--ff-only",
        MergeStrategy::FastForwardOrMerge => "--ff",
        MergeStrategy::MergeCommit => "--no-ff",
    };
    let message = format!("Merge {} (corral task) into {}", wt.branch, wt.base_branch);
    let git = Git::new(repo);
    let args = [
        "merge",
        "--quiet",
        mode,
        "--no-edit",
        "-m",
        &message,
        &branch_ref,
    ];
    let ran = git.run(&args)?;
    if !ran.success {
        return Err(abort_merge(wt, &args, &ran)?);
    }
    let base_after = resolve(repo, "HEAD")?.unwrap_or_default();
    let kind = if base_after == tip {
        MergeKind::FastForward
    } else {
        MergeKind::MergeCommit
    };
    Ok(outcome(kind, base_after))
}

/// After a failed `git merge`: when a merge is in progress, collects the
/// conflicting paths and aborts it; returns the error to report.
fn abort_merge(
    wt: &Worktree,
    args: &[&str],
    ran: &git::Ran,
) -> Result<WorktreeError, WorktreeError> {
    let repo = &wt.repo_root;
    let git = Git::new(repo);
    let in_progress = git
        .run(&["rev-parse", "-q", "--verify", "MERGE_HEAD"])?
        .success;
    if !in_progress {
        // Git refused before starting (for example untracked files in the
        // way, or a hook said no): nothing to undo.
        return Ok(git.failed(args, ran));
    }
    let unmerged = git.ok(&["ls-files", "-u", "-z"])?;
    let paths = parse::parse_unmerged_z(&unmerged.stdout);
    git.ok(&["merge", "--abort"])?;
    if paths.is_empty() {
        return Ok(git.failed(args, ran));
    }
    Ok(WorktreeError::Conflict {
        branch: wt.branch.clone(),
        base_branch: wt.base_branch.clone(),
        paths,
    })
}

/// The work that discarding the task would destroy: commits on the task
/// branch that the base branch lacks, and uncommitted changes (including
/// untracked files) in the worktree. Ignored files are not listed.
pub fn unmerged_work(wt: &Worktree) -> Result<UnmergedWork, WorktreeError> {
    let repo = &wt.repo_root;
    let branch_ref = format!("refs/heads/{}", wt.branch);
    let commits = if branch_exists(repo, &wt.branch)? {
        let base_ref = format!("refs/heads/{}", wt.base_branch);
        let base = if branch_exists(repo, &wt.base_branch)? {
            base_ref
        } else {
            wt.base_commit.clone()
        };
        let range = format!("{base}..{branch_ref}");
        let text = Git::new(repo).text(&[
            "log",
            "--no-color",
            "--no-show-signature",
            "--format=%H%x09%s",
            &range,
            "--",
        ])?;
        parse::parse_log(&text)
    } else {
        Vec::new()
    };
    Ok(UnmergedWork {
        commits,
        uncommitted: uncommitted(wt)?,
    })
}

/// Removes the worktree (`git worktree remove --force`) and deletes the task
/// branch, but only when [`unmerged_work`] still equals `confirmed` (what the
/// user was shown and agreed to lose); otherwise nothing is touched and
/// [`WorktreeError::StaleConfirmation`] carries the current work. Pass
/// `&UnmergedWork::default()` when there was nothing to confirm. Stop the
/// task's agent first: a file written after the check is lost.
pub fn discard(wt: &Worktree, confirmed: &UnmergedWork) -> Result<(), WorktreeError> {
    let current = unmerged_work(wt)?;
    if current != *confirmed {
        return Err(WorktreeError::StaleConfirmation { current });
    }
    let git = Git::new(&wt.repo_root);
    if wt.path.exists() {
        let path = wt.path.to_string_lossy().into_owned();
        git.ok(&["worktree", "remove", "--force", &path])?;
    } else {
        git.ok(&["worktree", "prune"])?;
    }
    if branch_exists(&wt.repo_root, &wt.branch)? {
        git.ok(&["branch", "-D", &wt.branch])?;
    }
    Ok(())
}

fn config_get(repo: &Path, key: &str) -> Result<Option<String>, WorktreeError> {
    let ran = Git::new(repo).run(&["config", "--get", key])?;
    Ok(if ran.success { Some(ran.text()) } else { None })
}

/// Re-opens a task's worktree from git's own records (for a restarted
/// corral): the worktree checked out on `branch`, with the base recorded at
/// creation. None when no worktree has that branch checked out.
pub fn find(repo_dir: &Path, branch: &str) -> Result<Option<Worktree>, WorktreeError> {
    let repo_root = toplevel(repo_dir)?;
    let text = Git::new(&repo_root).text(&["worktree", "list", "--porcelain"])?;
    let full = format!("refs/heads/{branch}");
    let Some(entry) = parse::parse_worktree_list(&text)
        .into_iter()
        .find(|e| e.branch.as_deref() == Some(full.as_str()))
    else {
        return Ok(None);
    };
    let base_branch = config_get(&repo_root, &format!("branch.{branch}.{BASE_KEY}"))?;
    let base_commit = config_get(&repo_root, &format!("branch.{branch}.{BASE_COMMIT_KEY}"))?;
    let (Some(base_branch), Some(base_commit)) = (base_branch, base_commit) else {
        return Err(WorktreeError::NotCorralBranch {
            branch: branch.to_string(),
        });
    };
    Ok(Some(Worktree {
        path: entry.path,
        branch: branch.to_string(),
        base_branch,
        base_commit,
        repo_root,
    }))
}
