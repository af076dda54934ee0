//! A task's transcript as wrapped, styled screen lines, cached.
//!
//! Each transcript entry becomes the lines the describer words for it
//! (`crate::describe`), styled by the theme and wrapped (or cut) to the
//! width: assistant text wrapped, thinking dimmed and folded to its latest
//! line, a tool call as one compact line with its result folded (or
//! expanded), a subagent's work under the call that started it (a live
//! gist, or all of it when expanded). [`TaskLines`] keeps the lines
//! of one task at one width and only re-renders what changed: entries
//! before the last one never change (deltas merge into the last entry), so
//! a long transcript is not re-wrapped every frame.
//!
//! Pure: never does IO and never words an event itself. Agent text arrives
//! made safe by the describer, and wrapping drops any control character
//! left, so no escape sequence reaches the terminal.

use std::collections::{HashSet, VecDeque};

use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::subagents::{Subagents, parent_of, subagent_call};
use super::theme::Theme;
use super::wrap::wrap;
use crate::core::event::AgentEvent;
use crate::core::transcript::Transcript;
use crate::describe::{self, Fit, Layout, Tone, describe};
use crate::present::truncate;

/// Which tool results of a task are shown in full.
#[derive(Debug, Clone, Default)]
pub struct Expansion {
    /// Every result expanded (`e`).
    pub all: bool,
    /// Results toggled one by one (a click), by absolute entry index.
    pub toggled: HashSet<u64>,
    /// Bumped on every change, part of the cache key.
    pub version: u64,
}

impl Expansion {
    /// Whether the result at absolute entry index `entry` is expanded.
    pub fn is_expanded(&self, entry: u64) -> bool {
        self.all != self.toggled.contains(&entry)
    }

    /// Expands or folds every result.
    pub fn toggle_all(&mut self) {
        self.all = !self.all;
        self.toggled.clear();
        self.version += 1;
    }

    /// Expands or folds one result.
    pub fn toggle(&mut self, entry: u64) {
        if !self.toggled.remove(&entry) {
            self.toggled.insert(entry);
        }
        self.version += 1;
    }
}

/// One screen line of the pane and the entry it came from.
#[derive(Debug, Clone)]
pub struct PaneLine {
    pub line: Line<'static>,
    /// Absolute index of the transcript entry (dropped entries included).
    pub entry: u64,
    /// True on the lines of a tool result, which a click folds or expands.
    pub foldable: bool,
}

/// The rendered lines of one task at one width.
#[derive(Debug, Clone)]
pub struct TaskLines {
    width: u16,
    expand_version: u64,
    expand_all: bool,
    revision: u64,
    dropped: u64,
    /// `(absolute entry index, number of lines)` for each rendered entry.
    entries: VecDeque<(u64, usize)>,
    lines: VecDeque<PaneLine>,
    theme: Theme,
    /// The finished paragraphs of the last entry, when it is growing text:
    /// they are kept as they are and only the rest is wrapped again.
    tail: Option<Tail>,
    /// The task's subagents, for the lines under their calls.
    subagents: Subagents,
}

/// Lines of a growing text entry up to its last line break.
#[derive(Debug, Clone, Copy)]
struct Tail {
    entry: u64,
    bytes: usize,
    lines: usize,
}

/// The text of a streamed entry, if it is one (thinking only when shown
/// in full: folded, it is one line redrawn as it grows).
fn growing_text(ev: &AgentEvent, expanded: bool) -> Option<&str> {
    match ev {
        AgentEvent::Text { text, .. } => Some(text),
        AgentEvent::Thinking { text, .. } if expanded => Some(text),
        _ => None,
    }
}

/// Whether a click on the entry's lines folds or expands it.
fn is_foldable(ev: &AgentEvent) -> bool {
    matches!(
        ev,
        AgentEvent::ToolResult { .. } | AgentEvent::Thinking { .. }
    ) || subagent_call(ev).is_some()
}

impl TaskLines {
    /// An empty cache for `width` columns.
    pub fn new(width: u16, theme: Theme) -> TaskLines {
        TaskLines {
            width,
            expand_version: u64::MAX,
            expand_all: false,
            revision: u64::MAX,
            dropped: 0,
            entries: VecDeque::new(),
            lines: VecDeque::new(),
            theme,
            tail: None,
            subagents: Subagents::default(),
        }
    }

