//! A Server-Sent Events parser: response body bytes, split anywhere, to
//! whole SSE messages.
//!
//! Follows the `text/event-stream` rules: lines end in `\n`, `\r\n` or a
//! lone `\r` (also when the `\r` and `\n` arrive in different chunks); a
//! blank line dispatches the message; `data:` lines of one message are
//! joined with `\n`; `event:`, `id:` and `retry:` set their fields; lines
//! starting with `:` are comments (keep-alives such as `: ping`) and are
//! skipped; one space after the colon is dropped. A message without any
//! `data` line is not dispatched (as in browsers).
//!
//! Pure: no IO, no clock. Memory is bounded: a line or a message longer
//! than the cap is dropped and reported as [`SseFrame::TooLong`]. Never
//! panics on any input.

/// Default cap on one line and on one message's data, in bytes.
pub const DEFAULT_SSE_CAP: usize = 8 * 1024 * 1024;

/// One dispatched SSE message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseMessage {
    /// The `event:` field, when the message had one.
    pub event: Option<String>,
    /// All `data:` lines, joined with `\n`.
    pub data: String,
    /// The last `id:` field seen (it persists across messages, as in SSE).
    pub id: Option<String>,
    /// A `retry:` field of this message (milliseconds), if valid.
    pub retry_ms: Option<u64>,
}

/// What the parser hands out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseFrame {
    /// A complete message.
    Message(SseMessage),
    /// A line or a message's data was longer than the cap and was dropped.
    TooLong { bytes: usize },
}

/// Incremental SSE parser; feed it chunks with [`SseParser::push`].
#[derive(Debug, Clone)]
pub struct SseParser {
    cap: usize,
    /// The current, incomplete line.
    line: Vec<u8>,
    /// Bytes of the current line beyond the cap (it is being skipped).
    overflow: usize,
    /// The previous chunk ended in `\r`: a leading `\n` belongs to it.
    skip_lf: bool,
    data: String,
    has_data: bool,
    /// The current message's data grew past the cap.
    data_overflow: bool,
    event: Option<String>,
    last_id: Option<String>,
    retry_ms: Option<u64>,
}

impl Default for SseParser {
    fn default() -> Self {
        SseParser::new(DEFAULT_SSE_CAP)
    }
}

impl SseParser {
    /// A parser keeping at most `cap` bytes of one line or message.
    pub fn new(cap: usize) -> SseParser {
        SseParser {
            cap: cap.max(16),
            line: Vec::new(),
            overflow: 0,
            skip_lf: false,
            data: String::new(),
            has_data: false,
            data_overflow: false,
            event: None,
            last_id: None,
            retry_ms: None,
        }
    }

    /// Feeds the next chunk; returns the frames it completed.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<SseFrame> {
        let mut out = Vec::new();
        let mut rest = bytes;
        if self.skip_lf {
            self.skip_lf = false;
            if let Some(b'\n') = rest.first() {
                rest = &rest[1..];
            }
        }
        while let Some(pos) = rest.iter().position(|&b| b == b'\n' || b == b'\r') {
            self.append(&rest[..pos]);
            let was_cr = rest[pos] == b'\r';
            rest = &rest[pos + 1..];
            if was_cr {
                match rest.first() {
                    Some(b'\n') => rest = &rest[1..],
                    Some(_) => {}
                    None => self.skip_lf = true,
                }
            }
            self.end_line(&mut out);
        }
        self.append(rest);
        out
    }

    /// The body ended: an unterminated last message is dropped (per SSE),
    /// but a complete last line is still interpreted.
    pub fn finish(&mut self) -> Vec<SseFrame> {
        let mut out = Vec::new();
        if !self.line.is_empty() || self.overflow > 0 {
            self.end_line(&mut out);
        }
        // Many servers end with `data: [DONE]\n` and no blank line: dispatch it.
        self.dispatch(&mut out);
        out
    }

    fn append(&mut self, bytes: &[u8]) {
        let room = self.cap.saturating_sub(self.line.len());
        if self.overflow > 0 || bytes.len() > room {
            self.overflow += self.line.len() + bytes.len();
            self.line.clear();
        } else {
            self.line.extend_from_slice(bytes);
        }
    }

    fn end_line(&mut self, out: &mut Vec<SseFrame>) {
        if self.overflow > 0 {
            out.push(SseFrame::TooLong {
                bytes: self.overflow,
            });
            self.overflow = 0;
            self.line.clear();
            return;
        }
        let line = std::mem::take(&mut self.line);
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        let text = String::from_utf8_lossy(&line);
        if text.starts_with(':') {
            return; // a comment: keep-alive
        }
        let (field, value) = match text.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (text.as_ref(), ""),
        };
        match field {
            "data" => {
                if self.data_overflow {
                    return;
                }
                if self.data.len() + value.len() + 1 > self.cap {
                    self.data_overflow = true;
                    return;
                }
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "event" => self.event = Some(value.to_string()),
            "id" if !value.contains('\0') => self.last_id = Some(value.to_string()),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                self.retry_ms = value.parse().ok();
            }
            _ => {} // unknown fields are ignored
        }
    }

    fn dispatch(&mut self, out: &mut Vec<SseFrame>) {
        let event = self.event.take();
        let retry_ms = self.retry_ms.take();
        if self.data_overflow {
            out.push(SseFrame::TooLong {
                bytes: self.data.len(),
            });
        } else if self.has_data {
            out.push(SseFrame::Message(SseMessage {
                event,
                data: std::mem::take(&mut self.data),
                id: self.last_id.clone(),
                retry_ms,
            }));
        }
        self.data.clear();
        self.has_data = false;
        self.data_overflow = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(frames: Vec<SseFrame>) -> Vec<String> {
        frames
            .into_iter()
            .map(|f| match f {
                SseFrame::Message(m) => m.data,
                SseFrame::TooLong { bytes } => format!("<too long {bytes}>"),
            })
            .collect()
    }

    #[test]
    fn a_lone_cr_then_lf_in_the_next_chunk_is_one_line_end() {
        let mut p = SseParser::default();
        assert!(p.push(b"data: a\r").is_empty());
        assert!(p.push(b"\n").is_empty(), "the LF only ends the CR line");
        assert_eq!(messages(p.push(b"\r\n")), ["a"]);
    }

    #[test]
    fn overlong_lines_are_dropped_and_reported_then_parsing_goes_on() {
        let mut p = SseParser::new(32);
        let mut frames = p.push(format!("data: {}\n\n", "x".repeat(100)).as_bytes());
        frames.extend(p.push(b"data: ok\n\n"));
        assert_eq!(messages(frames), ["<too long 106>", "ok"]);
    }

    #[test]
    fn finish_dispatches_a_last_message_without_blank_line() {
        let mut p = SseParser::default();
        assert!(p.push(b"data: [DONE]").is_empty());
        assert_eq!(messages(p.finish()), ["[DONE]"]);
    }
}
