//! The answer box at the bottom of the live pane: a tool approval shown
//! usefully (the command; for edits the file and the change as a diff),
//! the question picker, the text being typed; and the follow-up line.
//!
//! Pure: draws from the app's state, never changes it. Agent text is
//! sanitized before it is drawn.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget, Wrap};
use serde_json::Value;

use crate::core::event::QuestionKind;
use crate::present::{safe_text, tool_gist, truncate};
use crate::tui::answer::{AnswerBox, Compose, Step};
use crate::tui::theme::Theme;

/// Most lines of a diff or a file shown in an approval.
const MAX_DETAIL_LINES: usize = 12;

/// The lines that show what a tool call would do.
fn tool_detail(tool: &str, input: &Value, th: Theme, width: usize) -> Vec<Line<'static>> {
    let text = |v: &str| -> Vec<String> { safe_text(v).lines().map(str::to_string).collect() };
    let path = input
        .get("file_path")
        .or_else(|| input.get("path"))
        .and_then(Value::as_str);
    let mut lines: Vec<Line<'static>> = Vec::new();
    let diff = |sign: &str, body: &str, style: Style, lines: &mut Vec<Line<'static>>| {
        for l in text(body) {
            lines.push(Line::styled(truncate(&format!("{sign} {l}"), width), style));
        }
    };
    match (tool, input.get("old_string"), input.get("new_string")) {
        (_, Some(old), Some(new)) => {
            lines.push(Line::styled(
                safe_text(path.unwrap_or("(no path)")),
                th.title(),
            ));
            diff("-", old.as_str().unwrap_or(""), th.error(), &mut lines);
            diff("+", new.as_str().unwrap_or(""), th.ok(), &mut lines);
        }
        ("Write", _, _) => {
            lines.push(Line::styled(
                format!("{} (new content)", safe_text(path.unwrap_or("(no path)"))),
                th.title(),
            ));
            let content = input.get("content").and_then(Value::as_str).unwrap_or("");
            diff("+", content, th.ok(), &mut lines);
        }
        _ if input.get("command").is_some() => {
            for l in text(input["command"].as_str().unwrap_or("")) {
                lines.push(Line::styled(truncate(&format!("$ {l}"), width), th.text()));
            }
        }
        _ => {
            let pretty = serde_json::to_string_pretty(input).unwrap_or_default();
            for l in text(&pretty) {
                lines.push(Line::styled(truncate(&l, width), th.dim()));
            }
        }
    }
    if lines.len() > MAX_DETAIL_LINES {
        let more = lines.len() - MAX_DETAIL_LINES;
        lines.truncate(MAX_DETAIL_LINES);
        lines.push(Line::styled(format!("… {more} more lines"), th.dim()));
    }
    lines
}

fn hints(th: Theme, pairs: &[(&str, &str)]) -> Line<'static> {
    let mut spans = Vec::new();
    for (key, what) in pairs {
        spans.push(Span::styled(key.to_string(), th.key()));
        spans.push(Span::styled(format!(" {what}   "), th.dim()));
    }
    Line::from(spans)
}

/// Draws `lines` (and a text field under them) in a box at the bottom of
/// `area`; returns where the text field is, if any.
fn boxed(
    title: String,
    mut lines: Vec<Line<'static>>,
    field: bool,
    footer: Line<'static>,
    th: Theme,
    area: Rect,
    buf: &mut Buffer,
) -> Option<Rect> {
    let field_rows = if field { 3 } else { 0 };
    let want = lines.len() as u16 + field_rows + 3;
    let height = want
        .min(area.height.saturating_sub(2).max(4))
        .min(area.height);
    let rect = Rect {
        y: area.bottom() - height,
        height,
        ..area
    };
    Clear.render(rect, buf);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(th.status(crate::core::task::TaskStatus::Blocked))
        .title(Span::styled(
            truncate(&format!(" {} ", safe_text(&title)), rect.width as usize - 2),
            th.title(),
        ));
    let inner = block.inner(rect);
    block.render(rect, buf);
    if inner.height == 0 {
        return None;
    }
    let footer_row = Rect {
        y: inner.bottom() - 1,
        height: 1,
        ..inner
    };
    footer.render(footer_row, buf);
    let room = inner.height.saturating_sub(1);
    let field_h = if field { field_rows.min(room) } else { 0 };
    let text_h = room - field_h;
    lines.truncate(text_h as usize);
    Paragraph::new(lines).wrap(Wrap { trim: false }).render(
        Rect {
            height: text_h,
            ..inner
        },
        buf,
    );
    field.then_some(Rect {
        y: inner.y + text_h,
        height: field_h,
        ..inner
    })
}

