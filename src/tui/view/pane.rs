//! The live pane: the selected task's conversation (or its raw terminal
//! output), following the tail or scrolled back, with search highlights;
//! its header names the task and, while the agent runs, its process tree's
//! process count, CPU and memory.
//!
//! Pure: reads the app's cached lines and the core state; draws only the
//! visible window, so a long transcript costs nothing per frame.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;
use tui_term::widget::PseudoTerminal;

use crate::core::State;
use crate::core::task::TaskStatus;
use crate::present::{safe_text, truncate};
use crate::tui::app::App;
use crate::tui::layout::pane_body;
use crate::tui::theme::Theme;

/// Draws the title row and the visible lines of the selected task.
pub fn render(app: &App, state: &State, area: Rect, buf: &mut Buffer) {
    if area.height == 0 {
        return;
    }
    let th = app.theme;
    let body = pane_body(area);
    let title_row = Rect { height: 1, ..area };
    buf.set_style(title_row, th.border());
    let Some(task) = app.selected.and_then(|id| state.task(id)) else {
        Line::styled("─".repeat(area.width as usize), th.border()).render(title_row, buf);
        welcome(th, app.detach, body, buf);
        return;
    };
    // What the user types sits at the bottom; the transcript above it, so
    // the agent's last words stay in sight.
    let text = Rect {
        height: body.height.saturating_sub(app.reserved_rows(state, body)),
        ..body
    };
    let total = app
        .with_lines(state, task.id, body.width, |l| l.len())
        .unwrap_or(0);
    let top = app.pane_top(task.id, total, text.height as usize);
    let pane = app.pane(task.id);
    let position = if app.terminal_focus == Some(task.id) {
        "typing into the program · Ctrl-] gives the keys back".to_string()
    } else if app.raw {
        "raw output".to_string()
    } else if pane.follow || total <= text.height as usize {
        "following".to_string()
    } else {
        let last = (top + text.height as usize).min(total);
        format!("{last}/{total} · End follows")
    };
    let host = match &task.host {
        Some(h) if App::show_hosts(state) => format!("{} · ", safe_text(h)),
        _ => String::new(),
    };
    let title = format!(
        "─ #{} {host}{} · {} · {} ",
        task.id,
        task.spec.agent.name(),
        truncate(&safe_text(&task.title()), (area.width as usize / 2).max(10)),
        task.status.name()
    );
    let mut spans = vec![Span::styled(title, th.title())];
    if task.status == TaskStatus::Blocked {
        spans.push(Span::styled(
            " waiting for you ",
            th.status(TaskStatus::Blocked),
        ));
    }
    if let Some(cost) = &task.cost {
        let busy = cost.cpu_percent >= super::task_list::BUSY_CPU;
        spans.push(Span::styled(
            format!(" {} ", crate::present::proc_cost(cost)),
            if busy { th.warn() } else { th.dim() },
        ));
    }
    spans.push(Span::styled(format!(" {position} "), th.dim()));
    let used: usize = spans.iter().map(|s| s.width()).sum();
    spans.push(Span::styled(
        "─".repeat((area.width as usize).saturating_sub(used)),
        th.border(),
    ));
    Line::from(spans).render(title_row, buf);

    if app.raw {
        match app.raw_screen() {
            Some(screen) if app.has_raw(task.id) => render_terminal(screen, body, buf),
            _ => Line::styled(
                "  no raw terminal output from this agent yet (r goes back)",
                th.dim(),
            )
            .render(body, buf),
        }
        return;
    }
    let query = app.search.as_ref().map(|s| s.query.to_ascii_lowercase());
    let current = app.search.as_ref().and_then(|s| s.current);
    app.with_lines(state, task.id, body.width, |lines| {
        for row in 0..text.height as usize {
            let Some(pl) = lines.get(top + row) else {
                break;
            };
            let rect = Rect {
                y: text.y + row as u16,
                height: 1,
                ..text
            };
            let line = match &query {
                Some(q) => highlight(pl.line, q, th, current == Some(top + row)),
                None => pl.line,
            };
            line.render(rect, buf);
        }
    });
    if total == 0 {
        Line::styled("  waiting for the agent's first words…", th.dim()).render(text, buf);
    }
    let plan_rows = super::plan::rows(task, body);
    if plan_rows > 0 {
        let area = Rect {
            y: text.bottom(),
            height: plan_rows.min(body.bottom().saturating_sub(text.bottom())),
            ..body
        };
        super::plan::render(task, th, area, buf);
    }
    match (&app.compose, &app.answer) {
        (Some(c), _) if c.task == task.id => {
            super::answer::render_compose(c, Some(task), th, body, buf)
        }
        (_, Some(b)) if b.task == task.id => super::answer::render_answer(b, th, body, buf),
        _ if task.status == TaskStatus::Blocked => {
            let row = Rect {
                y: body.bottom().saturating_sub(1),
                height: 1,
                ..body
            };
            Line::styled(
                "  waiting for you: Enter answers, m replies with a message",
                th.status(TaskStatus::Blocked),
            )
            .render(row, buf);
        }
        _ => {}
    }
}

