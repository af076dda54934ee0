//! Where each screen region goes for a terminal size.
//!
//! Pure geometry shared by the views (to draw) and the app (to hit-test
//! mouse clicks and know the pane height), so both always agree.

use ratatui::layout::Rect;

/// Terminals at least this wide put the task list beside the pane.
const SIDE_BY_SIDE_WIDTH: u16 = 140;
/// Width of the task list when it is beside the pane.
const SIDE_LIST_WIDTH: u16 = 72;
/// Narrowest and shortest a grid tile may be.
const TILE_MIN_WIDTH: u16 = 36;
const TILE_MIN_HEIGHT: u16 = 6;

/// The regions of the main screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Regions {
    /// The task list, header row included.
    pub list: Rect,
    /// The live pane, title row included.
    pub pane: Rect,
    /// The bottom line.
    pub status: Rect,
    /// The column between list and pane when they are side by side.
    pub separator: Option<Rect>,
}

/// Splits the screen for `tasks` tasks.
pub fn regions(area: Rect, tasks: usize) -> Regions {
    let status = Rect {
        y: area.bottom().saturating_sub(1),
        height: area.height.min(1),
        ..area
    };
    let body = Rect {
        height: area.height.saturating_sub(1),
        ..area
    };
    if area.width >= SIDE_BY_SIDE_WIDTH {
        let list = Rect {
            width: SIDE_LIST_WIDTH,
            ..body
        };
        let separator = Rect {
            x: body.x + SIDE_LIST_WIDTH,
            width: 1,
            ..body
        };
        let pane = Rect {
            x: body.x + SIDE_LIST_WIDTH + 1,
            width: body.width - SIDE_LIST_WIDTH - 1,
            ..body
        };
        return Regions {
            list,
            pane,
            status,
            separator: Some(separator),
        };
    }
    // Header plus one row per task, at most a third of the screen.
    let want = tasks.max(1) as u16 + 1;
    let list_h = want.min((body.height / 3).max(2)).min(body.height);
    let list = Rect {
        height: list_h,
        ..body
    };
    let pane = Rect {
        y: body.y + list_h,
        height: body.height - list_h,
        ..body
    };
    Regions {
        list,
        pane,
        status,
        separator: None,
    }
}

/// The part of the pane under its title row.
pub fn pane_body(pane: Rect) -> Rect {
    Rect {
        y: pane.y.saturating_add(1).min(pane.bottom()),
        height: pane.height.saturating_sub(1),
        ..pane
    }
}

/// The first task row shown so that row `selected` is visible.
pub fn list_offset(list: Rect, selected: usize) -> usize {
    let rows = list.height.saturating_sub(1).max(1) as usize;
    selected.saturating_sub(rows - 1)
}

/// Grid geometry: how many columns, and the tiles that fit (row-major).
pub fn tiles(area: Rect, n: usize) -> (usize, Vec<Rect>) {
    if n == 0 || area.width == 0 || area.height == 0 {
        return (1, vec![]);
    }
    let max_cols = (area.width / TILE_MIN_WIDTH).max(1) as usize;
    let max_rows = (area.height / TILE_MIN_HEIGHT).max(1) as usize;
    // Among the column counts that fit every tile, the one whose tiles are
    // closest to a pleasant shape (about 3.5 cells wide per row).
    let shape = |c: usize| {
        let w = area.width as f64 / c as f64;
        let h = area.height as f64 / n.div_ceil(c) as f64;
        (w / h - 3.5).abs()
    };
    let cols = (1..=max_cols.min(n))
        .filter(|c| n.div_ceil(*c) <= max_rows)
        .min_by(|a, b| shape(*a).total_cmp(&shape(*b)))
        .unwrap_or(max_cols.min(n));
    let rows = n.div_ceil(cols).min(max_rows);
    let mut out = Vec::new();
    for r in 0..rows {
        let y0 = area.y + (area.height as usize * r / rows) as u16;
        let y1 = area.y + (area.height as usize * (r + 1) / rows) as u16;
        for c in 0..cols {
            if out.len() == n {
                break;
            }
            let x0 = area.x + (area.width as usize * c / cols) as u16;
            let x1 = area.x + (area.width as usize * (c + 1) / cols) as u16;
            out.push(Rect::new(x0, y0, x1 - x0, y1 - y0));
        }
    }
    (cols, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_terminals_stack_wide_ones_go_side_by_side() {
        let r = regions(Rect::new(0, 0, 80, 24), 3);
        assert_eq!(r.list, Rect::new(0, 0, 80, 4));
        assert_eq!(r.pane, Rect::new(0, 4, 80, 19));
        assert_eq!(r.status, Rect::new(0, 23, 80, 1));
        let r = regions(Rect::new(0, 0, 160, 48), 3);
        assert_eq!(r.list.width + 1 + r.pane.width, 160);
        assert_eq!(r.pane.height, 47);
    }

    #[test]
    fn many_tasks_take_at_most_a_third() {
        let r = regions(Rect::new(0, 0, 80, 24), 50);
        assert_eq!(r.list.height, 7);
        assert_eq!(list_offset(r.list, 0), 0);
        assert_eq!(list_offset(r.list, 10), 5);
    }

    #[test]
    fn tiles_adapt_to_the_size_and_never_overlap() {
        let (cols, t) = tiles(Rect::new(0, 0, 80, 23), 4);
        assert_eq!((cols, t.len()), (2, 4));
        let (cols, t) = tiles(Rect::new(0, 0, 160, 47), 16);
        assert_eq!((cols, t.len()), (4, 16));
        for (i, a) in t.iter().enumerate() {
            for b in &t[i + 1..] {
                assert!(!a.intersects(*b), "{a:?} {b:?}");
            }
        }
        // Too many for a small screen: only those that fit.
        let (_, t) = tiles(Rect::new(0, 0, 80, 23), 64);
        assert_eq!(t.len(), 6);
        assert_eq!(
            tiles(Rect::new(0, 0, 80, 23), 1).1,
            vec![Rect::new(0, 0, 80, 23)]
        );
    }
}
