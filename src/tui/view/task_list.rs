//! The task list: one row per task with status glyph and colour, the
//! host (when some attached host is another machine), agent, the plan's
//! progress and the step it is on, title, what its process tree costs
//! while it runs (CPU, and memory where the list is wide enough), elapsed
//! time (live while running), tokens and cost (dimmed, as last seen, while
//! its host is down); then a row per host whose link is not live, with why
//! in its own words; then, dim and read-only,
//! the tasks another live corral runs (`crate::tui::elsewhere`).
//!
//! Pure: draws from the app and core state, changes nothing.

use crate::core::task::TaskStatus;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;
use unicode_width::UnicodeWidthStr;

use crate::core::task::Task;
use crate::core::{HostLink, LinkStatus, State};
use crate::present::{cost, duration, safe_text, tokens, truncate, whole_seconds};
use crate::tui::app::App;
use crate::tui::layout::list_offset;
use crate::tui::theme::{status_glyph, task_glyph};

/// Columns right of the title: elapsed, tokens, cost.
const RIGHT: usize = 8 + 8 + 9;
/// Columns left of the title: glyph, id, status, agent.
const LEFT: usize = 2 + 10 + 8;
/// The CPU column, shown from this list width up (a runaway tree should
/// stand out even in the list beside the pane), and the memory column,
/// from a wider one; both only while some task's tree is sampled.
const CPU_W: usize = 6;
const CPU_FROM_WIDTH: usize = 72;
const MEM_W: usize = 6;
const MEM_FROM_WIDTH: usize = 90;
/// From this CPU percentage the column is shown as a warning: a tree
/// spinning a whole core (a runaway child) stands out.
pub const BUSY_CPU: u32 = 90;

/// Which process cost columns the list has room for.
#[derive(Debug, Clone, Copy)]
struct ProcCols {
    cpu: bool,
    mem: bool,
}

fn pad(s: &str, w: usize) -> String {
    if w == 0 {
        return String::new();
    }
    let s = truncate(s, w);
    let n = UnicodeWidthStr::width(s.as_str());
    format!("{s}{}", " ".repeat(w.saturating_sub(n)))
}

fn rpad(s: &str, w: usize) -> String {
    let n = UnicodeWidthStr::width(s);
    format!("{}{s}", " ".repeat(w.saturating_sub(n)))
}

/// Width of the `#` column: four, or one more than the longest number
/// (task 1000 must not run into its status).
fn id_width(state: &State) -> usize {
    let longest = state.tasks.iter().map(|t| t.id).max().unwrap_or(0);
    (longest.to_string().len() + 1).max(4)
}

/// Width of the host column (0 when hidden).
fn host_width(state: &State) -> usize {
    if !App::show_hosts(state) {
        return 0;
    }
    let longest = state
        .hosts
        .iter()
        .map(|h| UnicodeWidthStr::width(h.name.as_str()))
        .max()
        .unwrap_or(0);
    longest.clamp(4, HOST_MAX) + 1
}

/// The widest the host column gets.
const HOST_MAX: usize = 12;

/// Draws the header and the rows that fit, keeping the selection visible.
pub fn render(app: &App, state: &State, area: Rect, buf: &mut Buffer) {
    if area.height == 0 {
        return;
    }
    let th = app.theme;
    // Only while some tree is sampled (an agent runs and the cockpit
    // watches): finished work keeps its room for the title.
    let sampled = state.tasks.iter().any(|t| t.cost.is_some());
    let cols = ProcCols {
        cpu: sampled && area.width as usize >= CPU_FROM_WIDTH,
        mem: sampled && area.width as usize >= MEM_FROM_WIDTH,
    };
    let right = RIGHT + usize::from(cols.cpu) * CPU_W + usize::from(cols.mem) * MEM_W;
    let host_w = host_width(state);
    let id_w = id_width(state);
    let title_w = (area.width as usize)
        .saturating_sub(LEFT + id_w + host_w + right)
        .max(8);
    let header = format!(
        "{}{}{}{}{}",
        pad("  #", 2 + id_w),
        pad("host", host_w),
        pad("status", 10),
        pad("agent", 8),
        pad("task", title_w)
    ) + &if cols.cpu {
        rpad("cpu", CPU_W)
    } else {
        String::new()
    } + &if cols.mem {
        rpad("mem", MEM_W)
    } else {
        String::new()
    } + &rpad("elapsed", 8)
        + &rpad("tokens", 8)
        + &rpad("cost", 9);
    Line::styled(header, th.title().patch(th.dim())).render(Rect { height: 1, ..area }, buf);
    // Other corrals' rows span the title and the process cost columns
    // (their trees are not sampled here).
    let others_w = title_w + right - RIGHT;
    let hosts = App::host_rows(state);
    if state.tasks.is_empty() && hosts.is_empty() {
        if area.height > 1 {
            Line::styled("  no tasks yet: press n to start one", th.dim()).render(
                Rect {
                    y: area.y + 1,
                    height: 1,
                    ..area
                },
                buf,
            );
        }
        render_elsewhere(app, area.y + 2, area, (id_w, host_w, others_w), buf);
        return;
    }
    let sel = app.selected_index(state).unwrap_or(0);
    let offset = list_offset(area, sel);
    let order = App::list_order(state);
    let rows = order.iter().map(|&i| &state.tasks[i]).enumerate();
    let mut y = area.y + 1;
    for (i, task) in rows.skip(offset) {
        if y >= area.bottom() {
            return;
        }
        let glyph = task_glyph(task, app.now_ms);
        let widths = (id_w, host_w, title_w);
        let mut line = row_line(app, task, glyph, widths, cols, i == sel);
        // A host that is down: its tasks are as last seen, dimmed.
        if host_down(state, task) {
            line = line.patch_style(th.dim());
        }
        let rect = Rect {
            y,
            height: 1,
            ..area
        };
        if i == sel {
            buf.set_style(rect, th.selected());
        }
        line.render(rect, buf);
        y += 1;
    }
    for host in hosts {
        if y >= area.bottom() {
            return;
        }
        host_line(app, host, (id_w, host_w.max(5))).render(
            Rect {
                y,
                height: 1,
                ..area
            },
            buf,
        );
        y += 1;
    }
    render_elsewhere(app, y, area, (id_w, host_w, others_w), buf);
}

