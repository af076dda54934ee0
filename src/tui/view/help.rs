//! The help overlay: every key, from the keymap's own table.
//!
//! Pure: draws, never changes state.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget};

use super::centered;
use crate::tui::app::App;
use crate::tui::keymap::HELP;

/// Draws the help box centred over `area`.
pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let th = app.theme;
    let mut lines = Vec::new();
    let mut group = "";
    for (g, keys, what) in HELP {
        // The group name only on its first row, so the table stays compact.
        let shown = if *g == group { "" } else { g };
        group = g;
        lines.push(Line::from(vec![
            Span::styled(format!("{shown:<5}"), th.dim()),
            Span::styled(format!("{keys:<11}"), th.key()),
            Span::raw(what.to_string()),
        ]));
    }
    let rect = centered(area, 72, lines.len() as u16 + 2);
    Clear.render(rect, buf);
    Paragraph::new(lines)
        .block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(th.border())
                .title(Span::styled(" keys · Esc closes ", th.title())),
        )
        .render(rect, buf);
}
