//! The `y` confirmations: killing a task, quitting while agents run (for
//! a client of the server: stopping them, or `q` to detach instead).
//!
//! Pure: draws, never changes state.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget, Wrap};

use super::centered;
use crate::core::{State, TaskId};
use crate::present::{safe_text, truncate};
use crate::tui::app::App;

fn dialog(app: &App, title: &str, body: Vec<Line<'static>>, area: Rect, buf: &mut Buffer) {
    let th = app.theme;
    let keys = Line::from(vec![
        Span::styled("y", th.key()),
        Span::raw(" yes   "),
        Span::styled("any other key", th.key()),
        Span::raw(" no"),
    ]);
    dialog_with(app, title, body, keys, area, buf);
}

fn dialog_with(
    app: &App,
    title: &str,
    body: Vec<Line<'static>>,
    keys: Line<'static>,
    area: Rect,
    buf: &mut Buffer,
) {
    let th = app.theme;
    let mut lines = body;
    lines.push(Line::raw(""));
    lines.push(keys);
    let rect = centered(area, 60, lines.len() as u16 + 2);
    Clear.render(rect, buf);
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(th.error())
                .title(Span::styled(format!(" {title} "), th.error())),
        )
        .render(rect, buf);
}

/// Asks before deleting `task` and its records.
pub fn render_delete(app: &App, state: &State, task: TaskId, area: Rect, buf: &mut Buffer) {
    let what = state
        .task(task)
        .map(|t| format!("#{} “{}”", t.id, truncate(&safe_text(&t.title()), 40)))
        .unwrap_or_else(|| format!("#{task}"));
    let body = vec![
        Line::raw(format!("Delete {what}?")),
        Line::styled(
            "Its transcript, events and raw output are removed from disk.",
            app.theme.dim(),
        ),
    ];
    dialog(app, "delete", body, area, buf);
}

/// Asks before killing `task`.
pub fn render_kill(app: &App, state: &State, task: TaskId, area: Rect, buf: &mut Buffer) {
    let what = state
        .task(task)
        .map(|t| {
            let on = match &t.host {
                Some(h) if App::show_hosts(state) => format!(" on {}", safe_text(h)),
                _ => String::new(),
            };
            format!(
                "#{}{on} {} “{}”",
                t.id,
                t.spec.agent.name(),
                truncate(&safe_text(&t.title()), 36)
            )
        })
        .unwrap_or_else(|| format!("#{task}"));
    let body = vec![
        Line::raw(format!("Kill {what}?")),
        Line::styled(
            "Its process group gets SIGINT, SIGTERM, then SIGKILL.",
            app.theme.dim(),
        ),
    ];
    dialog(app, "kill", body, area, buf);
}

/// Asks before quitting while agents run. A client of the server (`Q`)
/// offers both ways out: `y` stops every agent, `q` detaches and leaves
/// them running.
pub fn render_quit(app: &App, state: &State, area: Rect, buf: &mut Buffer) {
    let n = state.tasks.iter().filter(|t| !t.status.is_final()).count();
    if n == 0 {
        // The last agent finished while the question was open.
        let body = vec![Line::raw("Every agent has finished. Quit?")];
        return dialog(app, "quit", body, area, buf);
    }
    if !app.detach {
        let body = vec![Line::raw(format!(
            "{n} agent(s) still running. Quit and kill them all?"
        ))];
        return dialog(app, "quit", body, area, buf);
    }
    let th = app.theme;
    let body = vec![
        Line::raw(format!(
            "{n} agent(s) run in the server. Stop them all and quit?"
        )),
        Line::styled("Detached, they go on; `corral` shows them again.", th.dim()),
    ];
    let keys = Line::from(vec![
        Span::styled("y", th.key()),
        Span::raw(" stop all, quit   "),
        Span::styled("q", th.key()),
        Span::raw(" detach   "),
        Span::styled("other", th.key()),
        Span::raw(" back"),
    ]);
    dialog_with(app, "quit", body, keys, area, buf);
}
