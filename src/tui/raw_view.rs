//! The raw view's memory: the last bytes each agent wrote to its terminal
//! (a bounded ring per task) and a VT emulator of the selected task's
//! terminal, fed as output arrives while the raw view is on.
//!
//! Never passes an agent's escape sequences to the real terminal: the view
//! draws the emulator's screen cell by cell. Never grows past
//! [`RAW_RING_BYTES`] per task.

use std::collections::{HashMap, VecDeque};

use crate::core::TaskId;

/// Raw output bytes kept per task for the raw view.
pub const RAW_RING_BYTES: usize = 64 * 1024;

/// Rings of raw output and the emulated terminal of one task.
pub struct RawView {
    rings: HashMap<TaskId, VecDeque<u8>>,
    term: Option<(TaskId, vt100::Parser)>,
    /// (rows, cols) of the agents' terminals, which the emulator copies.
    pub pty_size: (u16, u16),
}

impl RawView {
    /// Nothing kept yet; agents' terminals are `pty_size` (rows, cols).
    pub fn new(pty_size: (u16, u16)) -> RawView {
        RawView {
            rings: HashMap::new(),
            term: None,
            pty_size,
        }
    }

    /// Keeps `bytes` of `task` (dropping the oldest past the cap) and feeds
    /// the emulator when it shows `task`.
    pub fn output(&mut self, task: TaskId, bytes: &[u8]) {
        let ring = self.rings.entry(task).or_default();
        ring.extend(bytes);
        if ring.len() > RAW_RING_BYTES {
            let extra = ring.len() - RAW_RING_BYTES;
            ring.drain(..extra);
        }
        if let Some((id, parser)) = &mut self.term
            && *id == task
        {
            parser.process(bytes);
        }
    }

    /// The emulated terminal, when it shows `task`.
    pub fn screen(&self, task: Option<TaskId>) -> Option<&vt100::Screen> {
        match &self.term {
            Some((id, p)) if Some(*id) == task => Some(p.screen()),
            _ => None,
        }
    }

    /// Whether any raw output of `task` has arrived.
    pub fn has(&self, task: TaskId) -> bool {
        self.rings.get(&task).is_some_and(|r| !r.is_empty())
    }

    /// Emulates `task`'s terminal from what its ring holds (`None`: the
    /// raw view is off, no emulator).
    pub fn show(&mut self, task: Option<TaskId>) {
        self.term = None;
        let Some(id) = task else { return };
        let mut parser = vt100::Parser::new(self.pty_size.0.max(2), self.pty_size.1.max(10), 0);
        if let Some(ring) = self.rings.get(&id) {
            let (a, b) = ring.as_slices();
            parser.process(a);
            parser.process(b);
        }
        self.term = Some((id, parser));
    }
}
