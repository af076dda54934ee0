//! Worktree tasks in `update`: creating the worktree before the agent
//! starts, what its creation says, and watching its changes.
//!
//! Pure: part of `update`; the git work itself is the runtime's, via effects.

use super::*;

/// Adds a [`Effect::WatchWorktree`] after every spawn of a worktree task,
/// so its change count stays current while the agent runs.
pub(super) fn watch_worktrees(state: &State, effects: Vec<Effect>) -> Vec<Effect> {
    let mut out = Vec::with_capacity(effects.len());
    for effect in effects {
        let watch =
            match &effect {
                Effect::Spawn { task, .. } => state
                    .task(*task)
                    .and_then(|t| t.worktree.clone())
                    .map(|worktree| Effect::WatchWorktree {
                        task: *task,
                        worktree,
                    }),
                _ => None,
            };
        out.push(effect);
        out.extend(watch);
    }
    out
}

/// The effect that creates `task`'s worktree (the task is `Running`, its
/// agent starts on [`Event::WorktreeReady`]); without a configured place
/// for worktrees the task fails.
pub(super) fn create_worktree(
    state: &mut Stepper<'_>,
    task: TaskId,
    now_ms: u64,
) -> Option<Effect> {
    let root = state.settings.worktree_root.clone();
    let setup_command = state.settings.worktree_setup.clone();
    let t = state.task_mut(task)?;
    if t.started_ms.is_none() {
        t.started_ms = Some(now_ms);
    }
    t.finished_ms = None;
    t.kill_reason = None;
    t.last_turn = None;
    t.exit = None;
    t.finish_reason = None;
    let Some(root) = root else {
        fail_before_spawn(
            state,
            task,
            now_ms,
            "this front end has no place for worktrees (set `worktree_root` in the config)".into(),
        );
        return None;
    };
    t.worktree_pending = true;
    let title = t.title();
    Some(Effect::CreateWorktree {
        task,
        request: WorktreeRequest {
            repo_dir: t.spec.cwd.clone(),
            task_short_id: t.short_id.clone().unwrap_or_else(|| format!("t{task}")),
            title,
            root,
            setup_command,
        },
    })
}

/// The worktree of `task` is ready (or failed): record it, say what was
/// done, and start the agent there.
pub(super) fn worktree_ready(
    state: &mut Stepper<'_>,
    now_ms: u64,
    task: TaskId,
    result: Result<Box<Created>, String>,
) -> Vec<Effect> {
    let Some(t) = state.task_mut(task) else {
        return vec![];
    };
    let waited = std::mem::replace(&mut t.worktree_pending, false);
    let waiting = waited && t.status == TaskStatus::Running && !t.process_alive;
    match result {
        Ok(created) => {
            if t.worktree.is_none() {
                // Even for a task killed meanwhile: the worktree exists.
                t.worktree = Some(created.worktree.clone());
            }
            for line in worktree_notice(&created) {
                publish(state, task, AgentEvent::Raw { line });
            }
            if !waiting {
                return vec![];
            }
            begin_run(state, task, now_ms).into_iter().collect()
        }
        Err(message) => {
            if waiting {
                fail_before_spawn(
                    state,
                    task,
                    now_ms,
                    format!("cannot create the task's worktree: {message}"),
                );
            }
            vec![]
        }
    }
}

/// The transcript lines that tell what creating a worktree did.
pub fn worktree_notice(created: &Created) -> Vec<String> {
    let wt = &created.worktree;
    let short: String = wt.base_commit.chars().take(7).collect();
    let mut lines = vec![format!(
        "worktree {} on branch {} (from {} at {short})",
        wt.path.display(),
        wt.branch,
        wt.base_branch
    )];
    if !created.copied.is_empty() {
        let copied: Vec<String> = created
            .copied
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        lines.push(format!(
            "copied from .worktreeinclude: {}",
            copied.join(", ")
        ));
    }
    lines.extend(created.notes.iter().map(|n| format!("worktree: {n}")));
    if let Some(output) = &created.setup_output {
        lines.push("setup command output:".into());
        lines.extend(
            output
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| format!("  {l}")),
        );
    }
    lines
}

/// A review op asked for by a front end: refused at once (reported in the
/// step's reviews) when the task has no worktree or its agent may still be
/// writing, otherwise the effect that runs it, with the commit message
/// filled in.
pub(super) fn review(state: &mut Stepper<'_>, task: TaskId, op: ReviewOp) -> Option<Effect> {
    let t = state.task(task)?;
    let refused = match &t.worktree {
        None if t.worktree_pending => Some(format!("#{task}'s worktree is still being created")),
        None if t.spec.worktree => Some(format!(
            "#{task} has no worktree: it was discarded or never created (a follow-up or rerun makes a fresh one)"
        )),
        None => Some(format!(
            "#{task} has no worktree (start a task with the form's worktree option)"
        )),
        Some(_) => refusal(&op, !t.status.is_final() || t.process_alive),
    };
    let worktree = match (refused, &t.worktree) {
        (None, Some(wt)) => wt.clone(),
        (refused, _) => {
            let reason = refused.unwrap_or_default();
            state.out.reviews.push(ReviewReport {
                task,
                op,
                result: Err(reason),
            });
            return None;
        }
    };
    let op = match op {
        ReviewOp::Commit { message: None } => ReviewOp::Commit {
            message: Some(t.title()),
        },
        ReviewOp::Merge {
            strategy,
            message: None,
        } => ReviewOp::Merge {
            strategy,
            message: Some(t.title()),
        },
        op => op,
    };
    Some(Effect::Review { task, worktree, op })
}

/// A review op finished: keep what it changed (a discarded worktree is
/// gone for good, so the task's next run makes a fresh one), note merges
/// and discards in the transcript, and pass the report on.
pub(super) fn reviewed(
    state: &mut Stepper<'_>,
    task: TaskId,
    op: ReviewOp,
    result: Result<ReviewOutcome, String>,
) {
    let mut line = None;
    if let Some(t) = state.task_mut(task) {
        match &result {
            Ok(ReviewOutcome::Changes(changes)) => {
                let (added, deleted) = changes.line_totals();
                t.changes = Some(ChangeCount {
                    files: changes.file_count(),
                    added,
                    deleted,
                });
            }
            Ok(ReviewOutcome::Committed { sha: Some(sha) }) => {
                let short: String = sha.chars().take(7).collect();
                line = Some(format!("committed the worktree's work as {short}"));
            }
            Ok(ReviewOutcome::Merged { outcome, .. }) => {
                if let Some(wt) = &t.worktree {
                    line = Some(format!(
                        "merged {} into {} ({})",
                        wt.branch,
                        wt.base_branch,
                        merge_words(&outcome.kind)
                    ));
                }
            }
            Ok(ReviewOutcome::Discarded { lost }) => {
                t.changes = None;
                if let Some(wt) = t.worktree.take() {
                    line = Some(format!(
                        "removed the worktree {} and branch {} ({lost})",
                        wt.path.display(),
                        wt.branch
                    ));
                }
            }
            _ => {}
        }
    }
    if let Some(line) = line {
        publish(state, task, AgentEvent::Raw { line });
    }
    state.out.reviews.push(ReviewReport { task, op, result });
}