/// Draws the agent's emulated terminal into `body`: all of it when it
/// fits; when the pane is shorter, the rows down to the cursor or the last
/// written row, whichever is lower (where new output lands), never just the
/// top rows. Columns start at the left edge.
fn render_terminal(screen: &vt100::Screen, body: Rect, buf: &mut Buffer) {
    let (rows, cols) = screen.size();
    if rows <= body.height && cols <= body.width {
        PseudoTerminal::new(screen).render(body, buf);
        return;
    }
    let full = Rect::new(0, 0, cols, rows);
    let mut whole = Buffer::empty(full);
    PseudoTerminal::new(screen).render(full, &mut whole);
    let (cursor_row, _) = screen.cursor_position();
    let last_written = screen
        .rows(0, cols)
        .enumerate()
        .filter(|(_, text)| !text.trim().is_empty())
        .map(|(row, _)| row as u16)
        .last()
        .unwrap_or(0);
    let top = window_start(last_written.max(cursor_row), rows, body.height);
    for y in 0..body.height.min(rows - top) {
        for x in 0..body.width.min(cols) {
            buf[(body.x + x, body.y + y)] = whole[(x, top + y)].clone();
        }
    }
}

/// The first of `span` visible positions out of `total` so that `keep` is
/// visible, as close to the start as that allows.
fn window_start(keep: u16, total: u16, span: u16) -> u16 {
    if span == 0 || total <= span {
        return 0;
    }
    (keep + 1).saturating_sub(span).min(total - span)
}

/// The empty screen's first keys; `detach`: a client of the server, where
/// `q` leaves the agents running.
fn welcome(th: Theme, detach: bool, body: Rect, buf: &mut Buffer) {
    let lines = [
        Line::styled("corral: several coding agents, one screen.", th.title()),
        Line::raw(""),
        Line::from(vec![
            Span::styled("  n  ", th.key()),
            Span::raw("start a task"),
        ]),
        Line::from(vec![
            Span::styled("  ?  ", th.key()),
            Span::raw("every key"),
        ]),
        Line::from(vec![
            Span::styled("  q  ", th.key()),
            Span::raw(if detach {
                "detach: the agents go on in the corral server"
            } else {
                "quit"
            }),
        ]),
        Line::from(if detach {
            vec![
                Span::styled("  Q  ", th.key()),
                Span::raw("stop every agent and quit"),
            ]
        } else {
            vec![]
        }),
    ];
    for (i, l) in lines.into_iter().enumerate() {
        if i as u16 + 1 >= body.height {
            break;
        }
        let rect = Rect {
            x: body.x + 2,
            y: body.y + 1 + i as u16,
            height: 1,
            width: body.width.saturating_sub(2),
        };
        l.render(rect, buf);
    }
}

/// The line with every (ASCII case-insensitive) occurrence of `query`
/// highlighted; the current match is also bold.
pub fn highlight(line: Line<'static>, query: &str, th: Theme, current: bool) -> Line<'static> {
    if query.is_empty() {
        return line;
    }
    let mut hl = th.search_match();
    if current {
        hl = hl.add_modifier(ratatui::style::Modifier::BOLD | ratatui::style::Modifier::UNDERLINED);
    }
    let mut out: Vec<Span<'static>> = Vec::new();
    for span in line.spans {
        let text = span.content.to_string();
        let lower = text.to_ascii_lowercase();
        let mut at = 0;
        while let Some(pos) = lower[at..].find(query) {
            let s = at + pos;
            let e = s + query.len();
            if s > at {
                out.push(Span::styled(text[at..s].to_string(), span.style));
            }
            out.push(Span::styled(text[s..e].to_string(), span.style.patch(hl)));
            at = e;
        }
        if at < text.len() {
            out.push(Span::styled(text[at..].to_string(), span.style));
        }
    }
    Line::from(out).style(line.style.patch(Style::new()))
}
