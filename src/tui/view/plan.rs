//! The plan box: the selected task's current plan, pinned under its
//! transcript, so what the agent is on stays in sight while it works.
//!
//! Pure: draws from the task's last `plan` event, changes nothing.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::Widget;

use crate::core::event::{PlanItem, PlanStatus};
use crate::core::task::Task;
use crate::describe::insight::{plan_lines, plan_summary};
use crate::tui::lines::render as screen_lines;
use crate::tui::theme::Theme;

/// Rows of the plan box at most, header included.
const MAX_ROWS: usize = 7;

/// Rows the plan box takes in a pane body `body` tall (0: no plan, or no
/// room for one).
pub fn rows(task: &Task, body: Rect) -> u16 {
    if task.plan.is_empty() || body.height < 8 {
        return 0;
    }
    let want = (task.plan.len() + 1).min(MAX_ROWS);
    want.min(body.height as usize / 3).max(2) as u16
}

/// Draws the plan into `area`: a header with its progress, then the steps
/// around the one it is on.
pub fn render(task: &Task, th: Theme, area: Rect, buf: &mut Buffer) {
    if area.height == 0 || task.plan.is_empty() {
        return;
    }
    let width = area.width as usize;
    let header = format!(
        "─ plan {} ",
        plan_summary(&task.plan, width.saturating_sub(10))
    );
    let fill = width.saturating_sub(unicode_width::UnicodeWidthStr::width(header.as_str()));
    Line::styled(format!("{header}{}", "─".repeat(fill)), th.border())
        .render(Rect { height: 1, ..area }, buf);
    let room = area.height.saturating_sub(1) as usize;
    let (from, to) = window(&task.plan, room);
    let lines = plan_lines(&task.plan[from..to]);
    let mut y = area.y + 1;
    for (i, line) in lines.iter().enumerate() {
        if y >= area.bottom() {
            break;
        }
        let mut rendered = screen_lines(line, area.width, th);
        let Some(mut first) = rendered.drain(..).next() else {
            continue;
        };
        // Say what is hidden above and below the window.
        let hidden = match i {
            0 if from > 0 => Some(from),
            _ if i + 1 == lines.len() && to < task.plan.len() => Some(task.plan.len() - to),
            _ => None,
        };
        if let Some(n) = hidden {
            first.spans.push(ratatui::text::Span::styled(
                format!("  (+{n} more)"),
                th.dim(),
            ));
        }
        first.render(
            Rect {
                y,
                height: 1,
                ..area
            },
            buf,
        );
        y += 1;
    }
}

/// The steps shown in `room` rows: all when they fit, else a window that
/// keeps the step in progress (or the next to do) with one done before it.
fn window(items: &[PlanItem], room: usize) -> (usize, usize) {
    if items.len() <= room || room == 0 {
        return (0, items.len().min(room.max(items.len())));
    }
    let current = items
        .iter()
        .position(|i| i.status == PlanStatus::InProgress)
        .or_else(|| items.iter().position(|i| i.status == PlanStatus::Pending))
        .unwrap_or(items.len() - 1);
    let from = current.saturating_sub(1).min(items.len() - room);
    (from, from + room)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(n: usize, on: usize) -> Vec<PlanItem> {
        (0..n)
            .map(|i| {
                let status = match i.cmp(&on) {
                    std::cmp::Ordering::Less => "completed",
                    std::cmp::Ordering::Equal => "in_progress",
                    std::cmp::Ordering::Greater => "pending",
                };
                PlanItem::new(format!("step {i}"), status)
            })
            .collect()
    }

    #[test]
    fn a_long_plan_shows_the_window_around_the_step_in_progress() {
        assert_eq!(window(&plan(3, 1), 6), (0, 3));
        assert_eq!(window(&plan(10, 0), 4), (0, 4));
        assert_eq!(window(&plan(10, 5), 4), (4, 8));
        assert_eq!(window(&plan(10, 9), 4), (6, 10));
        // All done: the end of the plan.
        assert_eq!(window(&plan(10, 10), 4), (6, 10));
    }
}
