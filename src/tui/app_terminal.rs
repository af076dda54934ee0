//! A `command` task's terminal in the cockpit: keys typed into it while it
//! has the focus, the size it is drawn at, and the raw view's emulated
//! terminal (see [`super::raw_view`]).
//!
//! Part of [`App`]: keys become [`Intent::Input`] bytes for the loop; never
//! writes to the program itself.

use super::*;

impl App {
    /// A key for the focused program's terminal; `None` for the other
    /// actions (Ctrl-] gives the keys back in `act_main`).
    pub(super) fn act_terminal(&mut self, action: &Action, state: &State) -> Option<Vec<Intent>> {
        let Action::TerminalKey(key) = action else {
            return None;
        };
        let key = *key;
        let alive = self
            .terminal_focus
            .and_then(|id| state.task(id))
            .filter(|t| t.process_alive);
        match alive {
            Some(t) => {
                let bytes = key_bytes(key);
                if !bytes.is_empty() {
                    return Some(vec![Intent::Input(t.id, bytes)]);
                }
            }
            None => self.terminal_focus = None,
        }
        Some(vec![])
    }

    /// Rows and columns of the pane body, where a focused program's
    /// terminal is shown.
    pub(super) fn terminal_size(&self, state: &State) -> (u16, u16) {
        let body = pane_body(regions(self.size, self.list_rows(state)).pane);
        (body.height.max(1), body.width.max(1))
    }

    /// Records raw terminal output of a task for the raw view.
    pub fn raw_output(&mut self, task: TaskId, bytes: &[u8]) {
        self.raw_view.output(task, bytes);
    }

    /// The emulated terminal of the selected task, when the raw view is on.
    pub fn raw_screen(&self) -> Option<&vt100::Screen> {
        self.raw_view.screen(self.selected)
    }

    /// Whether any raw output of `task` has arrived.
    pub fn has_raw(&self, task: TaskId) -> bool {
        self.raw_view.has(task)
    }

    /// Emulates the selected task's terminal while the raw view is on.
    pub(super) fn rebuild_raw(&mut self) {
        let shown = if self.raw { self.selected } else { None };
        self.raw_view.show(shown);
    }
}
