//! The status bar: counts per status (over every attached host), total
//! tokens and cost, hosts that are down, key hints, the search prompt and
//! short notices.
//!
//! Pure: draws, never changes state.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use crate::core::State;
use crate::core::event::Usage;
use crate::core::task::TaskStatus;
use crate::present::{cost, tokens};
use crate::tui::app::{App, Overlay};
use crate::tui::keymap::Mode;
use crate::tui::theme::status_glyph;

/// From this width on, the bar counts tasks in words; narrower, with the
/// status glyphs (a running one spins).
pub const WORDS_WIDTH: u16 = 120;

const ORDER: [TaskStatus; 7] = [
    TaskStatus::Blocked,
    TaskStatus::Running,
    TaskStatus::Queued,
    TaskStatus::Succeeded,
    TaskStatus::Failed,
    TaskStatus::Killed,
    TaskStatus::TimedOut,
];

/// Draws the bottom line.
pub fn render(app: &App, state: &State, area: Rect, buf: &mut Buffer) {
    if area.height == 0 {
        return;
    }
    let th = app.theme;
    if let Overlay::Search(q) = &app.overlay {
        Line::from(vec![
            Span::styled("/", th.key()),
            Span::raw(q.clone()),
            Span::styled("▏", th.key()),
            Span::styled("  Enter search · Esc cancel", th.dim()),
        ])
        .render(area, buf);
        return;
    }
    let mut left: Vec<Span> = Vec::new();
    let waiting = state
        .tasks
        .iter()
        .filter(|t| t.status == TaskStatus::Blocked)
        .count();
    if waiting > 0 {
        left.push(Span::styled(
            format!("{waiting} waiting for you (b) "),
            th.status(TaskStatus::Blocked),
        ));
    }
    // Words on wide terminals, glyphs on narrow ones.
    let words = area.width >= WORDS_WIDTH;
    let tick = status_bar_tick(state, app.now_ms);
    // Blocked tasks are counted in words above.
    for s in ORDER.into_iter().filter(|s| *s != TaskStatus::Blocked) {
        let n = state.tasks.iter().filter(|t| t.status == s).count();
        if n > 0 {
            if !left.is_empty() {
                left.push(Span::raw(" "));
            }
            let text = if words {
                format!("{n} {}", s.name())
            } else {
                format!("{}{n}", status_glyph(s, tick))
            };
            left.push(Span::styled(text, th.status(s)));
        }
    }
    let mut total = Usage::default();
    for t in &state.tasks {
        total.add(&t.usage);
    }
    if total.total_tokens() > 0 {
        left.push(Span::styled(
            format!(" · {} tok", tokens(total.total_tokens())),
            th.text(),
        ));
    }
    if let Some(c) = total.cost_usd {
        left.push(Span::styled(format!(" {}", cost(c)), th.text()));
    }
    let down = App::host_rows(state)
        .iter()
        .filter(|h| matches!(h.status, crate::core::LinkStatus::Down { .. }))
        .count();
    if down > 0 {
        let hosts = if down == 1 { "host" } else { "hosts" };
        left.push(Span::styled(format!(" · {down} {hosts} down"), th.error()));
    }
    if let Some(n) = &app.notice {
        left.push(Span::styled(format!(" · {n}"), th.warn()));
    }
    let hints: &[(&str, &str)] = match app.mode() {
        Mode::Grid => &[
            ("Enter", "open"),
            ("hjkl", "move"),
            ("g", "list"),
            ("?", "help"),
        ],
        // The answer box shows its own keys; these are the others.
        Mode::Approve | Mode::Choose => &[
            ("m", "reply in words"),
            ("b", "next waiting"),
            ("x", "kill"),
            ("?", "help"),
        ],
        Mode::Typing if app.detach => &[("PgUp/PgDn", "scroll"), ("Ctrl-C", "detach")],
        Mode::Typing => &[("PgUp/PgDn", "scroll"), ("Ctrl-C", "quit")],
        Mode::Found => &[
            ("n/N", "next/prev"),
            ("Esc", "end search"),
            ("a", "new"),
            ("?", "help"),
        ],
        // Most important first: the end is dropped when space runs out.
        _ if app.detach => &[
            ("?", "help"),
            ("q", "detach"),
            ("Q", "stop all"),
            ("n", "new"),
            ("m", "message"),
            ("x", "kill"),
            ("g", "grid"),
            ("/", "search"),
            ("r", "raw"),
        ],
        _ => &[
            ("?", "help"),
            ("q", "quit"),
            ("n", "new"),
            ("m", "message"),
            ("x", "kill"),
            ("g", "grid"),
            ("/", "search"),
            ("r", "raw"),
        ],
    };
    let mut right: Vec<Span> = Vec::new();
    for (k, what) in hints {
        right.push(Span::styled(format!(" {k}"), th.key()));
        right.push(Span::styled(format!(" {what}"), th.dim()));
    }
    let lw: usize = left.iter().map(|s| s.width()).sum();
    // Drop hints from the end until they fit beside the counts.
    while !right.is_empty()
        && lw + right.iter().map(|s| s.width()).sum::<usize>() + 1 > area.width as usize
    {
        right.truncate(right.len() - 2);
    }
    let rw: usize = right.iter().map(|s| s.width()).sum();
    let gap = (area.width as usize).saturating_sub(lw + rw);
    let mut spans = left;
    spans.push(Span::raw(" ".repeat(gap)));
    spans.extend(right);
    Line::from(spans).render(area, buf);
}

/// The spinner frame of the narrow status bar's running count: it turns
/// while some running agent is busy and stands still while all are quiet.
pub fn status_bar_tick(state: &State, now_ms: u64) -> u64 {
    if state.tasks.iter().any(|t| t.is_busy(now_ms)) {
        now_ms / crate::tui::theme::SPINNER_MS
    } else {
        0
    }
}
