//! Colours and emphasis for every screen region, in one place.
//!
//! With `NO_COLOR` set no colour is ever used: only bold, dim and reverse,
//! which are emphasis rather than colour. Never reads the environment itself;
//! the front end decides and passes the flag in.

use ratatui::style::{Color, Modifier, Style};

use crate::core::task::{Task, TaskStatus};
use crate::describe::Tone;

/// The palette of one corral session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    /// False when `NO_COLOR` is set (or colour is otherwise unwanted).
    pub color: bool,
}

impl Theme {
    /// The theme honouring the `NO_COLOR` convention: any non-empty value
    /// turns colour off.
    pub fn from_no_color(no_color: Option<&str>) -> Theme {
        Theme {
            color: no_color.is_none_or(str::is_empty),
        }
    }

    fn fg(self, c: Color) -> Style {
        if self.color {
            Style::new().fg(c)
        } else {
            Style::new()
        }
    }

    /// Plain text.
    pub fn text(self) -> Style {
        Style::new()
    }

    /// Secondary text: thinking, folded results, hints.
    pub fn dim(self) -> Style {
        self.fg(Color::DarkGray).add_modifier(Modifier::DIM)
    }

    /// Errors and failures.
    pub fn error(self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    /// Retries, rate limits, questions.
    pub fn warn(self) -> Style {
        self.fg(Color::Yellow)
    }

    /// Good news.
    pub fn ok(self) -> Style {
        self.fg(Color::Green)
    }

    /// Tool names.
    pub fn tool(self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    /// Headings, titles and key names.
    pub fn title(self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    /// Key names in hints.
    pub fn key(self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    /// The look of a described piece of text (see `crate::describe`).
    pub fn tone(self, tone: Tone) -> Style {
        match tone {
            Tone::Text => self.text(),
            Tone::Title => self.title(),
            Tone::Key => self.key(),
            Tone::Dim => self.dim(),
            Tone::Thinking => self.dim().add_modifier(Modifier::ITALIC),
            Tone::Tool => self.tool(),
            Tone::Ok => self.ok(),
            Tone::Success => self.ok().add_modifier(Modifier::BOLD),
            Tone::Warn => self.warn(),
            Tone::Question => self.warn().add_modifier(Modifier::BOLD),
            Tone::Error => self.error(),
        }
    }

    /// The selected row or tile.
    pub fn selected(self) -> Style {
        if self.color {
            Style::new()
                .bg(Color::Indexed(236))
                .add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::REVERSED)
        }
    }

    /// A search match.
    pub fn search_match(self) -> Style {
        if self.color {
            Style::new().bg(Color::Yellow).fg(Color::Black)
        } else {
            Style::new().add_modifier(Modifier::REVERSED | Modifier::UNDERLINED)
        }
    }

    /// Lines a change adds (a diff's `+`). Without colour: bold.
    pub fn diff_added(self) -> Style {
        if self.color {
            Style::new().fg(Color::Green)
        } else {
            Style::new().add_modifier(Modifier::BOLD)
        }
    }

    /// Lines a change removes (a diff's `-`). Without colour: dim.
    pub fn diff_removed(self) -> Style {
        if self.color {
            Style::new().fg(Color::Red)
        } else {
            Style::new().add_modifier(Modifier::DIM)
        }
    }

    /// Borders of panes and overlays.
    pub fn border(self) -> Style {
        self.fg(Color::DarkGray)
    }

    /// The glyph and word of a status.
    pub fn status(self, status: TaskStatus) -> Style {
        match status {
            TaskStatus::Queued => self.dim(),
            TaskStatus::Running => self.fg(Color::Cyan),
            // Blocked tasks wait for the user: they must stand out.
            TaskStatus::Blocked => self
                .fg(Color::Yellow)
                .add_modifier(Modifier::BOLD | Modifier::REVERSED),
            TaskStatus::Succeeded => self.fg(Color::Green),
            TaskStatus::Failed => self.fg(Color::Red),
            TaskStatus::Killed => self.fg(Color::Magenta),
            TaskStatus::TimedOut => self.fg(Color::Red),
            TaskStatus::Interrupted => self.fg(Color::Yellow),
        }
    }
}

/// Milliseconds per spinner frame (the loop wakes for the next one only
/// while a running task's spinner is on screen).
pub const SPINNER_MS: u64 = 200;

/// The glyph of task `t` at `now_ms`: a running task spins, one frame
/// every [`SPINNER_MS`], only while its agent said something within
/// [`crate::core::task::BUSY_WINDOW_MS`]; a quiet one (a command agent
/// waiting for input, a model thinking silently) shows [`QUIET`] and
/// wakes nothing, its elapsed time shows it lives. Other statuses have
/// their fixed glyph.
pub fn task_glyph(t: &Task, now_ms: u64) -> &'static str {
    match t.status {
        TaskStatus::Running if !t.is_busy(now_ms) => QUIET,
        status => status_glyph(status, now_ms / SPINNER_MS),
    }
}

/// The glyph of a running task whose agent has been quiet for a while.
pub const QUIET: &str = "◦";

/// When [`task_glyph`] of `t` next changes by the clock alone after
/// `now_ms`: its next spinner frame while busy (the last of which falls at
/// the end of the busy window, when it turns quiet); `None` once quiet.
pub fn next_spin_ms(t: &Task, now_ms: u64) -> Option<u64> {
    (t.status == TaskStatus::Running && t.is_busy(now_ms))
        .then(|| (now_ms / SPINNER_MS + 1) * SPINNER_MS)
}

/// Spinner frames for running tasks.
const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/// The glyph of a status; running tasks spin with `tick`.
pub fn status_glyph(status: TaskStatus, tick: u64) -> &'static str {
    match status {
        TaskStatus::Queued => "·",
        TaskStatus::Running => SPINNER[(tick % SPINNER.len() as u64) as usize],
        TaskStatus::Blocked => "?",
        TaskStatus::Succeeded => "✓",
        TaskStatus::Failed => "✗",
        TaskStatus::Killed => "☠",
        TaskStatus::TimedOut => "⏱",
        TaskStatus::Interrupted => "⏸",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_removes_every_colour() {
        let t = Theme::from_no_color(Some("1"));
        for s in [
            t.dim(),
            t.error(),
            t.warn(),
            t.ok(),
            t.tool(),
            t.selected(),
            t.search_match(),
            t.status(TaskStatus::Blocked),
        ] {
            assert_eq!(s.fg, None);
            assert_eq!(s.bg, None);
        }
        assert!(Theme::from_no_color(Some("")).color);
        assert!(Theme::from_no_color(None).color);
    }

    #[test]
    fn spinner_turns_only_while_running() {
        assert_ne!(
            status_glyph(TaskStatus::Running, 0),
            status_glyph(TaskStatus::Running, 1)
        );
        assert_eq!(
            status_glyph(TaskStatus::Succeeded, 0),
            status_glyph(TaskStatus::Succeeded, 1)
        );
    }
}
