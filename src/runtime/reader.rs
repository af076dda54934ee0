//! The reader thread of one agent: PTY master bytes (and a structured
//! agent's stderr pipe) to lines to canonical events, plus the agent's idle
//! and wall-clock limits. Stderr lines go through the parser's
//! `parse_stderr_line` (notices, gemini's retries); both streams count as
//! output for the idle limit, and EOF is reported once both ended.
//!
//! It blocks in `poll` on the master, the stderr pipe and a cancel pipe, with a timeout equal
//! to the next limit deadline (the idle deadline is re-armed from the last
//! output), so it wakes only for output, a deadline or cancellation. Events
//! of one read go out together (one `Event::Agents`, consecutive text
//! deltas merged) with `blocking_send` on the bounded channel: a slow
//! consumer slows the reader, never grows memory. A line over the cap becomes one `Error`
//! event and reading goes on. It never panics on agent output and never
//! writes to the agent.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use tokio::sync::mpsc::Sender;

use super::Observer;
use super::fdio::{CancelWatch, is_ready, poll, poll_fd};
use crate::agent::OutputParser;
use crate::agent::lines::{Line, LineSplitter};
use crate::core::event::AgentEvent;
use crate::core::{Event, Limit, Limits, TaskId};

/// Bytes read from the master at a time.
const READ_CHUNK: usize = 64 * 1024;

/// After cancellation, at most this many more bytes are read (what the
/// kernel still buffers), so a process that escaped the group and keeps
/// writing cannot keep the reader alive.
const DRAIN_AFTER_CANCEL: usize = 4 * 1024 * 1024;

/// Consecutive deltas of one read are merged up to this many bytes.
const MERGED_DELTA: usize = 16 * 1024;

/// How many characters of a capped line the error message quotes.
const PREVIEW_CHARS: usize = 200;

/// Everything the reader thread owns.
pub(crate) struct ReaderJob {
    pub(crate) task: TaskId,
    pub(crate) master: OwnedFd,
    /// The agent's stderr pipe (`None`: stderr is the terminal).
    pub(crate) stderr: Option<OwnedFd>,
    pub(crate) cancel: CancelWatch,
    pub(crate) parser: Box<dyn OutputParser>,
    /// Also send the raw bytes as `Event::Output` (one event per read).
    pub(crate) raw_output: bool,
    pub(crate) line_cap: usize,
    pub(crate) limits: Limits,
    pub(crate) started: Instant,
    pub(crate) events: Sender<Event>,
    /// Told (once) when the master reached EOF.
    pub(crate) eof: mpsc::SyncSender<()>,
    /// Gets the complete lines that became no event, as read.
    pub(crate) observer: Option<Arc<dyn Observer>>,
}

struct Reader {
    task: TaskId,
    parser: Box<dyn OutputParser>,
    splitter: LineSplitter,
    /// Lines of the stderr pipe.
    err_splitter: LineSplitter,
    events: Sender<Event>,
    /// The receiver is gone: keep draining the PTY, stop building events.
    closed: bool,
    observer: Option<Arc<dyn Observer>>,
    /// The events of the current read, sent together when it is parsed.
    pending: Vec<AgentEvent>,
}

impl Reader {
    fn send(&mut self, event: Event) {
        if !self.closed && self.events.blocking_send(event).is_err() {
            self.closed = true;
        }
    }

    /// Adds an event to the current read's batch. Consecutive text (or
    /// thinking) deltas become one delta: the transcript merges them into
    /// one entry anyway, so state, store and views see the same text for a
    /// fraction of the work.
    fn queue(&mut self, event: AgentEvent) {
        if let Some(last) = self.pending.last_mut() {
            match (last, &event) {
                (
                    AgentEvent::Text { text, delta: true },
                    AgentEvent::Text {
                        text: more,
                        delta: true,
                    },
                )
                | (
                    AgentEvent::Thinking { text, delta: true },
                    AgentEvent::Thinking {
                        text: more,
                        delta: true,
                    },
                ) if text.len() < MERGED_DELTA => {
                    text.push_str(more);
                    return;
                }
                _ => {}
            }
        }
        self.pending.push(event);
    }

    /// Sends the current read's events: one event for a batch of one,
    /// else one batch, so the loop steps once per read, not once per line.
    fn flush(&mut self) {
        let event = match self.pending.len() {
            0 => return,
            1 => match self.pending.pop() {
                Some(event) => Event::Agent {
                    task: self.task,
                    event,
                },
                None => return,
            },
            _ => Event::Agents {
                task: self.task,
                events: std::mem::take(&mut self.pending),
            },
        };
        self.send(event);
    }

