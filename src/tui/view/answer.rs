//! The answer box at the bottom of the live pane: a tool approval shown
//! usefully (see `tool_view`), the question picker, the text being typed;
//! and the follow-up line. The pane draws the transcript above the box, so
//! the agent's last words stay in sight.
//!
//! Pure: draws from the app's state, never changes it. Agent text is
//! sanitized before it is drawn.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Widget};

use crate::core::event::{QuestionItem, QuestionKind};
use crate::core::task::{Task, TaskStatus};
use crate::present::{safe_text, tool_gist, tool_label, truncate};
use crate::tui::answer::{AnswerBox, Compose, Step};
use crate::tui::theme::Theme;
use crate::tui::tool_view::tool_detail;
use crate::tui::wrap::wrap;

/// Most rows a text field grows to before it scrolls.
const MAX_FIELD_ROWS: u16 = 6;

/// What one box shows: a title, lines, maybe a text field, a key line.
struct Content<'a> {
    title: String,
    lines: Vec<Line<'static>>,
    field: Option<&'a ratatui_textarea::TextArea<'static>>,
    footer: Line<'static>,
}

fn hints(th: Theme, pairs: &[(&str, &str)]) -> Line<'static> {
    let mut spans = Vec::new();
    for (i, (key, what)) in pairs.iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw("  "));
        }
        spans.push(Span::styled(key.to_string(), th.key()));
        spans.push(Span::styled(format!(" {what}"), th.dim()));
    }
    Line::from(spans)
}

/// The question of a request, its header as a tag in front.
fn question_lines(item: &QuestionItem, th: Theme, width: usize) -> Vec<Line<'static>> {
    let header = item
        .header
        .as_deref()
        .map(|h| format!("[{}] ", safe_text(h)))
        .unwrap_or_default();
    let text = safe_text(&item.question).replace('\n', " ");
    wrap(
        &[(&header, th.key()), (&text, th.title())],
        width,
        ("", th.title()),
    )
}

fn field_rows(field: &ratatui_textarea::TextArea<'static>) -> u16 {
    (field.lines().len() as u16).clamp(1, MAX_FIELD_ROWS)
}

/// Rows the box wants (borders included), before it is fitted.
fn wanted(c: &Content) -> u16 {
    let field = c.field.map(field_rows).unwrap_or(0);
    (c.lines.len() as u16)
        .saturating_add(field)
        .saturating_add(3)
}

/// The tallest the box may be in a pane body of `height` rows: two thirds
/// of it, so some of the transcript stays visible.
fn max_height(height: u16) -> u16 {
    (height * 2 / 3).max(7).min(height)
}

/// Draws the box at the bottom of `area`, `height` rows tall.
fn draw(c: Content, th: Theme, area: Rect, height: u16, buf: &mut Buffer) {
    let height = height.min(area.height);
    if height == 0 {
        return;
    }
    let rect = Rect {
        y: area.bottom() - height,
        height,
        ..area
    };
    Clear.render(rect, buf);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(th.status(TaskStatus::Blocked))
        .title(Span::styled(
            truncate(
                &format!(" {} ", safe_text(&c.title)),
                (rect.width as usize).saturating_sub(2),
            ),
            th.title(),
        ));
    let inner = block.inner(rect);
    block.render(rect, buf);
    if inner.height == 0 {
        return;
    }
    let footer_row = Rect {
        y: inner.bottom() - 1,
        height: 1,
        ..inner
    };
    c.footer.render(footer_row, buf);
    let room = inner.height.saturating_sub(1);
    let field_h = c.field.map(field_rows).unwrap_or(0).min(room);
    let text_h = (room - field_h) as usize;
    let mut lines = c.lines;
    if lines.len() > text_h && text_h > 0 {
        // What does not fit is counted, never silently cut.
        let more = lines.len() - (text_h - 1);
        lines.truncate(text_h - 1);
        lines.push(Line::styled(
            format!("… {more} more lines (a bigger terminal shows more)"),
            th.dim(),
        ));
    }
    for (i, line) in lines.into_iter().take(text_h).enumerate() {
        line.render(
            Rect {
                y: inner.y + i as u16,
                height: 1,
                ..inner
            },
            buf,
        );
    }
    if let Some(field) = c.field
        && field_h > 0
    {
        field.render(
            Rect {
                y: inner.y + text_h as u16,
                height: field_h,
                ..inner
            },
            buf,
        );
    }
}

