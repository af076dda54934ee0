//! When the cockpit must redraw with nothing else happening: the pure
//! decision behind spinners and elapsed times.
//!
//! Each thing on screen that moves with the clock asks for its next
//! change: a busy running task's spinner (in a visible row, tile or the
//! narrow status bar) its next frame, five a second; a quiet one (silent
//! for `BUSY_WINDOW_MS`) does not spin at all. Visible elapsed times ask
//! for the cockpit's next whole second: every clock on screen moves
//! together, once a second, however many tasks run (a clock may show its
//! second up to a second late; nothing wakes more often for it). A
//! blocked task waits for the user and a finished one for nothing, so
//! neither arms a timer, and neither does a task scrolled out of sight or
//! hidden under the diff review. Another corral's task in the list ticks its
//! //! elapsed time like ours. Must never do IO or look at the clock (the
//! time comes in).

use super::app::{App, Overlay};
use super::layout::{list_offset, regions, tiles};
use super::theme::{SPINNER_MS, next_spin_ms};
use super::view::status_bar::WORDS_WIDTH;
use super::view::task_list::live_elapsed_ms;
use crate::core::State;
use crate::core::task::Task;

/// The time (ms since the epoch) at which the screen next changes by the
/// clock alone, after `now_ms`; `None` when nothing on it moves.
pub fn next_redraw(app: &App, state: &State, now_ms: u64) -> Option<u64> {
    if matches!(app.overlay, Overlay::Diff(_)) {
        // The review covers the screen and shows no clock.
        return None;
    }
    let mut next: Option<u64> = None;
    let mut want = |at: u64| next = Some(next.map_or(at, |n| n.min(at)));
    let next_second = (now_ms / 1000 + 1) * 1000;
    if app.size.width < WORDS_WIDTH && state.tasks.iter().any(|t| t.is_busy(now_ms)) {
        // The status bar's running count spins (see `status_bar_tick`).
        want((now_ms / SPINNER_MS + 1) * SPINNER_MS);
    }
    for t in visible_tasks(app, state) {
        if let Some(at) = next_spin_ms(t, now_ms) {
            want(at);
        }
        // Tiles show no elapsed time.
        if !app.grid && matches!(live_elapsed_ms(t, now_ms), Some((_, true))) {
            want(next_second);
        }
    }
    // Other corrals' tasks (below ours in the list) show their elapsed time.
    if !app.grid && app.elsewhere.iter().any(|e| e.started_ms.is_some()) {
        want(next_second);
    }
    next
}

