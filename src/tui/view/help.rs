//! The help overlay: every key, from the keymap's own table.
//!
//! Pure: draws, never changes state.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget};

use super::centered;
use crate::present::truncate;
use crate::tui::app::App;
use crate::tui::keymap::HELP;

/// Draws the help box centred over `area`.
pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let th = app.theme;
    let mut rows: Vec<(String, &str, &str)> = Vec::new();
    let mut group = "";
    for (g, keys, what) in HELP {
        // The group name only on its first row, so the table stays compact.
        let shown = if *g == group { "" } else { g };
        group = g;
        rows.push((shown.to_string(), keys, what));
    }
    // One column when it fits, else two side by side.
    let room = area.height.saturating_sub(2) as usize;
    let columns = if rows.len() <= room { 1 } else { 2 };
    let per_column = rows.len().div_ceil(columns);
    let width = if columns == 1 {
        72.min(area.width)
    } else {
        area.width.min(160)
    };
    let rect = centered(area, width, per_column as u16 + 2);
    Clear.render(rect, buf);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(th.border())
        .title(Span::styled(" keys · Esc closes ", th.title()));
    let inner = block.inner(rect);
    block.render(rect, buf);
    let col_w = inner.width / columns as u16;
    for (c, chunk) in rows.chunks(per_column).enumerate() {
        let lines: Vec<Line> = chunk
            .iter()
            .map(|(g, keys, what)| {
                let what = truncate(what, (col_w as usize).saturating_sub(18));
                Line::from(vec![
                    Span::styled(format!("{g:<7}"), th.dim()),
                    Span::styled(format!("{keys:<11}"), th.key()),
                    Span::raw(what),
                ])
            })
            .collect();
        let col = Rect {
            x: inner.x + c as u16 * col_w,
            width: col_w,
            ..inner
        };
        Paragraph::new(lines).render(col, buf);
    }
}