    /// Brings the lines up to date with `transcript`, re-rendering only the
    /// entries that are new or may have changed.
    pub fn refresh(&mut self, transcript: &Transcript, expansion: &Expansion) {
        if self.expand_version != expansion.version || self.expand_all != expansion.all {
            self.entries.clear();
            self.lines.clear();
            self.tail = None;
            self.subagents.clear();
            self.expand_version = expansion.version;
            self.expand_all = expansion.all;
            self.revision = u64::MAX;
        }
        if self.revision == transcript.revision() {
            return;
        }
        self.revision = transcript.revision();
        self.dropped = transcript.dropped();
        while let Some(&(abs, n)) = self.entries.front() {
            if abs >= self.dropped {
                break;
            }
            self.entries.pop_front();
            self.lines.drain(..n.min(self.lines.len()));
        }
        self.subagents.forget_before(self.dropped);
        // The last entry may have grown (merged deltas): render it again,
        // keeping its finished paragraphs when it is text.
        let mut resume: Option<Tail> = None;
        if let Some((abs, n)) = self.entries.pop_back() {
            let keep = self.lines.len().saturating_sub(n);
            let grown = self.tail.filter(|t| {
                t.entry == abs
                    && transcript
                        .entries()
                        .nth((abs - self.dropped) as usize)
                        .and_then(|ev| growing_text(ev, expansion.is_expanded(abs)))
                        .is_some_and(|text| text.len() >= t.bytes)
            });
            self.lines.truncate(keep + grown.map_or(0, |t| t.lines));
            resume = grown;
        }
        self.tail = None;
        let next = self
            .entries
            .back()
            .map(|&(abs, _)| abs + 1)
            .unwrap_or(self.dropped);
        let skip = (next - self.dropped) as usize;
        // Subagent entries first: a call's gist and nested lines depend on
        // entries after it.
        let mut changed = Vec::new();
        for (i, ev) in transcript.entries().enumerate().skip(skip) {
            if let Some(parent) = self.subagents.observe(self.dropped + i as u64, ev)
                && !changed.contains(&parent)
            {
                changed.push(parent);
            }
        }
        for (i, ev) in transcript.entries().enumerate().skip(skip) {
            let abs = self.dropped + i as u64;
            let foldable = is_foldable(ev);
            let expanded = expansion.is_expanded(abs);
            let (base, rendered) = match growing_text(ev, expanded) {
                Some(text) => {
                    let from = resume.filter(|t| t.entry == abs).unwrap_or(Tail {
                        entry: abs,
                        bytes: 0,
                        lines: 0,
                    });
                    let tone = growing_tone(ev);
                    let rest = text.get(from.bytes..).unwrap_or("");
                    let done = rest.rfind('\n').map_or(0, |p| p + 1);
                    let finished = paragraphs(&rest[..done], tone, self.width, self.theme);
                    self.tail = Some(Tail {
                        entry: abs,
                        bytes: from.bytes + done,
                        lines: from.lines + finished.len(),
                    });
                    let mut lines = finished;
                    lines.extend(paragraphs(&rest[done..], tone, self.width, self.theme));
                    (from.lines, lines)
                }
                None => (0, self.lines_of(ev, transcript, expanded)),
            };
            self.entries.push_back((abs, base + rendered.len()));
            self.lines.extend(rendered.into_iter().map(|line| PaneLine {
                line,
                entry: abs,
                foldable,
            }));
        }
        self.redraw_calls(&changed, next, transcript, expansion);
    }

    /// The lines of a call whose subagent changed, when that call was
    /// drawn before this refresh: drawn again in place.
    fn redraw_calls(
        &mut self,
        changed: &[String],
        first_new: u64,
        transcript: &Transcript,
        expansion: &Expansion,
    ) {
        for parent in changed {
            let Some(call) = self.subagents.get(parent).and_then(|v| v.call) else {
                continue;
            };
            if call >= first_new {
                continue;
            }
            let mut offset = 0;
            let mut slot = None;
            for (k, &(abs, n)) in self.entries.iter().enumerate() {
                if abs == call {
                    slot = Some((k, n));
                    break;
                }
                offset += n;
            }
            let Some((k, n)) = slot else {
                continue;
            };
            let Some(ev) = transcript.entries().nth((call - self.dropped) as usize) else {
                continue;
            };
            let fresh = self.lines_of(ev, transcript, expansion.is_expanded(call));
            let mut rest = self.lines.split_off(offset);
            rest.drain(..n.min(rest.len()));
            self.entries[k].1 = fresh.len();
            self.lines.extend(fresh.into_iter().map(|line| PaneLine {
                line,
                entry: call,
                foldable: true,
            }));
            self.lines.append(&mut rest);
        }
    }

