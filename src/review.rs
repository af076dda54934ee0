//! `corral diff`, `corral merge` and `corral discard`: a worktree task's
//! changes reviewed, merged into its base branch, or thrown away, from the
//! command line. Also the pure pieces a diff view shares: which kind of
//! line a unified-diff line is, and the changed-file summary.
//!
//! Never loses work: merging commits the worktree's work first and leaves
//! both branches as they were on a conflict (see [`crate::worktree::merge`]);
//! discarding lists every unmerged commit and uncommitted change, asks, and
//! removes nothing when the work changed after it was shown. Refuses to
//! commit, merge or discard while the task's agent runs. Every line of a
//! diff is sanitized before it is printed (the files are agent-written).
//!
//! The refusal is the core's rule ([`crate::core::review::refusal`]) and
//! the git work the runtime's executor ([`crate::runtime::review::execute`]),
//! the same the cockpit's review uses.

use std::io::{BufRead, Write};

use anyhow::{Context, Result, bail};

use crate::agent::sanitize::sanitize_line;
use crate::core::review::{ReviewOp, ReviewOutcome, refusal};
use crate::runtime::review::{execute, execute_telling};
use crate::store::{Store, TaskRecord};
use crate::worktree::{
    self, Changes, MergeKind, MergeStrategy, UnmergedWork, Worktree, WorktreeError,
};

/// An error that is the user's to fix on the command line (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// What a line of a unified diff is, for colouring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffLineKind {
    /// A file header: `diff --git`, `index`, `---`, `+++`, modes, renames.
    Header,
    /// A hunk header `@@ -a,b +c,d @@`.
    Hunk,
    /// An added line.
    Added,
    /// A deleted line.
    Deleted,
    /// Context, `\ No newline at end of file`, binary notices.
    Context,
}

/// Classifies each line of a unified diff (git's format). Knows where file
/// headers end, so a deleted line that reads `-- x` is not a header.
pub fn classify(diff: &str) -> Vec<(DiffLineKind, &str)> {
    let mut in_header = false;
    diff.lines()
        .map(|line| {
            let kind = if line.starts_with("diff --git ") {
                in_header = true;
                DiffLineKind::Header
            } else if line.starts_with("@@") {
                in_header = false;
                DiffLineKind::Hunk
            } else if in_header {
                DiffLineKind::Header
            } else if line.starts_with('+') {
                DiffLineKind::Added
            } else if line.starts_with('-') {
                DiffLineKind::Deleted
            } else {
                DiffLineKind::Context
            };
            (kind, line)
        })
        .collect()
}

/// One line per changed file: status letter, path (with the old path of a
/// rename), `+added -deleted` or `binary`; then the totals. Sanitized.
pub fn stat_lines(changes: &Changes) -> Vec<String> {
    if changes.files.is_empty() {
        return vec!["no changes".into()];
    }
    let counts: Vec<String> = changes
        .files
        .iter()
        .map(|f| {
            if f.binary {
                "binary".to_string()
            } else {
                format!("+{} -{}", f.added, f.deleted)
            }
        })
        .collect();
    let width = counts.iter().map(|c| c.len()).max().unwrap_or(0);
    let mut lines: Vec<String> = changes
        .files
        .iter()
        .zip(&counts)
        .map(|(f, count)| {
            let path = match &f.status {
                worktree::FileStatus::Renamed { from } => format!("{from} → {}", f.path),
                _ => f.path.clone(),
            };
            sanitize_line(&format!("{} {count:>width$}  {path}", f.status.letter()))
        })
        .collect();
    let (added, deleted) = changes.line_totals();
    lines.push(crate::present::change_count(
        &crate::core::task::ChangeCount {
            files: changes.file_count(),
            added,
            deleted,
        },
    ));
    lines
}

