//! Searching the selected task's transcript: the prompt's keys, and moving
//! to the next or previous matching line (wrapping), which scrolls the pane
//! there.
//!
//! Part of [`App`]: matches the plain text of the lines the pane shows,
//! ignoring case; changes only UI state.

use super::*;

/// A confirmed search.
#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    pub query: String,
    /// The line of the current match.
    pub current: Option<usize>,
}

impl App {
    /// Typing a search: characters, backspace, Enter keeps it.
    pub(super) fn act_search(&mut self, action: &Action, state: &State) -> Option<Vec<Intent>> {
        let Overlay::Search(q) = &mut self.overlay else {
            return None;
        };
        match action {
            Action::SearchChar(c) => q.push(*c),
            Action::SearchBackspace => {
                q.pop();
            }
            Action::SearchSubmit => {
                let query = std::mem::take(q);
                self.overlay = Overlay::None;
                if query.is_empty() {
                    self.search = None;
                } else {
                    self.search = Some(Search {
                        query,
                        current: None,
                    });
                    self.find(state, false);
                }
            }
            _ => return None,
        }
        Some(vec![])
    }

    /// Moves to the next (or previous) line matching the search, wrapping.
    pub(super) fn find(&mut self, state: &State, forward: bool) {
        let (Some(id), Some(search)) = (self.selected, self.search.clone()) else {
            return;
        };
        let body = self.pane_geometry(state);
        let height = body.height as usize;
        let total = self.pane_total(state, id);
        let top = self.pane_top(id, total, height);
        let query = search.query.to_ascii_lowercase();
        let found = self
            .with_lines(state, id, body.width, |lines| {
                let matches = |i: usize| {
                    lines
                        .get(i)
                        .is_some_and(|l| plain(&l.line).to_ascii_lowercase().contains(&query))
                };
                // First search: the last match on or above the screen's end.
                let from = search.current.unwrap_or(if forward {
                    top
                } else {
                    (top + height).min(total)
                });
                let order: Box<dyn Iterator<Item = usize>> = if forward {
                    Box::new((from + 1..total).chain(0..=from.min(total.saturating_sub(1))))
                } else {
                    Box::new((0..from).rev().chain((from..total).rev()))
                };
                order.take(total).find(|&i| matches(i))
            })
            .flatten();
        match found {
            Some(line) => {
                self.notice = None;
                if let Some(s) = &mut self.search {
                    s.current = Some(line);
                }
                let bottom = total.saturating_sub(height);
                let p = self.pane_mut(id);
                p.top = line.saturating_sub(height / 3).min(bottom);
                p.follow = false;
            }
            None => self.notice = Some(format!("no match for “{}”", search.query)),
        }
    }
}