    /// The screen lines of one entry that is not growing text.
    fn lines_of(
        &self,
        ev: &AgentEvent,
        transcript: &Transcript,
        expanded: bool,
    ) -> Vec<Line<'static>> {
        if let Some(parent) = parent_of(ev)
            && self.subagents.is_placed(parent)
        {
            // Shown under the call that started the subagent.
            return Vec::new();
        }
        if let AgentEvent::Thinking { text, .. } = ev
            && !expanded
        {
            return describe::insight::thinking_folded(text)
                .iter()
                .flat_map(|l| render(l, self.width.max(8), self.theme))
                .collect();
        }
        let mut lines = entry_lines(ev, expanded, self.width, self.theme);
        if let Some(view) = subagent_call(ev).and_then(|id| self.subagents.get(id)) {
            let w = self.width.max(8);
            let gist = describe::insight::subagent_fold(
                &view.gist(),
                !expanded && !view.nested.is_empty(),
            );
            lines.extend(render(&gist, w, self.theme));
            if expanded {
                for abs in &view.nested {
                    let nested = abs
                        .checked_sub(transcript.dropped())
                        .and_then(|i| transcript.entries().nth(i as usize));
                    if let Some(nested) = nested {
                        lines.extend(entry_lines(nested, true, w, self.theme));
                    }
                }
            }
        }
        lines
    }

    /// Lines in all, the dropped-entries marker included.
    pub fn len(&self) -> usize {
        self.lines.len() + usize::from(self.dropped > 0)
    }

    /// True when there is nothing to show.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `i`-th line; line 0 says how many entries were dropped, if any.
    pub fn get(&self, i: usize) -> Option<PaneLine> {
        if self.dropped > 0 {
            if i == 0 {
                return Some(PaneLine {
                    line: Line::styled(
                        format!(
                            "… {} earlier entries dropped (the window keeps the latest)",
                            self.dropped
                        ),
                        self.theme.dim(),
                    ),
                    entry: 0,
                    foldable: false,
                });
            }
            return self.lines.get(i - 1).cloned();
        }
        self.lines.get(i).cloned()
    }

    /// The width these lines were wrapped to.
    pub fn width(&self) -> u16 {
        self.width
    }
}

/// The last `height` lines of a transcript at `width`, rendered from the
/// newest entries only (for grid tiles: no cache, cost bounded by the
/// tile's size, whatever the transcript's length).
pub fn tail_lines(
    transcript: &Transcript,
    expansion: &Expansion,
    width: u16,
    height: usize,
    th: Theme,
) -> Vec<Line<'static>> {
    let mut rev: Vec<Line<'static>> = Vec::new();
    let dropped = transcript.dropped();
    for (i, ev) in transcript.entries().enumerate().rev() {
        if rev.len() >= height {
            break;
        }
        let abs = dropped + i as u64;
        if parent_of(ev).is_some() {
            // A tile shows the parent's own flow.
            continue;
        }
        if let AgentEvent::Thinking { text, .. } = ev
            && !expansion.is_expanded(abs)
        {
            rev.extend(
                describe::insight::thinking_folded(text)
                    .iter()
                    .flat_map(|l| render(l, width.max(8), th))
                    .rev(),
            );
            continue;
        }
        match growing_text(ev, expansion.is_expanded(abs)) {
            Some(text) => {
                let tone = growing_tone(ev);
                for p in text.split_inclusive('\n').rev() {
                    if rev.len() >= height {
                        break;
                    }
                    rev.extend(paragraphs(p, tone, width, th).into_iter().rev());
                }
            }
            None => {
                rev.extend(
                    entry_lines(ev, expansion.is_expanded(abs), width, th)
                        .into_iter()
                        .rev(),
                );
            }
        }
    }
    rev.truncate(height);
    rev.reverse();
    rev
}

/// Streamed text as lines, each paragraph wrapped to `width`; see
/// [`describe::paragraphs`] for why a growing entry may be split anywhere
/// after a line break.
fn paragraphs(text: &str, tone: Tone, width: u16, th: Theme) -> Vec<Line<'static>> {
    describe::paragraphs(text, tone)
        .iter()
        .flat_map(|l| render(l, width, th))
        .collect()
}

/// The tone of a growing entry.
fn growing_tone(ev: &AgentEvent) -> Tone {
    match ev {
        AgentEvent::Thinking { .. } => Tone::Thinking,
        _ => Tone::Text,
    }
}

/// One described line as screen lines `width` wide: wrapped with its
/// hanging indent, or cut to stay one line.
pub fn render(line: &describe::Line, width: u16, th: Theme) -> Vec<Line<'static>> {
    match &line.fit {
        Fit::Wrap(hang) => {
            let segments: Vec<(&str, Style)> = line
                .pieces
                .iter()
                .map(|p| (p.text.as_str(), th.tone(p.tone)))
                .collect();
            wrap(&segments, width as usize, (&hang.text, th.tone(hang.tone)))
        }
        Fit::Cut => vec![one_line(
            line.pieces
                .iter()
                .map(|p| Span::styled(p.text.clone(), th.tone(p.tone)))
                .collect(),
            width,
        )],
    }
}

