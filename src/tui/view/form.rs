//! The new-task form overlay: prompt editor, host picker (with several
//! hosts), agent picker, working directory (with its inline error), model, permission mode and the keys.
//!
//! Pure: draws the form's state, never changes it.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Widget};

use super::centered;
use crate::tui::app::App;
use crate::tui::form::{Field, Form, PERMISSION_MODES};
use crate::tui::theme::Theme;

fn label(th: Theme, text: &str, focused: bool) -> Span<'static> {
    let style = if focused { th.key() } else { th.title() };
    Span::styled(
        format!("{}{text:<11}", if focused { "▸ " } else { "  " }),
        style,
    )
}

fn choice(th: Theme, items: &[&str], i: usize, focused: bool) -> Vec<Span<'static>> {
    let cur = items.get(i).copied().unwrap_or("");
    let style = if focused { th.selected() } else { Style::new() };
    let mut v = vec![Span::styled(format!("‹ {cur} ›"), style)];
    if focused && items.len() > 1 {
        v.push(Span::styled("  ← → to change", th.dim()));
    }
    v
}

/// Draws the form centred over `area`.
pub fn render(app: &App, form: &Form, area: Rect, buf: &mut Buffer) {
    let th = app.theme;
    let rect = centered(
        area,
        area.width.saturating_sub(4).min(100),
        area.height.saturating_sub(2).min(26),
    );
    Clear.render(rect, buf);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(th.title())
        .title(Span::styled(" new task ", th.title()));
    let inner = block.inner(rect);
    block.render(rect, buf);
    if inner.height < 8 + u16::from(form.has_hosts()) || inner.width < 20 {
        Line::styled("terminal too small for the form", th.error()).render(inner, buf);
        return;
    }
    // Rows under the prompt: agent, cwd, cwd error, model, permission,
    // worktree, error, keys.
    // With several hosts, a host row comes first.
    let host_row = u16::from(form.has_hosts());
    let fixed = 8 + host_row;
    let prompt_h = inner.height - fixed;
    let at = |i: u16| Rect {
        y: inner.y + prompt_h + i,
        height: 1,
        ..inner
    };
    let row = |i: u16| at(i + host_row);

    let pr = Rect {
        height: prompt_h,
        ..inner
    };
    let pblock = Block::default()
        .borders(Borders::BOTTOM)
        .border_style(th.border())
        .title(label(th, "prompt", form.focus == Field::Prompt));
    let pinner = pblock.inner(pr);
    pblock.render(pr, buf);
    let text_rect = Rect {
        y: pinner.y + 1,
        height: pinner.height.saturating_sub(1),
        x: pinner.x + 2,
        width: pinner.width.saturating_sub(2),
    };
    form.prompt.render(text_rect, buf);

    if form.has_hosts() {
        let names: Vec<&str> = form.hosts.iter().map(String::as_str).collect();
        let mut host = vec![label(th, "host", form.focus == Field::Host)];
        host.extend(choice(th, &names, form.host, form.focus == Field::Host));
        Line::from(host).render(at(0), buf);
    }
    let names: Vec<&str> = form.agents.iter().map(String::as_str).collect();
    let mut agent = vec![label(th, "agent", form.focus == Field::Agent)];
    agent.extend(choice(th, &names, form.agent, form.focus == Field::Agent));
    Line::from(agent).render(row(0), buf);

    let l = label(th, "directory", form.focus == Field::Cwd);
    let lw = l.width() as u16;
    l.render(row(1), buf);
    form.cwd.render(
        Rect {
            x: row(1).x + lw,
            width: row(1).width.saturating_sub(lw),
            ..row(1)
        },
        buf,
    );
    if let Some(e) = &form.cwd_error {
        Line::styled(format!("  {:<11}✗ {e}", ""), th.error()).render(row(2), buf);
    }

    let l = label(th, "model", form.focus == Field::Model);
    l.render(row(3), buf);
    if form.model.lines().concat().is_empty() && form.focus != Field::Model {
        Span::styled("(agent default)", th.dim()).render(
            Rect {
                x: row(3).x + lw,
                width: row(3).width.saturating_sub(lw),
                ..row(3)
            },
            buf,
        );
    } else {
        form.model.render(
            Rect {
                x: row(3).x + lw,
                width: row(3).width.saturating_sub(lw),
                ..row(3)
            },
            buf,
        );
    }

    let mut perm = vec![label(th, "permission", form.focus == Field::Permission)];
    perm.extend(choice(
        th,
        PERMISSION_MODES,
        form.permission,
        form.focus == Field::Permission,
    ));
    Line::from(perm).render(row(4), buf);

    let mut wt = vec![label(th, "worktree", form.focus == Field::Worktree)];
    wt.extend(choice(
        th,
        &["no", "yes: its own git worktree and branch"],
        form.worktree as usize,
        form.focus == Field::Worktree,
    ));
    Line::from(wt).render(row(5), buf);

    if let Some(e) = &form.error {
        Line::styled(format!("  ✗ {e}"), th.error()).render(row(6), buf);
    }
    let keys = [
        ("Ctrl-S", "start"),
        ("Esc", "cancel"),
        ("Tab", "next field"),
        ("Enter", "new line"),
    ];
    let mut spans = vec![Span::raw("  ")];
    for (k, what) in keys {
        spans.push(Span::styled(k, th.key()));
        spans.push(Span::styled(format!(" {what}   "), th.dim()));
    }
    Line::from(spans).render(row(7), buf);
}