/// The tasks whose row (or grid tile) is on screen.
fn visible_tasks<'a>(app: &App, state: &'a State) -> Vec<&'a Task> {
    if app.grid {
        let ids = App::grid_tasks(state);
        let body = ratatui::layout::Rect {
            height: app.size.height.saturating_sub(1),
            ..app.size
        };
        let shown = tiles(body, ids.len()).1.len();
        return ids
            .iter()
            .take(shown)
            .filter_map(|id| state.task(*id))
            .collect();
    }
    let list = regions(app.size, app.list_rows(state)).list;
    let rows = list.height.saturating_sub(1) as usize;
    let offset = list_offset(list, app.selected_index(state).unwrap_or(0));
    App::list_order(state)
        .into_iter()
        .skip(offset)
        .take(rows)
        .map(|i| &state.tasks[i])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::AgentKind;
    use crate::core::task::{TaskSpec, TaskStatus};
    use ratatui::layout::Rect;

    fn spec() -> TaskSpec {
        TaskSpec {
            agent: AgentKind::Claude,
            prompt: "p".into(),
            title: None,
            cwd: ".".into(),
            options: Default::default(),
            limits: Default::default(),
            profile: None,
            budget: Default::default(),
            worktree: false,
        }
    }

    fn app(width: u16, height: u16) -> App {
        let defaults = crate::tui::form::FormDefaults {
            agent: "claude".into(),
            agents: vec!["claude".into()],
            worktree: false,
            model: None,
            permission_mode: None,
            base_dir: ".".into(),
            cwd: ".".into(),
            hosts: Vec::new(),
        };
        App::new(
            crate::tui::theme::Theme { color: false },
            Rect::new(0, 0, width, height),
            defaults,
            (24, 80),
        )
    }

    fn state_with(status: TaskStatus) -> State {
        let mut s = State::new(crate::core::Settings::default());
        let mut t = Task::new(1, spec(), 100);
        t.started_ms = Some(1_000);
        t.last_output_ms = Some(1_500);
        t.status = status;
        if status.is_final() {
            t.finished_ms = Some(2_000);
        }
        s.tasks.push(t);
        s
    }

    #[test]
    fn a_blocked_or_finished_cockpit_sleeps_a_running_one_asks_for_its_next_change() {
        let wide = app(160, 40);
        assert_eq!(
            next_redraw(&wide, &State::new(Default::default()), 5_050),
            None,
            "an empty cockpit sleeps"
        );
        for status in [
            TaskStatus::Blocked,
            TaskStatus::Succeeded,
            TaskStatus::Killed,
        ] {
            let s = state_with(status);
            assert_eq!(next_redraw(&wide, &s, 5_050), None, "{status:?}");
        }
        // Running and busy: the spinner's next frame comes before the next
        // second.
        let mut s = state_with(TaskStatus::Running);
        s.tasks[0].last_output_ms = Some(5_000);
        assert_eq!(next_redraw(&wide, &s, 5_050), Some(5_200));
    }

    #[test]
    fn a_quiet_agent_stops_spinning_and_every_clock_moves_on_one_second() {
        use crate::tui::theme::{QUIET, task_glyph};
        let mut s = state_with(TaskStatus::Running);
        s.tasks[0].started_ms = Some(1_300);
        // Output at 5 000: busy until 7 000, five frames a second.
        s.tasks[0].last_output_ms = Some(5_000);
        assert_eq!(next_redraw(&app(160, 40), &s, 6_950), Some(7_000));
        assert_ne!(task_glyph(&s.tasks[0], 6_999), QUIET);
        // Quiet from 7 000: no spinner; the list wakes for the cockpit's
        // next second (its elapsed time), the grid (no elapsed time) not
        // at all.
        assert_eq!(task_glyph(&s.tasks[0], 7_000), QUIET);
        assert_eq!(task_glyph(&s.tasks[0], 60_000), QUIET);
        assert_eq!(next_redraw(&app(160, 40), &s, 7_000), Some(8_000));
        let mut grid = app(160, 40);
        grid.grid = true;
        assert_eq!(next_redraw(&grid, &s, 7_000), None);
        // Many quiet tasks started at different moments still wake the
        // list once a second, all at the same moment.
        for (id, started) in [(2, 1_450), (3, 2_999), (4, 4_001)] {
            let mut t = Task::new(id, spec(), 100);
            t.status = TaskStatus::Running;
            t.started_ms = Some(started);
            t.last_output_ms = Some(started);
            s.tasks.push(t);
        }
        let mut at = 7_000;
        for _ in 0..5 {
            let next = next_redraw(&app(160, 40), &s, at).expect("a clock");
            assert_eq!(next, (at / 1000 + 1) * 1000);
            at = next;
        }
    }

    #[test]
    fn an_elapsed_time_asks_for_its_next_whole_second_and_only_while_visible() {
        // Queued again after a run (a retry waiting): no spinner, but the
        // elapsed time grows, so the next whole second of it.
        let mut s = state_with(TaskStatus::Queued);
        assert_eq!(next_redraw(&app(160, 40), &s, 5_050), Some(6_000));
        s.tasks[0].started_ms = Some(1_300);
        assert_eq!(next_redraw(&app(160, 40), &s, 5_050), Some(6_000));
        // Scrolled out of sight: many finished tasks selected at the end.
        let mut many = state_with(TaskStatus::Queued);
        for id in 2..60 {
            let mut t = Task::new(id, spec(), 100);
            t.status = TaskStatus::Succeeded;
            many.tasks.push(t);
        }
        let mut a = app(160, 20);
        a.select(59);
        assert_eq!(next_redraw(&a, &many, 5_050), None);
        a.select(1);
        assert_eq!(next_redraw(&a, &many, 5_050), Some(6_000));
    }

    #[test]
    fn the_narrow_status_bar_spins_for_a_busy_task_out_of_sight() {
        let mut s = state_with(TaskStatus::Running);
        for id in 2..60 {
            let mut t = Task::new(id, spec(), 100);
            t.status = TaskStatus::Succeeded;
            s.tasks.push(t);
        }
        let mut wide = app(160, 20);
        wide.select(59);
        assert_eq!(next_redraw(&wide, &s, 5_050), None);
        let mut narrow = app(100, 20);
        narrow.select(59);
        assert_eq!(next_redraw(&narrow, &s, 5_050), None, "quiet");
        s.tasks[0].last_output_ms = Some(5_000);
        assert_eq!(next_redraw(&narrow, &s, 5_050), Some(5_200), "busy");
    }
}