fn one_line(spans: Vec<Span<'static>>, width: u16) -> Line<'static> {
    // Compact lines are cut, not wrapped, so a tool call stays one line.
    let mut left = width as usize;
    let mut out = Vec::new();
    for s in spans {
        if left == 0 {
            break;
        }
        let n = unicode_width::UnicodeWidthStr::width(s.content.as_ref());
        if n <= left {
            left -= n;
            out.push(s);
        } else {
            out.push(Span::styled(truncate(&s.content, left), s.style));
            left = 0;
        }
    }
    Line::from(out)
}

/// The screen lines of one transcript entry.
pub fn entry_lines(ev: &AgentEvent, expanded: bool, width: u16, th: Theme) -> Vec<Line<'static>> {
    let w = width.max(8);
    describe(
        ev,
        Layout::Pane {
            width: w as usize,
            expanded,
        },
    )
    .iter()
    .flat_map(|l| render(l, w, th))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::wrap::plain;
    use serde_json::json;

    fn th() -> Theme {
        Theme { color: false }
    }

    fn all(t: &TaskLines) -> Vec<String> {
        (0..t.len())
            .filter_map(|i| t.get(i))
            .map(|l| plain(&l.line))
            .collect()
    }

    #[test]
    fn streamed_text_is_rewrapped_only_at_the_tail() {
        let mut tr = Transcript::default();
        let exp = Expansion::default();
        let mut cache = TaskLines::new(20, th());
        tr.push(AgentEvent::Text {
            text: "hello world, ".into(),
            delta: true,
        });
        cache.refresh(&tr, &exp);
        assert_eq!(all(&cache), ["hello world, "]);
        tr.push(AgentEvent::Text {
            text: "again and again".into(),
            delta: true,
        });
        cache.refresh(&tr, &exp);
        assert_eq!(all(&cache), ["hello world, again", "and again"]);
        tr.push(AgentEvent::ToolCall {
            id: "1".into(),
            name: "Bash".into(),
            input: json!({"command": "ls -la"}),
        });
        cache.refresh(&tr, &exp);
        assert_eq!(
            all(&cache),
            ["hello world, again", "and again", "→ Bash ls -la"]
        );
    }

    #[test]
    fn incremental_lines_equal_a_fresh_render() {
        // Deltas cut at every awkward place: mid-word, before and after
        // line breaks, blank paragraphs.
        let chunks = [
            "Para",
            "graph one is long\n",
            "\n",
            "Two ",
            "and\nthree",
            " more words here\n",
            "four",
        ];
        let mut tr = Transcript::default();
        let exp = Expansion::default();
        let mut inc = TaskLines::new(12, th());
        for c in chunks {
            tr.push(AgentEvent::Text {
                text: c.into(),
                delta: true,
            });
            inc.refresh(&tr, &exp);
            let mut fresh = TaskLines::new(12, th());
            fresh.refresh(&tr, &exp);
            assert_eq!(all(&inc), all(&fresh), "after {c:?}");
        }
        assert_eq!(all(&inc).last().map(String::as_str), Some("four"));
        assert!(
            all(&inc).contains(&String::new()),
            "the blank paragraph stays"
        );
    }

    #[test]
    fn a_tail_equals_the_end_of_the_full_render() {
        let mut tr = Transcript::default();
        let exp = Expansion::default();
        tr.push(AgentEvent::Text {
            text: "one two three four five\nsix\n\nseven eight".into(),
            delta: true,
        });
        tr.push(AgentEvent::ToolCall {
            id: "1".into(),
            name: "Read".into(),
            input: json!({"file_path": "a.rs"}),
        });
        tr.push(AgentEvent::Text {
            text: "nine ten eleven twelve".into(),
            delta: true,
        });
        let mut full = TaskLines::new(10, th());
        full.refresh(&tr, &exp);
        let all = all(&full);
        for h in 0..=all.len() + 2 {
            let tail: Vec<String> = tail_lines(&tr, &exp, 10, h, th())
                .iter()
                .map(plain)
                .collect();
            assert_eq!(tail, all[all.len().saturating_sub(h)..], "height {h}");
        }
    }

    #[test]
    fn results_fold_and_expand() {
        let mut tr = Transcript::default();
        let mut exp = Expansion::default();
        tr.push(AgentEvent::ToolResult {
            id: "1".into(),
            output: "one\ntwo\nthree\n".into(),
            is_error: false,
        });
        let mut cache = TaskLines::new(60, th());
        cache.refresh(&tr, &exp);
        assert_eq!(all(&cache), ["  ← one (+2 lines, e expands)", "    two"]);
        exp.toggle_all();
        cache.refresh(&tr, &exp);
        assert_eq!(
            all(&cache),
            ["  ← 3 lines", "  │ one", "  │ two", "  │ three"]
        );
        exp.toggle(0);
        cache.refresh(&tr, &exp);
        assert_eq!(cache.len(), 2, "toggling one result folds it again");
    }

    #[test]
    fn dropped_entries_leave_a_marker_and_lines_follow_the_window() {
        let mut tr = Transcript::with_cap(2);
        let exp = Expansion::default();
        let mut cache = TaskLines::new(40, th());
        for i in 0..5 {
            tr.push(AgentEvent::Error {
                message: format!("e{i}"),
            });
            cache.refresh(&tr, &exp);
        }
        assert_eq!(
            all(&cache),
            [
                "… 3 earlier entries dropped (the window keeps the latest)",
                "error: e3",
                "error: e4"
            ]
        );
    }

    /// A real claude transcript (tests/fixtures/claude) through the parser.
    fn claude_transcript(path: &str) -> Transcript {
        use crate::agent::OutputParser;
        let bytes = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/claude")
                .join(path),
        )
        .expect("fixture");
        let mut parser = crate::agent::claude::ClaudeParser::default();
        let mut tr = Transcript::default();
        for line in String::from_utf8_lossy(&bytes).lines() {
            for ev in parser.parse_line(line) {
                tr.push(ev);
            }
        }
        tr
    }

    #[test]
    fn a_subagent_folds_under_its_task_call_and_expands_there() {
        for fixture in ["subagent.jsonl", "2.1.332/subagent.jsonl"] {
            let tr = claude_transcript(fixture);
            let mut exp = Expansion::default();
            let mut cache = TaskLines::new(100, th());
            cache.refresh(&tr, &exp);
            let folded = all(&cache);
            let task = folded
                .iter()
                .position(|l| l.starts_with("→ Task"))
                .expect("the Task call");
            assert!(
                folded[task + 1].starts_with("  ┆ ⑂ Count the files: completed"),
                "{fixture}: {folded:#?}"
            );
            assert!(
                !folded.iter().any(|l| l.contains("echo from-subagent")),
                "{fixture}: nothing of the subagent among the parent's lines: {folded:#?}"
            );
            // Expanded, its steps sit right under the call, marked.
            let call_entry = cache.get(task).expect("line").entry;
            exp.toggle(call_entry);
            cache.refresh(&tr, &exp);
            let open = all(&cache);
            let nested: Vec<&String> = open[task + 2..]
                .iter()
                .take_while(|l| l.starts_with("  ┆ "))
                .collect();
            assert!(
                nested
                    .iter()
                    .any(|l| l.starts_with("  ┆ → Bash echo from-subagent")),
                "{fixture}: {open:#?}"
            );
            assert!(
                nested.iter().any(|l| *l == "  ┆   ← from-subagent"),
                "{open:#?}"
            );
            // Incremental refreshes give the same lines as a fresh render.
            let mut inc = TaskLines::new(100, th());
            let mut grown = Transcript::default();
            for ev in tr.entries() {
                grown.push(ev.clone());
                inc.refresh(&grown, &Expansion::default());
            }
            assert_eq!(all(&inc), folded, "{fixture}");
        }
    }

    #[test]
    fn thinking_is_one_dim_line_until_expanded() {
        let tr = claude_transcript("thinking_partial.jsonl");
        let mut exp = Expansion::default();
        let mut cache = TaskLines::new(100, th());
        cache.refresh(&tr, &exp);
        let lines = all(&cache);
        assert_eq!(
            lines[1],
            "✻ thinking · The user wants a greeting. A short friendly answer is enough here."
        );
        exp.toggle_all();
        cache.refresh(&tr, &exp);
        assert!(
            all(&cache)
                .iter()
                .any(|l| l == "The user wants a greeting. A short friendly answer is enough here.")
        );
    }

    #[test]
    fn escape_sequences_never_become_lines() {
        let lines = entry_lines(
            &AgentEvent::Raw {
                line: "\u{1b}]0;pwned\u{7}\u{1b}[2Jok".into(),
            },
            false,
            40,
            th(),
        );
        let text: String = lines.iter().map(plain).collect();
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}'),
            "{text:?}"
        );
        assert!(text.contains("ok"));
    }
}
