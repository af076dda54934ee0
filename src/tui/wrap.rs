//! Word wrapping of styled text to a column width, by display width.
//!
//! Pure: strings in, ratatui lines out. Never panics, whatever the text;
//! tabs become spaces so no control character reaches the screen buffer.

use ratatui::style::Style;
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthChar;

/// Spaces a tab expands to.
const TAB: &str = "    ";

/// Wraps one logical line made of styled segments to `width` columns.
///
/// Breaks after the last space that fits, or inside a word longer than the
/// line. Continuation lines start with `indent` (in its own style). Always
/// returns at least one line.
pub fn wrap(segments: &[(&str, Style)], width: usize, indent: (&str, Style)) -> Vec<Line<'static>> {
    let width = width.max(1);
    let indent_w: usize = indent.0.chars().filter_map(UnicodeWidthChar::width).sum();
    let cont_width = if indent_w + 1 < width {
        width - indent_w
    } else {
        width
    };
    if segments
        .iter()
        .all(|(text, _)| text.bytes().all(|b| (b' '..=b'~').contains(&b)))
    {
        return wrap_ascii(segments, width, cont_width, indent);
    }
    let mut cells: Vec<(char, Style, usize)> = Vec::new();
    for (text, style) in segments {
        for c in text.chars() {
            if c == '\t' {
                cells.extend(TAB.chars().map(|s| (s, *style, 1)));
            } else if c.is_control() {
                continue;
            } else {
                cells.push((c, *style, c.width().unwrap_or(0)));
            }
        }
    }
    let mut out = Vec::new();
    let mut start = 0;
    let mut first = true;
    loop {
        let avail = if first { width } else { cont_width };
        let mut used = 0;
        let mut end = start;
        while end < cells.len() && used + cells[end].2 <= avail {
            used += cells[end].2;
            end += 1;
        }
        // A character wider than the whole line still has to go somewhere.
        if end == start && end < cells.len() {
            end += 1;
        }
        let (line_end, next) = if end >= cells.len() {
            (cells.len(), cells.len())
        } else if let Some(space) = (start + 1..end).rev().find(|&i| cells[i].0 == ' ') {
            (space, space + 1)
        } else {
            (end, end)
        };
        let mut spans = Vec::new();
        if !first && cont_width != width {
            spans.push(Span::styled(indent.0.to_string(), indent.1));
        }
        push_cells(&mut spans, &cells[start..line_end]);
        out.push(Line::from(spans));
        first = false;
        start = next;
        if start >= cells.len() {
            break;
        }
    }
    out
}

/// [`wrap`] for text of printable ASCII only (most agent output): one
/// column per byte, so lines are cut by byte index with no per-character
/// work. Gives exactly the lines the general path gives.
fn wrap_ascii(
    segments: &[(&str, Style)],
    width: usize,
    cont_width: usize,
    indent: (&str, Style),
) -> Vec<Line<'static>> {
    let text: String = segments.iter().map(|(t, _)| *t).collect();
    // Where each style's run ends, consecutive equal styles joined.
    let mut runs: Vec<(usize, Style)> = Vec::with_capacity(segments.len());
    let mut end = 0;
    for (t, style) in segments {
        if t.is_empty() {
            continue;
        }
        end += t.len();
        match runs.last_mut() {
            Some((last_end, last)) if last == style => *last_end = end,
            _ => runs.push((end, *style)),
        }
    }
    let bytes = text.as_bytes();
    let len = bytes.len();
    let mut out = Vec::new();
    let mut start = 0;
    let mut first = true;
    loop {
        let avail = if first { width } else { cont_width };
        let end = (start + avail).min(len);
        let (line_end, next) = if end >= len {
            (len, len)
        } else if let Some(space) = (start + 1..end).rev().find(|&i| bytes[i] == b' ') {
            (space, space + 1)
        } else {
            (end, end)
        };
        let mut spans = Vec::new();
        if !first && cont_width != width {
            spans.push(Span::styled(indent.0.to_string(), indent.1));
        }
        let mut from = start;
        for &(run_end, style) in &runs {
            if from >= line_end {
                break;
            }
            if run_end <= from {
                continue;
            }
            let to = run_end.min(line_end);
            spans.push(Span::styled(text[from..to].to_string(), style));
            from = to;
        }
        out.push(Line::from(spans));
        first = false;
        start = next;
        if start >= len {
            break;
        }
    }
    out
}