/// The unified diff made safe to print, coloured with ANSI codes when
/// `color` (+ green, - red, @@ cyan, headers bold).
pub fn render_diff(diff: &str, color: bool) -> String {
    let mut out = String::with_capacity(diff.len() + diff.len() / 8);
    for (kind, line) in classify(diff) {
        let line = sanitize_line(line);
        let code = match kind {
            DiffLineKind::Header => "1",
            DiffLineKind::Hunk => "36",
            DiffLineKind::Added => "32",
            DiffLineKind::Deleted => "31",
            DiffLineKind::Context => "",
        };
        if color && !code.is_empty() {
            out.push_str(&format!("\u{1b}[{code}m{line}\u{1b}[0m\n"));
        } else {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

/// The unmerged work, one line each, for a confirmation (sanitized).
pub fn unmerged_lines(work: &UnmergedWork) -> Vec<String> {
    let mut lines = Vec::new();
    for c in &work.commits {
        let short: String = c.sha.chars().take(7).collect();
        lines.push(sanitize_line(&format!("  commit {short} {}", c.subject)));
    }
    for u in &work.uncommitted {
        lines.push(sanitize_line(&format!(
            "  uncommitted {} {}",
            u.status.trim(),
            u.path
        )));
    }
    lines
}

/// The stored task `prefix` names and its worktree.
fn task_worktree(store: &Store, prefix: &str) -> Result<(TaskRecord, Worktree)> {
    let record = store.find(prefix)?;
    match &record.worktree {
        Some(wt) => Ok((record.clone(), wt.clone())),
        None if record.use_worktree => bail!(
            "task {} has no worktree: it was never created (see `corral logs {}`) or was discarded",
            record.id,
            record.id
        ),
        None => bail!(
            "task {} has no worktree: it ran in {} itself (start a task with `corral run --worktree` to get one)",
            record.id,
            record.cwd.display()
        ),
    }
}

/// Whether the task's agent may still be working in the worktree.
fn agent_running(record: &TaskRecord) -> bool {
    !record.effective_status().is_final()
        || record
            .agent_group
            .as_ref()
            .is_some_and(crate::store::ProcessId::is_alive)
}

/// The core's refusal of `op` for the stored task, as an error.
fn refuse_while_running(record: &TaskRecord, op: &ReviewOp) -> Result<()> {
    if let Some(reason) = refusal(op, agent_running(record)) {
        bail!(
            "task {} is {}: {reason}",
            record.id,
            record.effective_status().name()
        );
    }
    Ok(())
}

/// A review outcome of another kind than the op gives (a bug).
fn unexpected(outcome: ReviewOutcome) -> anyhow::Error {
    anyhow::anyhow!("internal error: unexpected review outcome {outcome:?}")
}

/// `corral diff ID [--stat]`.
pub fn diff(
    store: &Store,
    prefix: &str,
    stat: bool,
    color: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let (_, wt) = task_worktree(store, prefix)?;
    let changes = match execute(&wt, &ReviewOp::Refresh)? {
        ReviewOutcome::Changes(changes) => changes,
        other => return Err(unexpected(other)),
    };
    if stat {
        for line in stat_lines(&changes) {
            writeln!(out, "{line}")?;
        }
    } else {
        out.write_all(render_diff(&changes.diff, color).as_bytes())?;
        if changes.diff_truncated {
            writeln!(
                out,
                "[corral: the diff is longer than {} MiB and was cut here]",
                worktree::DIFF_TEXT_CAP / (1024 * 1024)
            )?;
        }
    }
    out.flush()?;
    Ok(())
}

/// `corral merge ID`: commits the worktree's uncommitted work (message:
/// `message`, else the task's title), then merges the task branch into its
/// base branch in the main checkout.
pub fn merge(
    store: &Store,
    prefix: &str,
    strategy: MergeStrategy,
    message: Option<&str>,
    out: &mut dyn Write,
) -> Result<()> {
    let (record, wt) = task_worktree(store, prefix)?;
    let message = message.unwrap_or(&record.title);
    let op = ReviewOp::Merge {
        strategy,
        message: Some(message.to_string()),
    };
    refuse_while_running(&record, &op)?;
    // The executor refuses a base that cannot take the merge before it
    // commits anything.
    let mut said = Ok(());
    let mut tell = |sha: &str| {
        let short: String = sha.chars().take(7).collect();
        said = writeln!(
            out,
            "committed the uncommitted work on {} as {short} {}",
            wt.branch,
            sanitize_line(message)
        );
    };
    let merged = execute_telling(&wt, &op, &mut tell);
    said?;
    let outcome = match merged {
        Ok(ReviewOutcome::Merged { outcome, .. }) => outcome,
        Ok(other) => return Err(unexpected(other)),
        Err(err @ WorktreeError::Conflict { .. }) => {
            bail!(
                "{err}\nresolve it yourself (git merge {} in {}) or let the agent rebase its branch",
                wt.branch,
                wt.repo_root.display()
            )
        }
        Err(err) => return Err(err.into()),
    };
    let short: String = outcome.base_after.chars().take(7).collect();
    match outcome.kind {
        MergeKind::AlreadyUpToDate => writeln!(
            out,
            "{} already contains {}; nothing to merge",
            wt.base_branch, wt.branch
        )?,
        MergeKind::FastForward => writeln!(
            out,
            "fast-forwarded {} to {short} ({})",
            wt.base_branch, wt.branch
        )?,
        MergeKind::MergeCommit => writeln!(
            out,
            "merged {} into {} with merge commit {short}",
            wt.branch, wt.base_branch
        )?,
    }
    if !outcome.left_uncommitted.is_empty() {
        writeln!(
            out,
            "note: {} uncommitted change(s) appeared in the worktree meanwhile and were not merged",
            outcome.left_uncommitted.len()
        )?;
    }
    writeln!(
        out,
        "the worktree stays in {}; remove it with `corral discard {}`",
        wt.path.display(),
        record.id
    )?;
    Ok(())
}

/// `corral discard ID`: shows what would be lost, asks (`confirm` reads the
/// answer; `None` means there is no terminal to ask on, so only `yes`
/// proceeds), then removes the worktree and the branch.
pub fn discard(
    store: &Store,
    prefix: &str,
    yes: bool,
    confirm: Option<&mut dyn BufRead>,
    out: &mut dyn Write,
) -> Result<()> {
    let (mut record, wt) = task_worktree(store, prefix)?;
    refuse_while_running(&record, &ReviewOp::ListUnmerged)?;
    let work = match execute(&wt, &ReviewOp::ListUnmerged)? {
        ReviewOutcome::Unmerged(work) => work,
        other => return Err(unexpected(other)),
    };
    writeln!(
        out,
        "task {}: worktree {} on branch {}",
        record.id,
        wt.path.display(),
        wt.branch
    )?;
    if work.is_empty() {
        writeln!(
            out,
            "nothing unmerged: {} has every commit and there are no uncommitted changes",
            wt.base_branch
        )?;
    } else {
        writeln!(out, "discarding loses {work}:")?;
        for line in unmerged_lines(&work) {
            writeln!(out, "{line}")?;
        }
    }
    out.flush()?;
    if !yes {
        let Some(input) = confirm else {
            return Err(UsageError(format!(
                "not discarding task {}: there is no terminal to confirm on; run `corral discard {} --yes` to remove it{}",
                record.id,
                record.id,
                if work.is_empty() {
                    String::new()
                } else {
                    " and lose the work listed above".into()
                }
            ))
            .into());
        };
        let mut err = std::io::stderr().lock();
        write!(err, "remove the worktree and branch {}? [y/N] ", wt.branch)?;
        err.flush()?;
        let mut answer = String::new();
        input.read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            bail!("nothing was removed");
        }
    }
    let op = ReviewOp::Discard {
        confirmed: work.clone(),
    };
    match execute(&wt, &op) {
        Ok(_) => {}
        Err(WorktreeError::StaleConfirmation { current }) => bail!(
            "the work in the worktree changed after it was listed (now {current}); nothing was removed, run the command again"
        ),
        Err(err) => return Err(err.into()),
    }
    record.worktree = None;
    record.updated_ms = crate::store::now_ms();
    store
        .save(&record)
        .context("the worktree is gone but the task record still names it")?;
    if work.is_empty() {
        writeln!(
            out,
            "removed the worktree {} and branch {}",
            wt.path.display(),
            wt.branch
        )?;
    } else {
        writeln!(
            out,
            "removed the worktree {} and branch {} with {work}",
            wt.path.display(),
            wt.branch
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIFF: &str = "diff --git a/a.txt b/a.txt\nindex 1..2 100644\n--- a/a.txt\n+++ b/a.txt\n@@ -1,2 +1,2 @@\n keep\n--- gone\n+++ new\n";

    #[test]
    fn hunk_lines_that_look_like_headers_are_content() {
        let kinds: Vec<DiffLineKind> = classify(DIFF).into_iter().map(|(k, _)| k).collect();
        use DiffLineKind::*;
        assert_eq!(
            kinds,
            [
                Header, Header, Header, Header, Hunk, Context, Deleted, Added
            ]
        );
    }

    #[test]
    fn rendering_colours_only_with_colour_and_strips_escapes() {
        let hostile = format!("{DIFF}+evil \u{1b}]0;title\u{7}x\n");
        let plain = render_diff(&hostile, false);
        assert!(!plain.contains('\u{1b}'), "{plain:?}");
        assert!(plain.ends_with("+evil x\n"));
        let coloured = render_diff(&hostile, true);
        assert!(
            coloured.contains("\u{1b}[32m+++ new\u{1b}[0m"),
            "{coloured:?}"
        );
        assert!(coloured.contains("\u{1b}[31m--- gone\u{1b}[0m"));
        assert!(coloured.contains("\u{1b}[1mdiff --git a/a.txt b/a.txt\u{1b}[0m"));
        assert!(coloured.contains(" keep\n"), "context stays plain");
        assert!(!coloured.contains("title"));
    }
}
