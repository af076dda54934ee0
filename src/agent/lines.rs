//! Splitting agent output bytes into lines.
//!
//! Pure: [`LineSplitter`] takes byte chunks cut anywhere (inside a UTF-8
//! character, between `\r` and `\n`) and yields whole lines with one trailing
//! `\r` stripped and invalid UTF-8 replaced. A line longer than the cap is
//! reported as truncated with its original length; the bytes beyond the cap
//! are dropped as they arrive. It must never buffer more than the cap per
//! line, never do IO, and never panic on any input.

/// The default per-line cap: 1 MiB.
pub const DEFAULT_LINE_CAP: usize = 1024 * 1024;

/// One output line, without its `\n` and without one trailing `\r`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// The whole line (invalid UTF-8 replaced by U+FFFD).
    Full(String),
    /// A line longer than the cap.
    Truncated {
        /// The first `cap` bytes of the line, decoded lossily (the cut may
        /// leave a replacement character at the end).
        head: String,
        /// How long the line was, in bytes (without `\r\n`).
        len: usize,
    },
}

impl Line {
    /// The text kept of the line (all of it, or the head of a truncated one).
    pub fn text(&self) -> &str {
        match self {
            Line::Full(text) => text,
            Line::Truncated { head, .. } => head,
        }
    }
}

/// Turns arbitrary byte chunks into [`Line`]s.
#[derive(Debug)]
pub struct LineSplitter {
    cap: usize,
    /// The kept bytes of the current line (never longer than `cap`).
    buf: Vec<u8>,
    /// Bytes of the current line seen so far, kept or dropped, excluding a
    /// pending `\r`.
    len: usize,
    /// The last byte seen was a `\r` not yet counted: it is dropped if a
    /// `\n` follows and added to the line otherwise.
    pending_cr: bool,
}

impl Default for LineSplitter {
    fn default() -> Self {
        LineSplitter::new(DEFAULT_LINE_CAP)
    }
}

impl LineSplitter {
    /// A splitter keeping at most `cap` bytes per line (at least 1).
    pub fn new(cap: usize) -> LineSplitter {
        LineSplitter {
            cap: cap.max(1),
            buf: Vec::new(),
            len: 0,
            pending_cr: false,
        }
    }