fn answer_content<'a>(b: &'a AnswerBox, th: Theme, width: usize) -> Content<'a> {
    let q = &b.question;
    let tool = safe_text(q.tool.as_deref().unwrap_or("a tool"));
    match &b.step {
        Step::Approve => {
            // "Always" remembers the exact command for a shell, the tool
            // otherwise: say which, so nobody allows more than they think.
            let always = if q.input.get("command").is_some_and(|c| c.is_string()) {
                "always: this command, this task"
            } else {
                "always: this tool, this task"
            };
            Content {
                title: format!(
                    "allow {}?",
                    safe_text(&tool_label(q.tool.as_deref().unwrap_or("a tool")))
                ),
                lines: tool_detail(&tool, &q.input, th, width),
                field: None,
                footer: hints(
                    th,
                    &[
                        ("y", "allow once"),
                        ("a", always),
                        ("n", "deny…"),
                        ("Esc", "later"),
                    ],
                ),
            }
        }
        Step::DenyMessage => Content {
            title: format!("deny {tool}: {}", tool_gist(&q.input, 60)),
            lines: vec![Line::styled(
                "A message for the agent (optional): why not, or what to do instead",
                th.dim(),
            )],
            field: Some(&b.text),
            footer: hints(
                th,
                &[
                    ("Enter", "deny"),
                    ("Alt-Enter", "new line"),
                    ("Esc", "back"),
                ],
            ),
        },
        Step::Pick {
            index,
            cursor,
            chosen,
        } => {
            let mut lines = answered(b, th, width);
            let Some(item) = q.questions.get(*index) else {
                return empty(th);
            };
            lines.extend(question_lines(item, th, width));
            for (i, option) in item.options.iter().enumerate() {
                let mark = match (item.multi_select, chosen.get(i).copied().unwrap_or(false)) {
                    (true, true) => "[x] ",
                    (true, false) => "[ ] ",
                    (false, _) => "",
                };
                let here = i == *cursor;
                let style = if here { th.selected() } else { th.text() };
                let head = format!(
                    "{}{mark}{}. {}",
                    if here { "› " } else { "  " },
                    i + 1,
                    safe_text(&option.label)
                );
                let desc = option
                    .description
                    .as_deref()
                    .map(|d| format!(" — {}", safe_text(d)))
                    .unwrap_or_default();
                lines.extend(wrap(
                    &[(&head, style), (&desc, th.dim())],
                    width,
                    ("      ", th.dim()),
                ));
            }
            let own = *cursor == item.options.len();
            lines.push(Line::styled(
                format!(
                    "{}other: type your own answer…",
                    if own { "› " } else { "  " }
                ),
                if own { th.selected() } else { th.dim() },
            ));
            let mut keys = vec![("↑↓", "move")];
            if item.multi_select {
                keys.push(("Space", "tick"));
                keys.push(("Enter", "send the ticked"));
            } else {
                keys.push(("Enter", "choose"));
            }
            keys.extend([("Tab", "own words"), ("Esc", "later")]);
            Content {
                title: question_title(b, *index),
                lines,
                field: None,
                footer: hints(th, &keys),
            }
        }
        Step::FreeText { index } => {
            let mut lines = answered(b, th, width);
            if let Some(item) = q.questions.get(*index) {
                lines.extend(question_lines(item, th, width));
            }
            let back = if b.options(*index).is_empty() {
                "later"
            } else {
                "back to the options"
            };
            Content {
                title: question_title(b, *index),
                lines,
                field: Some(&b.text),
                footer: hints(
                    th,
                    &[("Enter", "send"), ("Alt-Enter", "new line"), ("Esc", back)],
                ),
            }
        }
    }
}

fn empty(th: Theme) -> Content<'static> {
    Content {
        title: String::new(),
        lines: vec![],
        field: None,
        footer: hints(th, &[("Esc", "later")]),
    }
}

/// The earlier questions of this request and what the user answered.
fn answered(b: &AnswerBox, th: Theme, width: usize) -> Vec<Line<'static>> {
    b.answered()
        .iter()
        .flat_map(|(q, a)| {
            let q = safe_text(q);
            let a = safe_text(a);
            wrap(
                &[
                    ("✓ ", th.ok()),
                    (&q, th.dim()),
                    (" → ", th.dim()),
                    (&a, th.ok()),
                ],
                width,
                ("  ", th.dim()),
            )
        })
        .collect()
}

fn question_title(b: &AnswerBox, index: usize) -> String {
    let q = &b.question;
    let of = if q.questions.len() > 1 {
        format!(" ({}/{})", index + 1, q.questions.len())
    } else {
        String::new()
    };
    let who = match q.kind {
        QuestionKind::Question => "the agent asks",
        QuestionKind::Approval => "the agent wants",
    };
    format!("{who}{of}")
}

fn compose_content<'a>(c: &'a Compose, task: Option<&Task>, th: Theme) -> Content<'a> {
    // Where the message goes, so nobody wonders whether it is live.
    let how = match task {
        Some(t) if t.process_alive && t.stdin_open && t.spec.wire().is_live() => {
            "live, same session"
        }
        Some(t) if t.process_alive => "typed into its terminal",
        Some(t) if t.session_id.is_some() => "resumes its session",
        Some(_) => "starts it again with your message",
        None => "",
    };
    let who = task
        .map(|t| format!("#{} {}", t.id, t.spec.agent.name()))
        .unwrap_or_else(|| format!("#{}", c.task));
    Content {
        title: if how.is_empty() {
            format!("message to {who}")
        } else {
            format!("message to {who} ({how})")
        },
        lines: vec![],
        field: Some(&c.text),
        footer: hints(
            th,
            &[
                ("Enter", "send"),
                ("Alt-Enter", "new line"),
                ("Esc", "cancel"),
            ],
        ),
    }
}

/// Rows the answer box takes at the bottom of a pane body of `area`.
pub fn answer_height(b: &AnswerBox, th: Theme, area: Rect) -> u16 {
    let c = answer_content(b, th, inner_width(area));
    wanted(&c).min(max_height(area.height))
}

/// Rows the follow-up line takes at the bottom of a pane body of `area`.
pub fn compose_height(c: &Compose, task: Option<&Task>, th: Theme, area: Rect) -> u16 {
    wanted(&compose_content(c, task, th)).min(max_height(area.height))
}

fn inner_width(area: Rect) -> usize {
    area.width.saturating_sub(2).max(1) as usize
}

/// Draws the answer box of a blocked task at the bottom of `area`.
pub fn render_answer(b: &AnswerBox, th: Theme, area: Rect, buf: &mut Buffer) {
    let height = answer_height(b, th, area);
    draw(
        answer_content(b, th, inner_width(area)),
        th,
        area,
        height,
        buf,
    );
}

/// Draws the follow-up line at the bottom of `area`.
pub fn render_compose(c: &Compose, task: Option<&Task>, th: Theme, area: Rect, buf: &mut Buffer) {
    let height = compose_height(c, task, th, area);
    draw(compose_content(c, task, th), th, area, height, buf);
}
