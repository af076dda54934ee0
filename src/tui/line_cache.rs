//! The rendered lines of task transcripts, cached per (task, width): a
//! transcript is turned into display lines once and then only extended as
//! it grows (see [`TaskLines::refresh`]).
//!
//! Bounded: at most [`WIDTHS_PER_TASK`] widths per task, and whatever no
//! view used during a frame is dropped after it, so only what is on screen
//! keeps a rendered copy. Never draws and never changes a transcript.

use std::cell::RefCell;
use std::collections::HashMap;

use super::lines::{Expansion, TaskLines};
use super::theme::Theme;
use crate::core::TaskId;
use crate::core::transcript::Transcript;

/// Widths cached per task (the pane and the grid tile).
const WIDTHS_PER_TASK: usize = 2;

/// Lines per (task, width), each with the use count it was last read at.
#[derive(Default)]
pub struct LineCache {
    entries: RefCell<HashMap<(TaskId, u16), (u64, TaskLines)>>,
    uses: RefCell<u64>,
}

impl LineCache {
    /// Calls `f` with the lines of `task`'s `transcript` at `width`, brought
    /// up to date (a third width pushes out the task's least used one).
    pub fn with<R>(
        &self,
        task: TaskId,
        width: u16,
        theme: Theme,
        transcript: &Transcript,
        expansion: &Expansion,
        f: impl FnOnce(&TaskLines) -> R,
    ) -> R {
        let mut cache = self.entries.borrow_mut();
        let mut uses = self.uses.borrow_mut();
        *uses += 1;
        if !cache.contains_key(&(task, width)) {
            let mut mine: Vec<(u16, u64)> = cache
                .iter()
                .filter(|((id, _), _)| *id == task)
                .map(|((_, w), (used, _))| (*w, *used))
                .collect();
            mine.sort_by_key(|(_, used)| *used);
            while mine.len() >= WIDTHS_PER_TASK {
                let (w, _) = mine.remove(0);
                cache.remove(&(task, w));
            }
        }
        let entry = cache
            .entry((task, width))
            .or_insert_with(|| (0, TaskLines::new(width, theme)));
        entry.0 = *uses;
        entry.1.refresh(transcript, expansion);
        f(&entry.1)
    }

    /// Marks the start of a frame for [`LineCache::evict_unused`].
    pub fn mark(&self) -> u64 {
        *self.uses.borrow()
    }

    /// Frees the lines no view used since `mark`.
    pub fn evict_unused(&self, mark: u64) {
        self.entries
            .borrow_mut()
            .retain(|_, (used, _)| *used > mark);
    }
}