    fn feed(&mut self, bytes: &[u8]) {
        if self.closed {
            return;
        }
        let mut raw = Vec::new();
        for line in self.splitter.push(bytes) {
            self.line(line, &mut raw);
        }
        self.flush();
        self.observe(raw);
    }

    fn finish(&mut self) {
        let mut raw = Vec::new();
        if let Some(line) = self.splitter.finish() {
            self.line(line, &mut raw);
        }
        self.flush();
        self.observe(raw);
    }

    fn feed_stderr(&mut self, bytes: &[u8]) {
        if self.closed {
            return;
        }
        for line in self.err_splitter.push(bytes) {
            self.stderr_line(line);
        }
        self.flush();
    }

    fn finish_stderr(&mut self) {
        if let Some(line) = self.err_splitter.finish() {
            self.stderr_line(line);
        }
        self.flush();
    }

    /// A stderr line is always kept as events (notices), never raw.
    fn stderr_line(&mut self, line: Line) {
        let events = match line {
            Line::Full(text) => self.parser.parse_stderr_line(&text),
            Line::Truncated { head, len } => vec![AgentEvent::Error {
                message: capped_line_message(&head, len, self.err_splitter.cap()),
            }],
        };
        for event in events {
            self.queue(event);
        }
    }

    /// Hands one read's raw lines to the observer at once.
    fn observe(&self, raw: Vec<String>) {
        if let Some(observer) = &self.observer
            && !raw.is_empty()
        {
            observer.raw_lines(self.task, raw);
        }
    }

    fn line(&mut self, line: Line, raw: &mut Vec<String>) {
        match line {
            Line::Full(text) => {
                let events = self.parser.parse_line(&text);
                // Stored once: a line that became events is kept as those
                // events; only a line the parser made nothing of (unknown
                // output, a protocol change) is kept verbatim for the
                // raw log.
                if events.is_empty() && self.observer.is_some() && !text.trim().is_empty() {
                    raw.push(text);
                }
                for event in events {
                    self.queue(event);
                }
            }
            Line::Truncated { head, len } => {
                let message = capped_line_message(&head, len, self.splitter.cap());
                self.queue(AgentEvent::Error { message });
            }
        }
    }
}

/// The user-facing message for a line longer than the cap.
pub(crate) fn capped_line_message(head: &str, len: usize, cap: usize) -> String {
    // Control characters are shown as `?`: this text may reach a terminal.
    let preview: String = head
        .chars()
        .take(PREVIEW_CHARS)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    format!(
        "agent output line of {len} bytes exceeded the {cap}-byte line cap and was skipped; it began: {preview}"
    )
}

/// The limit timers: deadlines derived from the start and the last output.
struct Timers {
    limits: Limits,
    started: Instant,
    last_output: Instant,
    fired: bool,
}

impl Timers {
    fn deadlines(&self) -> [(Limit, Option<Instant>); 2] {
        let after = |from: Instant, ms: Option<u64>| ms.map(|ms| from + Duration::from_millis(ms));
        [
            (
                Limit::Wall,
                after(self.started, self.limits.wall_timeout_ms),
            ),
            (
                Limit::Idle,
                after(self.last_output, self.limits.idle_timeout_ms),
            ),
        ]
    }

    /// How long to sleep until the next deadline (`None`: no deadline).
    fn timeout(&self, now: Instant) -> Option<Duration> {
        if self.fired {
            return None;
        }
        self.deadlines()
            .iter()
            .filter_map(|(_, at)| *at)
            .min()
            .map(|at| at.saturating_duration_since(now))
    }

    /// The limit that ran out, at most once per agent.
    fn expired(&mut self, now: Instant) -> Option<Limit> {
        if self.fired {
            return None;
        }
        let limit = self
            .deadlines()
            .iter()
            .find(|(_, at)| at.is_some_and(|at| now >= at))
            .map(|(limit, _)| *limit)?;
        self.fired = true;
        Some(limit)
    }
}