/// Groups consecutive cells of one style into spans.
fn push_cells(spans: &mut Vec<Span<'static>>, cells: &[(char, Style, usize)]) {
    let mut i = 0;
    while i < cells.len() {
        let style = cells[i].1;
        let mut s = String::new();
        while i < cells.len() && cells[i].1 == style {
            s.push(cells[i].0);
            i += 1;
        }
        spans.push(Span::styled(s, style));
    }
}

/// The text of a line without its styles.
pub fn plain(line: &Line<'_>) -> String {
    line.spans.iter().map(|s| s.content.as_ref()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(lines: &[Line<'_>]) -> Vec<String> {
        lines.iter().map(plain).collect()
    }

    #[test]
    fn breaks_at_spaces_and_indents_continuations() {
        let s = Style::new();
        let lines = wrap(&[("the quick brown fox jumps", s)], 10, ("  ", s));
        assert_eq!(texts(&lines), ["the quick", "  brown", "  fox", "  jumps"]);
    }

    #[test]
    fn long_words_are_cut_and_wide_chars_respected() {
        let s = Style::new();
        assert_eq!(
            texts(&wrap(&[("abcdefghij", s)], 4, ("", s))),
            ["abcd", "efgh", "ij"]
        );
        // Each CJK character takes two columns.
        assert_eq!(
            texts(&wrap(&[("日本語です", s)], 4, ("", s))),
            ["日本", "語で", "す"]
        );
    }

    #[test]
    fn no_control_character_survives() {
        let s = Style::new();
        let lines = wrap(&[("a\tb\u{1b}[2J\u{7}", s)], 80, ("", s));
        assert_eq!(texts(&lines), ["a    b[2J"]);
    }

    /// The general path, forced (a tab is a non-ASCII-plain byte that
    /// becomes spaces): the ASCII path must give the same lines.
    fn general(
        segments: &[(&str, Style)],
        width: usize,
        indent: (&str, Style),
    ) -> Vec<Line<'static>> {
        let with_tab: Vec<(String, Style)> = segments
            .iter()
            .map(|(t, s)| (t.replace("    ", "\t"), *s))
            .collect();
        let refs: Vec<(&str, Style)> = with_tab.iter().map(|(t, s)| (t.as_str(), *s)).collect();
        let mut forced = refs.clone();
        forced.push(("\u{1}", Style::default()));
        wrap(&forced, width, indent)
    }

    #[test]
    fn ascii_lines_are_cut_as_the_general_path_cuts_them() {
        let red = Style::default().fg(ratatui::style::Color::Red);
        let dim = Style::default().add_modifier(ratatui::style::Modifier::DIM);
        let cases: Vec<Vec<(&str, Style)>> = vec![
            vec![("the quick brown fox jumps over the lazy dog", red)],
            vec![
                ("  7 ", dim),
                ("compiling crate ", red),
                ("ok", red),
                ("", dim),
                (" done", dim),
            ],
            vec![("averyveryverylongwordwithoutanyspaceatall and more", red)],
            vec![("ends with spaces    ", red), ("   x", dim)],
            vec![("", red)],
            vec![(" ", red), ("a b", dim)],
        ];
        for segments in &cases {
            for width in [1, 2, 3, 5, 8, 13, 40, 200] {
                for indent in [("", dim), ("  ", dim), ("      ", red)] {
                    assert_eq!(
                        wrap(segments, width, indent),
                        general(segments, width, indent),
                        "{segments:?} at {width} with {indent:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn empty_text_is_one_empty_line() {
        assert_eq!(texts(&wrap(&[], 10, ("", Style::new()))), [""]);
    }
}