/// Tasks of other corrals from row `y` on, dim, after a heading that says
/// they are read-only here (see `crate::tui::elsewhere`); `title_w` spans
/// the title and the process cost columns (their trees are not sampled).
fn render_elsewhere(
    app: &App,
    y: u16,
    area: Rect,
    (id_w, host_w, title_w): (usize, usize, usize),
    buf: &mut Buffer,
) {
    if app.elsewhere.is_empty() || y >= area.bottom() {
        return;
    }
    let th = app.theme;
    let row = |y: u16| Rect {
        y,
        height: 1,
        ..area
    };
    let heading = match app.elsewhere_polled {
        false => "  run by another corral (read-only here; corral logs ID --follow):",
        true => {
            "  run by another corral (read-only here; corral logs ID --follow; no inotify: polled every 2 s):"
        }
    };
    Line::styled(truncate(heading, area.width as usize), th.dim()).render(row(y), buf);
    for (n, e) in app.elsewhere.iter().enumerate() {
        let y = y + 1 + n as u16;
        if y >= area.bottom() {
            break;
        }
        let owner = e
            .owner_pid
            .map(|pid| format!(" · corral {pid}"))
            .unwrap_or_default();
        let title = format!(
            "{} · {}{owner}",
            safe_text(&e.title).replace('\n', " "),
            e.id
        );
        let elapsed = e
            .started_ms
            .map(|at| whole_seconds(app.now_ms.saturating_sub(at)))
            .unwrap_or_else(|| "-".into());
        let line = Line::from(vec![
            Span::styled(
                format!("{} ", status_glyph(e.status, 0)),
                th.status(e.status),
            ),
            Span::styled(pad("", id_w), th.dim()),
            Span::styled(pad("", host_w), th.dim()),
            Span::styled(pad(e.status.name(), 10), th.status(e.status)),
            Span::styled(pad(&safe_text(&e.agent), 8), th.dim()),
            Span::styled(pad(&title, title_w), th.dim()),
            Span::styled(rpad(&elapsed, 8), th.dim()),
            Span::styled(
                rpad(
                    &if e.tokens > 0 {
                        tokens(e.tokens)
                    } else {
                        "-".into()
                    },
                    8,
                ),
                th.dim(),
            ),
            Span::styled(
                rpad(&e.cost_usd.map(cost).unwrap_or_else(|| "-".into()), 9),
                th.dim(),
            ),
        ]);
        line.render(row(y), buf);
    }
}

/// Whether `t` is on a host whose link is down (its row is as last seen).
fn host_down(state: &State, t: &Task) -> bool {
    t.host.as_ref().is_some_and(|name| {
        state
            .hosts
            .iter()
            .any(|h| h.name == *name && matches!(h.status, LinkStatus::Down { .. }))
    })
}

