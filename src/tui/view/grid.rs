//! The grid: a tile per running agent with its live tail, sized to the
//! terminal. The selected tile is highlighted; Enter opens it.
//!
//! Pure: draws from cached lines, never changes state.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Widget};

use crate::core::State;
use crate::present::{safe_text, truncate};
use crate::tui::app::App;
use crate::tui::layout::tiles;
use crate::tui::lines::tail_lines;
use crate::tui::theme::task_glyph;

/// Draws every tile that fits in `area`.
pub fn render(app: &App, state: &State, area: Rect, buf: &mut Buffer) {
    let th = app.theme;
    let ids = App::grid_tasks(state);
    if ids.is_empty() {
        let msg = "no agent is running: n starts one, g or Esc goes back";
        Line::styled(format!("  {msg}"), th.dim()).render(
            Rect {
                y: area.y + 1,
                height: 1,
                ..area
            },
            buf,
        );
        return;
    }
    let (_, rects) = tiles(area, ids.len());
    for (i, (id, rect)) in ids.iter().zip(rects.iter()).enumerate() {
        let Some(t) = state.task(*id) else { continue };
        let selected = i == app.grid_selected;
        let title = format!(
            " {} #{} {} ",
            task_glyph(t, app.now_ms),
            t.id,
            truncate(
                &safe_text(&t.title()),
                rect.width.saturating_sub(10) as usize
            )
        );
        let block = Block::default()
            .borders(Borders::ALL)
            .border_type(if selected {
                BorderType::Thick
            } else {
                BorderType::Plain
            })
            .border_style(if selected { th.title() } else { th.border() })
            .title(Line::from(vec![Span::styled(
                title,
                th.status(t.status).patch(th.title()),
            )]));
        let inner = block.inner(*rect);
        block.render(*rect, buf);
        let expansion = app.pane(t.id).expansion;
        let lines = tail_lines(
            &t.transcript,
            &expansion,
            inner.width,
            inner.height as usize,
            th,
        );
        for (row, line) in lines.into_iter().enumerate() {
            line.render(
                Rect {
                    y: inner.y + row as u16,
                    height: 1,
                    ..inner
                },
                buf,
            );
        }
    }
    if rects.len() < ids.len() {
        let more = format!(
            " +{} more: make the terminal larger ",
            ids.len() - rects.len()
        );
        let w = more.chars().count() as u16;
        let r = Rect {
            x: area.right().saturating_sub(w + 1),
            y: area.bottom().saturating_sub(1),
            width: w.min(area.width),
            height: 1,
        };
        Line::styled(more, th.warn()).render(r, buf);
    }
}
