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

/// Widest a column of the table needs: group, keys, and the description.
const ROW_WIDTH: u16 = 7 + 11 + 62;

/// How the help table is laid out in `area`: columns, rows per column,
/// and whether it scrolls (one column that does not fit).
pub fn layout(area: Rect) -> (usize, usize, bool) {
    let rows = HELP.len();
    let room = area.height.saturating_sub(2).max(1) as usize;
    if rows <= room {
        (1, rows, false)
    } else if area.width >= 2 * ROW_WIDTH + 2 && rows.div_ceil(2) <= room {
        (2, rows.div_ceil(2), false)
    } else {
        (1, room, true)
    }
}

/// The first row a help scrolled to `scroll` shows in `area`.
pub fn first_row(area: Rect, scroll: usize) -> usize {
    let (_, per_column, scrolls) = layout(area);
    if scrolls {
        scroll.min(HELP.len().saturating_sub(per_column))
    } else {
        0
    }
}

/// Draws the help box centred over `area`: one column, two side by side
/// on a wide terminal, or one that scrolls (j / k) on a small one.
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
    let (columns, per_column, scrolls) = layout(area);
    let first = first_row(area, app.help_scroll);
    if scrolls {
        // The group of the first row shown, even mid-group.
        let group = HELP[first].0;
        rows[first].0 = group.to_string();
        rows = rows[first..(first + per_column).min(rows.len())].to_vec();
    }
    let width = (ROW_WIDTH + 2) * columns as u16;
    let rect = centered(area, width.min(area.width), per_column as u16 + 2);
    Clear.render(rect, buf);
    let title = if scrolls {
        format!(
            " keys {}-{} of {} · j k scroll · Esc closes ",
            first + 1,
            first + rows.len(),
            HELP.len()
        )
    } else {
        " keys · Esc closes ".to_string()
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(th.border())
        .title(Span::styled(title, th.title()));
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
