//! The diff view of a worktree task: the changed files with their status
//! letters and line counts, then the unified diff, coloured and scrollable.
//!
//! Pure: draws [`Changes`] (from `worktree::changes`, computed off the UI
//! thread) into a buffer. Every line is sanitized before it is drawn (the
//! files are agent-written), tabs become spaces, long lines are cut at the
//! edge rather than wrapped. Only the visible lines are built, so a large
//! diff costs one scan per frame. Never reads the environment or git.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget};

use crate::agent::sanitize::sanitize_line;
use crate::core::task::ChangeCount;
use crate::present::change_count;
use crate::review::{DiffLineKind, classify};
use crate::tui::theme::Theme;
use crate::worktree::{Changes, FileStatus};

/// Spaces a tab becomes.
const TAB: &str = "    ";

/// How many lines the view has (file list, a blank line, the diff), so the
/// caller can keep `scroll` within `0..line_count - visible rows`.
pub fn line_count(changes: &Changes) -> usize {
    if changes.files.is_empty() {
        return 1;
    }
    changes.files.len() + 1 + changes.diff.lines().count() + usize::from(changes.diff_truncated)
}

/// The largest useful scroll offset for a view of `area`'s size.
pub fn max_scroll(changes: &Changes, area: Rect) -> usize {
    line_count(changes).saturating_sub(usize::from(area.height.saturating_sub(2)))
}

/// Draws the diff view over `area`, its content scrolled down by `scroll`
/// lines (clamped so the last line can reach the bottom, no further).
pub fn render(changes: &Changes, scroll: usize, theme: Theme, area: Rect, buf: &mut Buffer) {
    let (added, deleted) = changes.line_totals();
    let summary = change_count(&ChangeCount {
        files: changes.file_count(),
        added,
        deleted,
    });
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border())
        .title(Span::styled(
            format!(" changes · {summary} "),
            theme.title(),
        ));
    let inner = block.inner(area);
    let rows = usize::from(inner.height);
    let scroll = scroll.min(max_scroll(changes, area));
    let lines = visible_lines(changes, theme, scroll, rows);
    Clear.render(area, buf);
    Paragraph::new(lines).block(block).render(area, buf);
}

/// The view while git still reads the changes (the review opens at once).
pub fn render_reading(theme: Theme, area: Rect, buf: &mut Buffer) {
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border())
        .title(Span::styled(" changes ", theme.title()));
    Clear.render(area, buf);
    Paragraph::new(Line::styled("reading the changes…", theme.dim()))
        .block(block)
        .render(area, buf);
}

/// Lines `scroll..scroll + rows` of the view.
fn visible_lines(
    changes: &Changes,
    theme: Theme,
    scroll: usize,
    rows: usize,
) -> Vec<Line<'static>> {
    if changes.files.is_empty() {
        return vec![Line::styled("no changes against the base yet", theme.dim())];
    }
    let end = scroll.saturating_add(rows);
    let mut out = Vec::with_capacity(rows);
    let mut index = 0usize;
    let mut take = |line: &dyn Fn() -> Line<'static>, out: &mut Vec<Line<'static>>| {
        if index >= scroll && index < end {
            out.push(line());
        }
        index += 1;
        index < end
    };
    let width = changes
        .files
        .iter()
        .map(|f| count_text(f).len())
        .max()
        .unwrap_or(0);
    for f in &changes.files {
        let more = take(
            &|| {
                let path = match &f.status {
                    FileStatus::Renamed { from } => format!("{from} → {}", f.path),
                    _ => f.path.clone(),
                };
                Line::from(vec![
                    Span::styled(
                        format!("{} ", f.status.letter()),
                        status_style(theme, &f.status),
                    ),
                    Span::styled(format!("{:>width$}  ", count_text(f)), theme.dim()),
                    Span::raw(clean(&path)),
                ])
            },
            &mut out,
        );
        if !more {
            return out;
        }
    }
    if !take(&|| Line::raw(""), &mut out) {
        return out;
    }
    for (kind, text) in classify(&changes.diff) {
        if !take(
            &|| Line::styled(clean(text), kind_style(theme, kind)),
            &mut out,
        ) {
            return out;
        }
    }
    if changes.diff_truncated {
        take(
            &|| {
                Line::styled(
                    "[the diff is too long to show in full; it was cut here]",
                    theme.warn(),
                )
            },
            &mut out,
        );
    }
    out
}

/// `+3 -1`, or `binary`.
fn count_text(f: &crate::worktree::FileChange) -> String {
    if f.binary {
        "binary".into()
    } else {
        format!("+{} -{}", f.added, f.deleted)
    }
}

/// A line safe to draw: no control sequences, tabs as spaces.
fn clean(text: &str) -> String {
    sanitize_line(&text.replace('\t', TAB))
}

fn colour(theme: Theme, c: Color) -> Style {
    if theme.color {
        Style::new().fg(c)
    } else {
        Style::new()
    }
}

fn status_style(theme: Theme, status: &FileStatus) -> Style {
    let c = match status {
        FileStatus::Added => Color::Green,
        FileStatus::Deleted => Color::Red,
        FileStatus::Modified => Color::Yellow,
        FileStatus::Renamed { .. } => Color::Cyan,
    };
    colour(theme, c).add_modifier(Modifier::BOLD)
}

