//! Drawing the cockpit: one module per screen region, composed here.
//!
//! Every view is a pure function of the UI state ([`App`]) and the core
//! [`State`] into a buffer: no IO, no state changes (beyond the line cache
//! the app keeps behind a `RefCell`).

pub mod answer;
pub mod confirm;
pub mod diff;
pub mod form;
pub mod grid;
pub mod help;
pub mod pane;
pub mod plan;
pub mod status_bar;
pub mod task_list;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use super::app::{App, Overlay};
use super::layout::regions;
use crate::core::State;

/// Draws the whole screen into `buf`.
///
/// Cached lines of tasks that are not on screen are freed afterwards.
pub fn draw(app: &App, state: &State, area: Rect, buf: &mut Buffer) {
    let mark = app.cache_mark();
    draw_regions(app, state, area, buf);
    app.evict_unused(mark);
}

fn draw_regions(app: &App, state: &State, area: Rect, buf: &mut Buffer) {
    let r = regions(area, app.list_rows(state));
    if app.grid {
        let body = Rect {
            height: area.height.saturating_sub(1),
            ..area
        };
        grid::render(app, state, body, buf);
    } else {
        task_list::render(app, state, r.list, buf);
        if let Some(sep) = r.separator {
            for y in sep.top()..sep.bottom() {
                buf[(sep.x, y)]
                    .set_symbol("│")
                    .set_style(app.theme.border());
            }
        }
        pane::render(app, state, r.pane, buf);
    }
    status_bar::render(app, state, r.status, buf);
    match &app.overlay {
        Overlay::Help => help::render(app, area, buf),
        Overlay::ConfirmKill(id) => confirm::render_kill(app, state, *id, area, buf),
        Overlay::ConfirmQuit => confirm::render_quit(app, state, area, buf),
        Overlay::ConfirmDelete(id) => confirm::render_delete(app, state, *id, area, buf),
        Overlay::Diff(review) => render_review(app, review, area, buf),
        Overlay::Form(f) => form::render(app, f, area, buf),
        Overlay::None | Overlay::Search(_) => {}
    }
}

/// The review of a worktree task: the diff over the screen, and a line
/// with the keys, the last action's outcome or the discard question.
fn render_review(app: &App, review: &crate::tui::app::DiffReview, area: Rect, buf: &mut Buffer) {
    use ratatui::text::{Line, Span};
    use ratatui::widgets::Widget;
    let th = app.theme;
    let body = Rect {
        height: area.height.saturating_sub(1),
        ..area
    };
    match &review.changes {
        Some(changes) => diff::render(changes, review.scroll, th, body, buf),
        None => diff::render_reading(th, body, buf),
    }
    let bar = Rect {
        y: area.bottom().saturating_sub(1),
        height: 1,
        ..area
    };
    ratatui::widgets::Clear.render(bar, buf);
    let line = match (&review.confirm_discard, &review.message) {
        (Some(work), _) => Line::styled(
            crate::present::safe_text(&format!(
                "discard #{}? it loses {work} · y yes, any other key no",
                review.task
            )),
            th.error(),
        ),
        (None, message) => {
            let mut spans = Vec::new();
            if let Some(m) = message {
                spans.push(Span::styled(
                    format!("{} · ", crate::present::safe_text(m)),
                    th.warn(),
                ));
            }
            for (k, what) in [
                ("c", "commit"),
                ("M", "merge"),
                ("s", "shell"),
                ("D", "discard"),
                ("j k PgUp PgDn", "scroll"),
                ("Esc", "close"),
            ] {
                spans.push(Span::styled(k, th.key()));
                spans.push(Span::styled(format!(" {what}  "), th.dim()));
            }
            Line::from(spans)
        }
    };
    line.render(bar, buf);
}

/// A rectangle of at most `w` x `h` centred in `area`.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}