/// The row of a host whose link is not live: connecting, or down with
/// why (its message without the `host NAME: ` the column already says).
fn host_line(app: &App, host: &HostLink, (id_w, host_w): (usize, usize)) -> Line<'static> {
    let th = app.theme;
    let name = pad(&safe_text(&host.name), host_w);
    let (glyph, state, why, style) = match &host.status {
        LinkStatus::Connecting => ("…", "connecting", String::new(), th.dim()),
        LinkStatus::Live => ("✓", "live", String::new(), th.dim()),
        LinkStatus::Down {
            message,
            retry_in_ms,
        } => {
            let prefix = format!("host {}: ", host.name);
            let said = message.strip_prefix(&prefix).unwrap_or(message);
            let again = retry_in_ms
                .map(|ms| format!(" · retrying every {}", duration(ms.max(1000))))
                .unwrap_or_default();
            (
                "✗",
                "down",
                format!("{}{again}", safe_text(said)),
                th.error(),
            )
        }
    };
    Line::from(vec![
        Span::styled(format!("{glyph} "), style),
        Span::styled(pad("", id_w), style),
        Span::styled(name, style),
        Span::styled(pad(state, 10), style),
        Span::styled(safe_text(&why).replace('\n', " "), style),
    ])
}

/// The title, with the worktree's change count when the task has one.
fn row_title(t: &Task) -> String {
    let title = safe_text(&t.title()).replace('\n', " ");
    match &t.changes {
        Some(c) => format!("[{}] {title}", crate::present::change_count(c)),
        None if t.worktree_pending => format!("[creating worktree] {title}"),
        None => title,
    }
}

/// The elapsed time (ms) of a started, unfinished task at
/// `now_ms`, and whether it grows with the clock. A blocked task shows how
/// long it ran until it asked: the row then stays still, and the cockpit
/// needs no timer while it waits. `None` for a finished or unstarted task.
pub fn live_elapsed_ms(t: &Task, now_ms: u64) -> Option<(u64, bool)> {
    if t.finished_ms.is_some() || t.started_ms.is_none() {
        return None;
    }
    let (at, moves) = match (t.status, t.last_output_ms) {
        (TaskStatus::Blocked, Some(asked)) => (asked.min(now_ms), false),
        _ => (now_ms, true),
    };
    Some((t.elapsed_ms(at), moves))
}

fn row_line(
    app: &App,
    t: &Task,
    glyph: &'static str,
    (id_w, host_w, title_w): (usize, usize, usize),
    cols: ProcCols,
    selected: bool,
) -> Line<'static> {
    let th = app.theme;
    let st = th.status(t.status);
    let base = if selected {
        th.selected()
    } else {
        Style::new()
    };
    let elapsed = if t.started_ms.is_some() {
        duration(t.elapsed_ms(app.now_ms.max(t.started_ms.unwrap_or(0))))
    } else {
        "-".into()
    };
    // Whole seconds while running, so the column does not flicker. A row
    // that stands still (blocked) says its exact time: an agent that asks
    // within its first second ran `850ms`, not `0ms`.
    let elapsed = match live_elapsed_ms(t, app.now_ms) {
        Some((ms, true)) => whole_seconds(ms),
        Some((ms, false)) => duration(ms),
        None => elapsed,
    };
    let toks = t.usage.total_tokens();
    let spans = vec![
        Span::styled(format!("{glyph} "), st),
        Span::styled(pad(&format!("{}", t.id), id_w), base),
        Span::styled(
            pad(&safe_text(t.host.as_deref().unwrap_or("")), host_w),
            th.dim().patch(base),
        ),
        Span::styled(pad(t.status.name(), 10), st),
        Span::styled(pad(t.spec.agent.name(), 8), base),
    ];
    let mut spans = spans;
    // The plan first, so a narrow row still says what the agent is on.
    let mut title_left = title_w;
    if !t.plan.is_empty() {
        let plan = format!(
            "{} · ",
            crate::describe::insight::plan_summary(&t.plan, (title_w * 2 / 3).max(6))
        );
        let plan = truncate(&plan, title_left);
        title_left = title_left.saturating_sub(UnicodeWidthStr::width(plan.as_str()));
        spans.push(Span::styled(plan, th.tool().patch(base)));
    }
    spans.push(Span::styled(pad(&row_title(t), title_left), base));
    let (cpu, mem, busy) = match &t.cost {
        Some(c) => (
            format!("{}%", c.cpu_percent.min(9999)),
            crate::present::memory(c.rss_kib),
            c.cpu_percent >= BUSY_CPU,
        ),
        None => (String::new(), String::new(), false),
    };
    if cols.cpu {
        let cpu_style = if busy { th.warn().patch(base) } else { base };
        spans.push(Span::styled(rpad(&cpu, CPU_W), cpu_style));
    }
    if cols.mem {
        spans.push(Span::styled(rpad(&mem, MEM_W), base));
    }
    spans.extend([
        Span::styled(rpad(&elapsed, 8), base),
        Span::styled(
            rpad(&if toks > 0 { tokens(toks) } else { "-".into() }, 8),
            base,
        ),
        Span::styled(
            rpad(&t.usage.cost_usd.map(cost).unwrap_or_else(|| "-".into()), 9),
            base,
        ),
    ]);
    Line::from(spans)
}
