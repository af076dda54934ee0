//! The cockpit's moves within what it shows: selecting, scrolling and
//! clicking in the task list and pane, and the bytes a key becomes for a
//! command task's terminal.
//!
//! Part of [`App`]: changes only UI state, never does IO, never draws.

use ratatui::layout::Position;

use super::*;

impl App {
    /// Selects a task (and shows its raw output when the raw view is on).
    pub fn select(&mut self, id: TaskId) {
        if self.selected != Some(id) {
            self.selected = Some(id);
            self.search = None;
            self.rebuild_raw();
        }
    }

    pub(super) fn select_step(&mut self, state: &State, step: isize) {
        let order = Self::list_order(state);
        let n = order.len();
        if n == 0 {
            return;
        }
        let i = self.selected_index(state).unwrap_or(0) as isize;
        let j = (i + step).clamp(0, n as isize - 1) as usize;
        self.select(state.tasks[order[j]].id);
    }

    pub(super) fn move_tile(&mut self, state: &State, forward: bool, sideways: bool) {
        let n = Self::grid_tasks(state).len();
        if n == 0 {
            return;
        }
        let (cols, _) = tiles(self.size, n);
        let step = if sideways { 1 } else { cols };
        self.grid_selected = if forward {
            (self.grid_selected + step).min(n - 1)
        } else {
            self.grid_selected.saturating_sub(step)
        };
    }

    pub(super) fn scroll(&mut self, state: &State, delta: isize) {
        let Some(id) = self.selected else { return };
        let height = self.pane_geometry(state).height as usize;
        let total = self.pane_total(state, id);
        let top = self.pane_top(id, total, height) as isize;
        let bottom = total.saturating_sub(height) as isize;
        let new = (top + delta).clamp(0, bottom);
        let p = self.pane_mut(id);
        p.top = new as usize;
        // Reaching the bottom resumes following the stream.
        p.follow = new >= bottom;
    }

    pub(super) fn click(&mut self, state: &State, column: u16, row: u16) {
        let at = Position::new(column, row);
        if self.grid {
            let ids = Self::grid_tasks(state);
            let body = Rect {
                height: self.size.height.saturating_sub(1),
                ..self.size
            };
            let (_, rects) = tiles(body, ids.len());
            if let Some(i) = rects.iter().position(|r| r.contains(at)) {
                self.grid_selected = i;
                self.select(ids[i]);
                self.grid = false;
            }
            return;
        }
        let r = regions(self.size, self.list_rows(state));
        if r.list.contains(at) && row > r.list.y {
            let offset = list_offset(r.list, self.selected_index(state).unwrap_or(0));
            let i = offset + (row - r.list.y - 1) as usize;
            if let Some(&t) = Self::list_order(state).get(i) {
                self.select(state.tasks[t].id);
            }
            return;
        }
        // Clicks on the answer box below the transcript fold nothing.
        let body = self.pane_geometry(state);
        if body.contains(at) {
            let Some(id) = self.selected else { return };
            let total = self.pane_total(state, id);
            let top = self.pane_top(id, total, body.height as usize);
            let i = top + (row - body.y) as usize;
            let hit = self
                .with_lines(state, id, body.width, |l| {
                    l.get(i).filter(|p| p.foldable).map(|p| p.entry)
                })
                .flatten();
            if let Some(entry) = hit {
                // Keep the clicked line where it is while it unfolds.
                let p = self.pane_mut(id);
                if p.follow {
                    p.top = top;
                }
                p.follow = false;
                p.expansion.toggle(entry);
            }
        }
    }
}

/// The bytes a terminal program expects for `key` (xterm conventions).
pub fn key_bytes(key: crossterm::event::KeyEvent) -> Vec<u8> {
    use crossterm::event::{KeyCode, KeyModifiers};
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let alt = key.modifiers.contains(KeyModifiers::ALT);
    let mut out = Vec::new();
    if alt {
        out.push(0x1b);
    }
    match key.code {
        KeyCode::Char(c) if ctrl && c.is_ascii_alphabetic() => {
            out.push((c.to_ascii_lowercase() as u8) & 0x1f);
        }
        KeyCode::Char(c) => {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
        KeyCode::Enter => out.push(b'\r'),
        KeyCode::Tab => out.push(b'\t'),
        KeyCode::BackTab => out.extend_from_slice(b"\x1b[Z"),
        KeyCode::Backspace => out.push(0x7f),
        KeyCode::Esc => out.push(0x1b),
        KeyCode::Up => out.extend_from_slice(b"\x1b[A"),
        KeyCode::Down => out.extend_from_slice(b"\x1b[B"),
        KeyCode::Right => out.extend_from_slice(b"\x1b[C"),
        KeyCode::Left => out.extend_from_slice(b"\x1b[D"),
        KeyCode::Home => out.extend_from_slice(b"\x1b[H"),
        KeyCode::End => out.extend_from_slice(b"\x1b[F"),
        KeyCode::PageUp => out.extend_from_slice(b"\x1b[5~"),
        KeyCode::PageDown => out.extend_from_slice(b"\x1b[6~"),
        KeyCode::Delete => out.extend_from_slice(b"\x1b[3~"),
        _ => return Vec::new(),
    }
    out
}

#[cfg(test)]
mod key_bytes_tests {
    use super::key_bytes;
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    #[test]
    fn keys_become_what_a_terminal_program_reads() {
        let k = |code, mods| key_bytes(KeyEvent::new(code, mods));
        assert_eq!(k(KeyCode::Char('a'), KeyModifiers::NONE), b"a");
        assert_eq!(k(KeyCode::Char('é'), KeyModifiers::NONE), "é".as_bytes());
        assert_eq!(k(KeyCode::Char('c'), KeyModifiers::CONTROL), [3]);
        assert_eq!(k(KeyCode::Enter, KeyModifiers::NONE), b"\r");
        assert_eq!(k(KeyCode::Up, KeyModifiers::NONE), b"\x1b[A");
        assert_eq!(k(KeyCode::Char('b'), KeyModifiers::ALT), b"\x1bb");
        assert!(k(KeyCode::F(5), KeyModifiers::NONE).is_empty());
    }
}