    /// The per-line cap in bytes.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Feeds one chunk; returns the lines it completed, in order.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<Line> {
        let mut lines = Vec::new();
        let mut rest = chunk;
        while let Some(pos) = rest.iter().position(|&b| b == b'\n') {
            self.append(&rest[..pos]);
            lines.push(self.take_line());
            rest = &rest[pos + 1..];
        }
        self.append(rest);
        lines
    }

    /// Flushes an unterminated last line, if any bytes are left.
    pub fn finish(&mut self) -> Option<Line> {
        if self.len == 0 && !self.pending_cr {
            return None;
        }
        Some(self.take_line())
    }

    /// Adds bytes that contain no `\n` to the current line.
    fn append(&mut self, segment: &[u8]) {
        let Some((&last, body)) = segment.split_last() else {
            return;
        };
        if self.pending_cr {
            self.pending_cr = false;
            self.keep(b"\r");
        }
        if last == b'\r' {
            self.keep(body);
            self.pending_cr = true;
        } else {
            self.keep(segment);
        }
    }

    /// Counts bytes into the line, keeping only what fits under the cap.
    fn keep(&mut self, bytes: &[u8]) {
        self.len = self.len.saturating_add(bytes.len());
        let room = self.cap.saturating_sub(self.buf.len());
        let take = room.min(bytes.len());
        self.buf.extend_from_slice(&bytes[..take]);
    }

    /// Ends the current line (a pending `\r` is the one stripped).
    fn take_line(&mut self) -> Line {
        self.pending_cr = false;
        let len = std::mem::take(&mut self.len);
        let bytes = std::mem::take(&mut self.buf);
        let kept = bytes.len();
        let text = String::from_utf8(bytes)
            .unwrap_or_else(|err| String::from_utf8_lossy(err.as_bytes()).into_owned());
        if len > kept {
            Line::Truncated { head: text, len }
        } else {
            Line::Full(text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full(s: &str) -> Line {
        Line::Full(s.to_string())
    }

    /// Feeds `input` cut at every position in `cuts` and collects all lines.
    fn split_at(input: &[u8], cuts: &[usize], cap: usize) -> Vec<Line> {
        let mut splitter = LineSplitter::new(cap);
        let mut lines = Vec::new();
        let mut start = 0;
        for &cut in cuts {
            lines.extend(splitter.push(&input[start..cut]));
            start = cut;
        }
        lines.extend(splitter.push(&input[start..]));
        lines.extend(splitter.finish());
        lines
    }

    #[test]
    fn splits_on_newlines_and_strips_one_cr() {
        let lines = split_at(b"one\r\ntwo\nthree\r\r\n", &[], 1024);
        assert_eq!(lines, vec![full("one"), full("two"), full("three\r")]);
    }

    #[test]
    fn every_cut_position_gives_the_same_lines() {
        let input = "héllo €uro\r\n{\"a\":1}\r\n\r\n末尾\rx\r\nlast".as_bytes();
        let expected = vec![
            full("héllo €uro"),
            full("{\"a\":1}"),
            full(""),
            full("末尾\rx"),
            full("last"),
        ];
        for a in 0..=input.len() {
            for b in a..=input.len() {
                assert_eq!(split_at(input, &[a, b], 1024), expected, "cuts {a} {b}");
            }
        }
    }

    #[test]
    fn one_byte_at_a_time() {
        let input = "a\r\nβγ\r\n\n".as_bytes();
        let cuts: Vec<usize> = (1..input.len()).collect();
        assert_eq!(
            split_at(input, &cuts, 1024),
            vec![full("a"), full("βγ"), full("")]
        );
    }

    #[test]
    fn empty_lines_are_lines() {
        assert_eq!(
            split_at(b"\n\n\r\n", &[], 16),
            vec![full(""), full(""), full("")]
        );
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        let lines = split_at(b"bad \xff\xfe end\n", &[5], 1024);
        assert_eq!(lines, vec![full("bad \u{fffd}\u{fffd} end")]);
    }

    #[test]
    fn multibyte_char_split_across_chunks_is_whole() {
        // "€" is e2 82 ac; cut after its first and second byte.
        let lines = split_at("x€y\n".as_bytes(), &[2, 3], 1024);
        assert_eq!(lines, vec![full("x€y")]);
    }

    #[test]
    fn finish_flushes_trailing_escape_sequence() {
        let mut splitter = LineSplitter::new(1024);
        assert_eq!(
            splitter.push(b"{\"type\":\"result\"}\n\x1b[?25h"),
            vec![full("{\"type\":\"result\"}")]
        );
        assert_eq!(splitter.finish(), Some(full("\x1b[?25h")));
        assert_eq!(splitter.finish(), None);
    }

    #[test]
    fn finish_strips_a_lone_trailing_cr() {
        let mut splitter = LineSplitter::new(1024);
        assert!(splitter.push(b"tail\r").is_empty());
        assert_eq!(splitter.finish(), Some(full("tail")));
    }

    #[test]
    fn finish_on_nothing_is_none() {
        let mut splitter = LineSplitter::new(8);
        assert!(splitter.push(b"").is_empty());
        assert_eq!(splitter.finish(), None);
        assert_eq!(splitter.push(b"a\n"), vec![full("a")]);
        assert_eq!(splitter.finish(), None);
    }

    #[test]
    fn a_ten_megabyte_line_is_truncated_without_buffering_it() {
        let cap = 1024 * 1024;
        let mut splitter = LineSplitter::new(cap);
        let chunk = vec![b'x'; 64 * 1024];
        let total = 10 * 1024 * 1024;
        let mut fed = 0;
        while fed < total {
            assert!(splitter.push(&chunk).is_empty());
            fed += chunk.len();
            assert!(splitter.buf.len() <= cap);
            assert!(splitter.buf.capacity() <= 2 * cap);
        }
        let lines = splitter.push(b"\r\nnext line\n");
        assert_eq!(lines.len(), 2);
        match &lines[0] {
            Line::Truncated { head, len } => {
                assert_eq!(*len, total);
                assert_eq!(head.len(), cap);
                assert!(head.bytes().all(|b| b == b'x'));
            }
            other => panic!("expected a truncated line, got {other:?}"),
        }
        assert_eq!(lines[1], full("next line"));
    }

    #[test]
    fn a_line_exactly_at_the_cap_is_full_even_with_crlf() {
        let lines = split_at(b"abcd\r\nabcde\r\n", &[4, 5, 10], 4);
        assert_eq!(
            lines,
            vec![
                full("abcd"),
                Line::Truncated {
                    head: "abcd".to_string(),
                    len: 5
                }
            ]
        );
    }

    #[test]
    fn cr_beyond_the_cap_counts_in_the_length() {
        let lines = split_at(b"abcd\rx\n", &[5], 4);
        assert_eq!(
            lines,
            vec![Line::Truncated {
                head: "abcd".to_string(),
                len: 6
            }]
        );
    }

    #[test]
    fn truncated_head_cut_inside_a_char_is_still_text() {
        let lines = split_at("ab€\n".as_bytes(), &[], 3);
        assert_eq!(
            lines,
            vec![Line::Truncated {
                head: "ab\u{fffd}".to_string(),
                len: 5
            }]
        );
        assert_eq!(lines[0].text(), "ab\u{fffd}");
    }
}
