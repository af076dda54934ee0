//! The `y` confirmations: killing a task (closing the open session of a
//! finished one), quitting while agents run (for a client of the server:
//! stopping them and closing the open sessions, or `q` to detach instead).
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
    // Tall enough for the wrapped lines, the keys last (wrapping at words
    // may take a row more than the width says).
    let inner = 58.min(area.width.saturating_sub(2)).max(1) as usize;
    let rows: usize = lines
        .iter()
        .map(|l| match l.width() {
            w if w > inner => w.div_ceil(inner) + 1,
            _ => 1,
        })
        .sum();
    let rect = centered(area, 60, rows as u16 + 2);
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

/// Asks before killing `task`, or closing its session when it finished.
pub fn render_kill(app: &App, state: &State, task: TaskId, area: Rect, buf: &mut Buffer) {
    let Some(t) = state.task(task) else {
        let body = vec![Line::raw(format!("Kill #{task}?"))];
        return dialog(app, "kill", body, area, buf);
    };
    let on = match &t.host {
        Some(h) if App::show_hosts(state) => format!(" on {}", safe_text(h)),
        _ => String::new(),
    };
    let what = format!(
        "#{}{on} {} “{}”",
        t.id,
        t.spec.agent.name(),
        truncate(&safe_text(&t.title()), 36)
    );
    let (title, body) = if App::session_open(t) {
        let body = vec![
            Line::raw(format!("Close the open session of {what}?")),
            Line::styled(
                format!(
                    "It stays {}; the next message resumes the session.",
                    t.status.name()
                ),
                app.theme.dim(),
            ),
        ];
        ("close session", body)
    } else {
        let body = vec![
            Line::raw(format!("Kill {what}?")),
            Line::styled(
                "Its process group gets SIGINT, SIGTERM, then SIGKILL.",
                app.theme.dim(),
            ),
        ];
        ("kill", body)
    };
    dialog(app, title, body, area, buf);
}

/// `n` things, in words: `1 agent`, `2 agents`.
fn counted(n: usize, what: &str) -> String {
    match n {
        1 => format!("1 {what}"),
        _ => format!("{n} {what}s"),
    }
}

/// Asks before quitting while agents run. A client of the server (`Q`)
/// offers both ways out: `y` stops every agent and closes the open
/// sessions of finished tasks, `q` detaches and leaves them running.
pub fn render_quit(app: &App, state: &State, area: Rect, buf: &mut Buffer) {
    let agents = App::live_count(state);
    let sessions = App::open_sessions(state);
    if agents == 0 && (sessions == 0 || !app.detach) {
        // The last agent finished while the question was open.
        let body = vec![Line::raw("Every agent has finished. Quit?")];
        return dialog(app, "quit", body, area, buf);
    }
    let what = match (agents, sessions) {
        (0, s) => format!("Every agent has finished; {}", counted(s, "open session")),
        (a, 0) => counted(a, "agent"),
        (a, s) => format!("{} and {}", counted(a, "agent"), counted(s, "open session")),
    };
    let (them, runs) = match agents + sessions {
        1 => ("it", "runs"),
        _ => ("them all", "run"),
    };
    if !app.detach {
        let body = vec![Line::raw(format!(
            "{what} still running. Quit and stop {them}?"
        ))];
        return dialog(app, "quit", body, area, buf);
    }
    let th = app.theme;
    let mut body = vec![
        Line::raw(format!(
            "{what} {runs} in the server. Stop {them} and quit?"
        )),
        Line::styled("Detached, they go on; `corral` shows them again.", th.dim()),
    ];
    if sessions > 0 {
        body.push(Line::styled(
            "A closed session resumes with the next message.",
            th.dim(),
        ));
    }
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
