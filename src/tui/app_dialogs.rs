//! The cockpit's small modes: the help (scrolling), the new-task form and
//! the y/n confirmations (kill, quit, delete).
//!
//! Part of [`App`]: each handler takes the actions of its mode and returns
//! `None` for the ones every mode shares (quit, close), which
//! `App::act_main` carries out. Changes only UI state; never does IO.

use super::*;

impl App {
    /// The help scrolls on a small terminal.
    pub(super) fn act_help(&mut self, action: &Action) -> Option<Vec<Intent>> {
        let page = self.size.height.saturating_sub(3).max(1) as usize;
        let top = crate::tui::view::help::first_row(self.size, self.help_scroll);
        let to = match action {
            Action::ScrollDown(n) => top + *n as usize,
            Action::ScrollUp(n) => top.saturating_sub(*n as usize),
            Action::PageDown => top + page,
            Action::PageUp => top.saturating_sub(page),
            Action::Home => 0,
            _ => return None,
        };
        self.help_scroll = crate::tui::view::help::first_row(self.size, to);
        Some(vec![])
    }

    /// The new-task form: fields, keys, Ctrl-S starts the task.
    pub(super) fn act_form(&mut self, action: &Action) -> Option<Vec<Intent>> {
        let Overlay::Form(f) = &mut self.overlay else {
            return None;
        };
        match action {
            Action::FormSubmit => {
                if let Some(out) = f.submit() {
                    self.overlay = Overlay::None;
                    self.grid = false;
                    return Some(vec![Intent::Launch(out)]);
                }
            }
            Action::FormNext | Action::FormPrev => f.cycle(*action == Action::FormNext),
            Action::FormKey(k) => f.key(*k),
            _ => return None,
        }
        Some(vec![])
    }

    /// `y` to a kill, quit or delete question.
    pub(super) fn act_confirm(&mut self, action: &Action, state: &State) -> Option<Vec<Intent>> {
        if *action == Action::Quit && matches!(self.overlay, Overlay::ConfirmQuit) {
            // `q` in the quit dialog: detach, leaving the agents running
            // (with --local nothing outlives the cockpit: it only closes).
            self.overlay = Overlay::None;
            self.exit = self.detach;
            return Some(vec![]);
        }
        if *action != Action::Confirm {
            return None;
        }
        Some(match std::mem::replace(&mut self.overlay, Overlay::None) {
            Overlay::ConfirmKill(t) => vec![Intent::Kill(t)],
            Overlay::ConfirmDelete(t) => {
                self.selected = None;
                vec![Intent::Delete(t)]
            }
            Overlay::ConfirmQuit => self.stop_all(state),
            other => {
                self.overlay = other;
                vec![]
            }
        })
    }
}
