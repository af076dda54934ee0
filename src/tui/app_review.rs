//! The cockpit's review of a worktree task: the diff overlay's keys, and
//! the review reports the core answers with.
//!
//! Asks for git work only through [`Intent::Review`] (the core refuses or
//! has the runtime run it off the UI thread) and shows what comes back;
//! never runs git and never decides a refusal itself. The overlay opens at
//! once and fills in when the changes arrive.

use super::*;
use crate::core::review::{ReviewOp, ReviewOutcome, ReviewReport, merge_words};
use crate::worktree::MergeStrategy;

impl App {
    /// `d`: opens the review of `task` at once; its changes follow.
    pub(super) fn open_review(&mut self, task: TaskId) -> Vec<Intent> {
        self.overlay = Overlay::Diff(Box::new(DiffReview {
            task,
            changes: None,
            scroll: 0,
            confirm_discard: None,
            message: None,
            in_flight: 1,
        }));
        vec![Intent::Review(task, ReviewOp::Refresh)]
    }

    /// An action while the review is open (or asks to discard); `None`
    /// when the action is not the review's.
    pub(super) fn act_review(&mut self, action: &Action) -> Option<Vec<Intent>> {
        let page = self.size.height.saturating_sub(4).max(1) as usize;
        let Overlay::Diff(review) = &mut self.overlay else {
            return None;
        };
        let task = review.task;
        if let Some(work) = review.confirm_discard.take() {
            if *action != Action::Confirm {
                review.message = Some("nothing was discarded".into());
                return Some(vec![]);
            }
            review.message = Some("discarding…".into());
            review.in_flight += 1;
            return Some(vec![Intent::Review(
                task,
                ReviewOp::Discard { confirmed: work },
            )]);
        }
        let (op, doing) = match action {
            Action::ScrollDown(n) => {
                review.scroll += *n as usize;
                return Some(vec![]);
            }
            Action::ScrollUp(n) => {
                review.scroll = review.scroll.saturating_sub(*n as usize);
                return Some(vec![]);
            }
            Action::PageDown => {
                review.scroll += page;
                return Some(vec![]);
            }
            Action::PageUp => {
                review.scroll = review.scroll.saturating_sub(page);
                return Some(vec![]);
            }
            Action::Home => {
                review.scroll = 0;
                return Some(vec![]);
            }
            Action::End => {
                review.scroll = usize::MAX / 2;
                return Some(vec![]);
            }
            Action::ReviewShell => return Some(vec![Intent::Shell(task)]),
            Action::ReviewCommit => (ReviewOp::Commit { message: None }, "committing…"),
            Action::ReviewMerge => (
                ReviewOp::Merge {
                    strategy: MergeStrategy::FastForwardOrMerge,
                    message: None,
                },
                "merging…",
            ),
            Action::ReviewDiscard => (ReviewOp::ListUnmerged, "looking for unmerged work…"),
            _ => return None,
        };
        review.message = Some(doing.into());
        review.in_flight += 1;
        Some(vec![Intent::Review(task, op)])
    }

    /// The worktree of `task` changed (the agent or a shell wrote to it):
    /// an open review reads its changes again, unless it is already
    /// waiting for git or for the discard answer.
    pub fn review_changed(&mut self, task: TaskId) -> Vec<Intent> {
        match &mut self.overlay {
            Overlay::Diff(r)
                if r.task == task && r.in_flight == 0 && r.confirm_discard.is_none() =>
            {
                r.in_flight += 1;
                vec![Intent::Review(task, ReviewOp::Refresh)]
            }
            _ => vec![],
        }
    }

    /// Shows what a review op did (or why it was refused); after a commit
    /// or a merge the open review reads the changes again.
    pub fn review_report(&mut self, report: &ReviewReport) -> Vec<Intent> {
        let task = report.task;
        let open = match &mut self.overlay {
            Overlay::Diff(r) if r.task == task => {
                r.in_flight = r.in_flight.saturating_sub(1);
                Some(r)
            }
            _ => None,
        };
        let said = match &report.result {
            Err(e) => format!("✗ {e}"),
            Ok(ReviewOutcome::Changes(changes)) => {
                if let Some(r) = open {
                    r.changes = Some((**changes).clone());
                }
                return vec![];
            }
            Ok(ReviewOutcome::Unmerged(work)) => {
                if let Some(r) = open {
                    r.message = None;
                    r.confirm_discard = Some(work.clone());
                }
                return vec![];
            }
            Ok(ReviewOutcome::Discarded { lost }) => {
                if open.is_some() {
                    self.overlay = Overlay::None;
                }
                self.notice = Some(format!(
                    "#{task}: removed its worktree and branch ({lost}); a follow-up starts in a fresh worktree"
                ));
                return vec![];
            }
            Ok(ReviewOutcome::Committed { sha: Some(sha) }) => {
                format!("committed {}", sha.chars().take(7).collect::<String>())
            }
            Ok(ReviewOutcome::Committed { sha: None }) => "nothing to commit".into(),
            Ok(ReviewOutcome::Merged { outcome, .. }) => {
                let mut said = format!("merged ({})", merge_words(&outcome.kind));
                if !outcome.left_uncommitted.is_empty() {
                    said.push_str(&format!(
                        "; {} uncommitted change(s) appeared meanwhile and were not merged",
                        outcome.left_uncommitted.len()
                    ));
                }
                said
            }
        };
        match open {
            // Refused before anything was shown: there is nothing to review.
            Some(r) if r.changes.is_none() && report.op == ReviewOp::Refresh => {
                self.overlay = Overlay::None;
                self.notice = Some(said);
                vec![]
            }
            Some(r) => {
                r.message = Some(said);
                let wrote = report.result.is_ok() && report.op.writes();
                if wrote && r.in_flight == 0 {
                    r.in_flight += 1;
                    return vec![Intent::Review(task, ReviewOp::Refresh)];
                }
                vec![]
            }
            None if report.op == ReviewOp::Refresh => vec![],
            None => {
                self.notice = Some(format!("#{task}: {said}"));
                vec![]
            }
        }
    }
}