fn kind_style(theme: Theme, kind: DiffLineKind) -> Style {
    match kind {
        DiffLineKind::Header => Style::new().add_modifier(Modifier::BOLD),
        DiffLineKind::Hunk => colour(theme, Color::Cyan),
        DiffLineKind::Added => colour(theme, Color::Green),
        DiffLineKind::Deleted => colour(theme, Color::Red),
        DiffLineKind::Context => Style::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::worktree::FileChange;

    fn file(path: &str, status: FileStatus, added: u64, deleted: u64) -> FileChange {
        FileChange {
            path: path.into(),
            status,
            added,
            deleted,
            binary: false,
        }
    }

    /// Three files: one modified, one added, one deleted, with a hostile
    /// escape sequence and a tab in the added file.
    fn changes() -> Changes {
        let diff = "\
diff --git a/added.txt b/added.txt
new file mode 100644
index 0000000..b13abe1
--- /dev/null
+++ b/added.txt
@@ -0,0 +1,3 @@
+a new file
+\tindented \u{1b}]0;pwned\u{7}line
+-- not a header
diff --git a/src/greeting.rs b/src/greeting.rs
index 27019c3..76d5e4b 100644
--- a/src/greeting.rs
+++ b/src/greeting.rs
@@ -1,4 +1,4 @@
 fn greet() {
-    println!(\"hello\");
+    println!(\"hello from the agent\");
 }
 
diff --git a/obsolete.txt b/obsolete.txt
deleted file mode 100644
index 3367afd..0000000
--- a/obsolete.txt
+++ /dev/null
@@ -1 +0,0 @@
-old stuff
";
        Changes::new(
            "0123456789".into(),
            vec![
                file("added.txt", FileStatus::Added, 3, 0),
                file("src/greeting.rs", FileStatus::Modified, 1, 1),
                file("obsolete.txt", FileStatus::Deleted, 0, 1),
            ],
            diff.into(),
            false,
        )
    }

    fn draw(changes: &Changes, scroll: usize, theme: Theme, w: u16, h: u16) -> Buffer {
        let area = Rect::new(0, 0, w, h);
        let mut buf = Buffer::empty(area);
        render(changes, scroll, theme, area, &mut buf);
        buf
    }

    fn text(buf: &Buffer) -> String {
        let area = buf.area;
        (0..area.height)
            .map(|y| {
                (0..area.width)
                    .map(|x| buf[(x, y)].symbol())
                    .collect::<String>()
                    .trim_end()
                    .to_string()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The row whose text starts (after the border) with `prefix`.
    fn row(buf: &Buffer, prefix: &str) -> u16 {
        let t = text(buf);
        t.lines()
            .position(|l| l.trim_start_matches('│').starts_with(prefix))
            .unwrap_or_else(|| panic!("no row {prefix:?} in\n{t}")) as u16
    }

    #[test]
    fn snapshot_80x24() {
        let buf = draw(&changes(), 0, Theme { color: true }, 80, 24);
        insta::assert_snapshot!("diff_80x24", text(&buf));
    }

    #[test]
    fn snapshot_160x48() {
        let buf = draw(&changes(), 0, Theme { color: true }, 160, 48);
        insta::assert_snapshot!("diff_160x48", text(&buf));
    }

    #[test]
    fn scrolling_moves_the_content_and_stops_at_the_last_line() {
        let c = changes();
        let buf = draw(&c, 4, Theme { color: true }, 80, 10);
        assert_eq!(row(&buf, "diff --git a/added.txt"), 1, "{}", text(&buf));
        let end = draw(&c, 10_000, Theme { color: true }, 80, 10);
        let t = text(&end);
        assert_eq!(
            t.lines().nth(8).unwrap().trim_end_matches('│').trim_end(),
            "│-old stuff",
            "{t}"
        );
        assert_eq!(max_scroll(&c, Rect::new(0, 0, 80, 10)), line_count(&c) - 8);
    }

    #[test]
    fn lines_are_coloured_by_kind_and_never_carry_escapes() {
        let c = changes();
        let buf = draw(&c, 0, Theme { color: true }, 80, 40);
        let t = text(&buf);
        assert!(!t.contains("pwned") && !t.contains('\u{1b}'), "{t}");
        assert!(t.contains("│+    indented line"), "{t}");
        let fg = |prefix: &str| buf[(1, row(&buf, prefix))].fg;
        assert_eq!(fg("+a new file"), Color::Green);
        assert_eq!(fg("+-- not a header"), Color::Green);
        assert_eq!(fg("-    println"), Color::Red);
        assert_eq!(fg("@@ -1,4"), Color::Cyan);
        assert_eq!(fg("A +3 -0"), Color::Green);
        assert_eq!(fg("D +0 -1"), Color::Red);
        let header = buf[(1, row(&buf, "diff --git a/src"))].modifier;
        assert!(header.contains(Modifier::BOLD));
        let plain = draw(&c, 0, Theme { color: false }, 80, 40);
        assert_eq!(plain[(1, row(&plain, "+a new file"))].fg, Color::Reset);
    }

    #[test]
    fn no_changes_says_so() {
        let empty = Changes::new("0".into(), vec![], String::new(), false);
        let t = text(&draw(&empty, 3, Theme { color: true }, 80, 6));
        assert!(t.contains("changes · no changes"), "{t}");
        assert!(t.contains("no changes against the base yet"), "{t}");
    }
}