/// The answer box of a blocked task.
pub fn render_answer(b: &AnswerBox, th: Theme, area: Rect, buf: &mut Buffer) {
    let width = area.width.saturating_sub(4) as usize;
    let q = &b.question;
    let tool = q.tool.clone().unwrap_or_else(|| "the agent".into());
    match &b.step {
        Step::Approve => {
            let footer = hints(
                th,
                &[
                    ("y", "allow once"),
                    ("a", "always (this task)"),
                    ("n", "deny"),
                    ("Esc", "later"),
                ],
            );
            let detail = tool_detail(&tool, &q.input, th, width);
            boxed(
                format!("{tool} wants to run"),
                detail,
                false,
                footer,
                th,
                area,
                buf,
            );
        }
        Step::DenyMessage => {
            let footer = hints(th, &[("Enter", "deny"), ("Esc", "back")]);
            let lines = vec![Line::styled(
                "Why not? An optional message for the agent:",
                th.dim(),
            )];
            if let Some(field) = boxed(
                format!("deny {tool}: {}", tool_gist(&q.input, 60)),
                lines,
                true,
                footer,
                th,
                area,
                buf,
            ) {
                b.text.render(field, buf);
            }
        }
        Step::Pick {
            index,
            cursor,
            chosen,
        } => {
            let Some(item) = q.questions.get(*index) else {
                return;
            };
            let mut lines = Vec::new();
            for (i, option) in item.options.iter().enumerate() {
                let mark = match (item.multi_select, chosen.get(i).copied().unwrap_or(false)) {
                    (true, true) => "[x] ",
                    (true, false) => "[ ] ",
                    (false, _) => "",
                };
                let pointer = if i == *cursor { "› " } else { "  " };
                let style = if i == *cursor {
                    th.selected()
                } else {
                    th.text()
                };
                let mut text = format!("{pointer}{mark}{}. {}", i + 1, safe_text(&option.label));
                if let Some(d) = &option.description {
                    text.push_str(&format!(" — {}", safe_text(d)));
                }
                lines.push(Line::styled(truncate(&text, width), style));
            }
            let own = *cursor == item.options.len();
            lines.push(Line::styled(
                format!("{}type your own answer…", if own { "› " } else { "  " }),
                if own { th.selected() } else { th.dim() },
            ));
            let mut keys = vec![("↑↓", "move"), ("Enter", "confirm")];
            if item.multi_select {
                keys.insert(1, ("Space", "toggle"));
            }
            keys.extend([("Tab", "own words"), ("Esc", "later")]);
            boxed(
                question_title(b, *index),
                lines,
                false,
                hints(th, &keys),
                th,
                area,
                buf,
            );
        }
        Step::FreeText { index } => {
            let footer = hints(
                th,
                &[
                    ("Enter", "send"),
                    ("Alt-Enter", "new line"),
                    ("Esc", "back"),
                ],
            );
            if let Some(field) = boxed(
                question_title(b, *index),
                vec![],
                true,
                footer,
                th,
                area,
                buf,
            ) {
                b.text.render(field, buf);
            }
        }
    }
}

fn question_title(b: &AnswerBox, index: usize) -> String {
    let q = &b.question;
    let Some(item) = q.questions.get(index) else {
        return String::new();
    };
    let header = item
        .header
        .as_ref()
        .map(|h| format!("[{h}] "))
        .unwrap_or_default();
    let of = if q.questions.len() > 1 {
        format!(" ({}/{})", index + 1, q.questions.len())
    } else {
        String::new()
    };
    let who = match q.kind {
        QuestionKind::Question => "asks",
        QuestionKind::Approval => "wants",
    };
    format!("{who}: {header}{}{of}", item.question)
}

/// The follow-up line.
pub fn render_compose(c: &Compose, th: Theme, area: Rect, buf: &mut Buffer) {
    let footer = hints(
        th,
        &[
            ("Enter", "send"),
            ("Alt-Enter", "new line"),
            ("Esc", "cancel"),
        ],
    );
    if let Some(field) = boxed(
        format!("message to #{}", c.task),
        vec![],
        true,
        footer,
        th,
        area,
        buf,
    ) {
        c.text.render(field, buf);
    }
}