/// Runs until cancelled (after EOF: the limits keep running meanwhile, so an
/// agent that closed its output but hangs still times out).
pub(crate) fn run(job: ReaderJob) {
    let ReaderJob {
        task,
        master,
        stderr,
        cancel,
        parser,
        raw_output,
        line_cap,
        limits,
        started,
        events,
        eof: eof_tx,
        observer,
    } = job;
    let master_raw = master.as_raw_fd();
    let mut master = File::from(master);
    let stderr_raw = stderr.as_ref().map_or(-1, |fd| fd.as_raw_fd());
    let mut stderr = stderr.map(File::from);
    let mut reader = Reader {
        task,
        parser,
        splitter: LineSplitter::new(line_cap),
        err_splitter: LineSplitter::new(line_cap),
        events,
        closed: false,
        observer,
        pending: Vec::new(),
    };
    let mut timers = Timers {
        limits,
        started,
        last_output: started,
        fired: false,
    };
    let mut buf = vec![0u8; READ_CHUNK];
    let mut at_eof = false;
    // Without a stderr pipe there is nothing to wait for there.
    let mut err_eof = stderr.is_none();
    let mut eof_told = false;
    let mut cancelled = false;
    let mut drain_left = DRAIN_AFTER_CANCEL;

    loop {
        let timeout = if cancelled {
            Some(Duration::ZERO)
        } else {
            timers.timeout(Instant::now())
        };
        let mut fds = [
            poll_fd(cancel.raw(), libc::POLLIN),
            poll_fd(if at_eof { -1 } else { master_raw }, libc::POLLIN),
            poll_fd(if err_eof { -1 } else { stderr_raw }, libc::POLLIN),
        ];
        if let Err(err) = poll(&mut fds, timeout) {
            tracing::error!(task, %err, "poll on the agent terminal failed");
            break;
        }
        if is_ready(&fds[0]) {
            cancelled = true;
        }
        let mut read_any = false;
        if !at_eof && is_ready(&fds[1]) {
            match read_master(&mut master, &mut buf) {
                Ok(0) => {
                    at_eof = true;
                    reader.finish();
                }
                Ok(n) => {
                    read_any = true;
                    timers.last_output = Instant::now();
                    if raw_output {
                        // One event per read: the kernel already coalesced
                        // what arrived since the last one (at most READ_CHUNK).
                        reader.send(Event::Output {
                            task,
                            bytes: buf[..n].to_vec(),
                        });
                    }
                    reader.feed(&buf[..n]);
                    drain_left = drain_left.saturating_sub(if cancelled { n } else { 0 });
                }
                // WouldBlock: the master's description may be non-blocking
                // (an interactive command's input writer shares it).
                Err(err)
                    if matches!(
                        err.kind(),
                        io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock
                    ) => {}
                Err(err) => {
                    tracing::warn!(task, %err, "reading the agent terminal failed");
                    at_eof = true;
                    reader.finish();
                }
            }
        }
        if !err_eof
            && is_ready(&fds[2])
            && let Some(pipe) = stderr.as_mut()
        {
            match pipe.read(&mut buf) {
                Ok(0) => {
                    err_eof = true;
                    reader.finish_stderr();
                }
                Ok(n) => {
                    read_any = true;
                    timers.last_output = Instant::now();
                    if raw_output {
                        reader.send(Event::Output {
                            task,
                            bytes: buf[..n].to_vec(),
                        });
                    }
                    reader.feed_stderr(&buf[..n]);
                    drain_left = drain_left.saturating_sub(if cancelled { n } else { 0 });
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => {
                    tracing::warn!(task, %err, "reading the agent's stderr failed");
                    err_eof = true;
                    reader.finish_stderr();
                }
            }
        }
        if at_eof && err_eof && !eof_told {
            eof_told = true;
            let _ = eof_tx.send(());
        }
        // After cancellation: read what is waiting, then stop.
        if cancelled && (!read_any || drain_left == 0) {
            break;
        }
        if let Some(limit) = timers.expired(Instant::now()) {
            reader.send(Event::LimitReached { task, limit });
        }
        if cancelled && at_eof && err_eof {
            break;
        }
    }
    if !at_eof {
        reader.finish();
    }
    if !err_eof {
        reader.finish_stderr();
    }
}

/// Reads the master; EIO (every slave closed) is EOF on Linux.
fn read_master(master: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    match master.read(buf) {
        Err(err) if err.raw_os_error() == Some(libc::EIO) => Ok(0),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capped_message_says_how_long_and_quotes_the_start_safely() {
        let head = format!("\x1b]0;title\x07{}", "y".repeat(500));
        let message = capped_line_message(&head, 10_485_760, 1_048_576);
        assert!(message.contains("10485760 bytes"), "{message}");
        assert!(message.contains("1048576-byte line cap"), "{message}");
        assert!(!message.contains('\x1b'));
        assert!(message.ends_with(&format!("?]0;title?{}", "y".repeat(190))));
    }

    fn reader(parser: Box<dyn OutputParser>) -> (Reader, tokio::sync::mpsc::Receiver<Event>) {
        let (events, rx) = tokio::sync::mpsc::channel(16);
        let reader = Reader {
            task: 7,
            parser,
            splitter: LineSplitter::new(1 << 20),
            err_splitter: LineSplitter::new(1 << 20),
            events,
            closed: false,
            observer: None,
            pending: Vec::new(),
        };
        (reader, rx)
    }

    fn delta(text: &str) -> String {
        let ev = serde_json::json!({"type": "stream_event", "event": {"type": "content_block_delta",
            "index": 0, "delta": {"type": "text_delta", "text": text}}});
        format!("{ev}\n")
    }

    #[test]
    fn one_read_is_one_batch_with_its_text_deltas_merged() {
        let (mut r, mut rx) = reader(Box::new(crate::agent::claude::ClaudeParser::default()));
        let tool = serde_json::json!({"type": "assistant", "message": {"id": "m1", "content": [
            {"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "ls"}}]}});
        let read = format!(
            "{}{}{tool}\n{}",
            delta("one "),
            delta("two\n"),
            delta("three")
        );
        r.feed(read.as_bytes());
        let Ok(Event::Agents { task: 7, events }) = rx.try_recv() else {
            panic!("one batch expected");
        };
        assert!(rx.try_recv().is_err(), "one message for the read");
        assert_eq!(events.len(), 3, "{events:?}");
        assert_eq!(
            events[0],
            AgentEvent::Text {
                text: "one two\n".into(),
                delta: true
            }
        );
        assert!(matches!(&events[1], AgentEvent::ToolCall { name, .. } if name == "Bash"));
        assert_eq!(
            events[2],
            AgentEvent::Text {
                text: "three".into(),
                delta: true
            }
        );
        // A read with one event sends it as it is.
        r.feed(delta("four").as_bytes());
        assert!(matches!(
            rx.try_recv(),
            Ok(Event::Agent {
                task: 7,
                event: AgentEvent::Text { .. }
            })
        ));
    }

    #[test]
    fn raw_lines_of_a_read_keep_their_order_and_a_partial_line_waits() {
        let (mut r, mut rx) = reader(Box::new(crate::agent::command::RawParser));
        r.feed(b"a\r\nb\r\nc");
        let Ok(Event::Agents { events, .. }) = rx.try_recv() else {
            panic!("one batch expected");
        };
        let lines: Vec<_> = events
            .iter()
            .map(|e| match e {
                AgentEvent::Raw { line } => line.as_str(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(lines, ["a", "b"]);
        r.finish();
        assert_eq!(
            rx.try_recv().ok(),
            Some(Event::Agent {
                task: 7,
                event: AgentEvent::Raw { line: "c".into() }
            })
        );
    }

    #[test]
    fn idle_deadline_is_rearmed_by_output() {
        let start = Instant::now();
        let mut timers = Timers {
            limits: Limits {
                idle_timeout_ms: Some(100),
                wall_timeout_ms: Some(1000),
            },
            started: start,
            last_output: start,
            fired: false,
        };
        assert_eq!(timers.timeout(start), Some(Duration::from_millis(100)));
        timers.last_output = start + Duration::from_millis(80);
        assert_eq!(timers.expired(start + Duration::from_millis(120)), None);
        assert_eq!(
            timers.timeout(start + Duration::from_millis(120)),
            Some(Duration::from_millis(60))
        );
        assert_eq!(
            timers.expired(start + Duration::from_millis(180)),
            Some(Limit::Idle)
        );
        assert_eq!(
            timers.expired(start + Duration::from_millis(2000)),
            None,
            "fires once"
        );
        assert_eq!(timers.timeout(start), None);
    }

    #[test]
    fn wall_wins_when_both_ran_out() {
        let start = Instant::now();
        let mut timers = Timers {
            limits: Limits {
                idle_timeout_ms: Some(10),
                wall_timeout_ms: Some(10),
            },
            started: start,
            last_output: start,
            fired: false,
        };
        assert_eq!(
            timers.expired(start + Duration::from_millis(10)),
            Some(Limit::Wall)
        );
    }

    #[test]
    fn no_limits_means_no_timeout() {
        let start = Instant::now();
        let mut timers = Timers {
            limits: Limits::default(),
            started: start,
            last_output: start,
            fired: false,
        };
        assert_eq!(timers.timeout(start), None);
        assert_eq!(timers.expired(start + Duration::from_secs(3600)), None);
    }
}
