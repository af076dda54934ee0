//! The stdin writer thread of one agent: writes queued lines to the agent's
//! stdin pipe, in order, each followed by `\n`.
//!
//! The queue is bounded (the runtime drops lines it cannot queue and counts
//! them; this thread reports the count as an `Error` event). Closing the
//! queue closes the pipe after the queued lines. The pipe is non-blocking
//! and a full pipe is waited for with `poll` next to a cancel pipe, so the
//! thread can always be stopped and joined. A broken pipe ends the writing,
//! never the program. It never reads agent output.

use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::process::ChildStdin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::Receiver;

use tokio::sync::mpsc::Sender;

use super::fdio::{CancelWatch, is_ready, poll, poll_fd};
use crate::core::event::AgentEvent;
use crate::core::{Event, TaskId};

/// Lines that may wait for the agent to read its stdin.
pub(crate) const QUEUE_LINES: usize = 256;

/// Everything the writer thread owns.
pub(crate) struct WriterJob {
    pub(crate) task: TaskId,
    pub(crate) stdin: ChildStdin,
    /// Written first, before anything queued.
    pub(crate) initial_lines: Vec<String>,
    pub(crate) queue: Receiver<String>,
    pub(crate) cancel: CancelWatch,
    /// Lines the runtime dropped because the queue was full.
    pub(crate) dropped: Arc<AtomicUsize>,
    pub(crate) events: Sender<Event>,
}

/// Why writing stopped early.
enum Stop {
    Cancelled,
    Failed(io::Error),
}

/// Runs until the queue is closed (then closes the pipe), the pipe breaks,
/// or it is cancelled.
pub(crate) fn run(job: WriterJob) {
    let WriterJob {
        task,
        mut stdin,
        initial_lines,
        queue,
        cancel,
        dropped,
        events,
    } = job;
    if let Err(err) = set_nonblocking(&stdin) {
        tracing::warn!(task, %err, "could not make the agent's stdin non-blocking");
    }
    let report_dropped = || {
        let count = dropped.swap(0, Ordering::Relaxed);
        if count > 0 {
            let message = format!(
                "{count} line(s) meant for the agent's stdin were dropped: it is not reading its input"
            );
            let _ = events.blocking_send(Event::Agent {
                task,
                event: AgentEvent::Error { message },
            });
        }
    };
    let lines = initial_lines.into_iter().chain(queue.iter());
    for line in lines {
        match write_line(&mut stdin, &cancel, &line) {
            Ok(()) => report_dropped(),
            Err(Stop::Cancelled) => break,
            Err(Stop::Failed(err)) => {
                // EPIPE: the agent closed its stdin or exited.
                tracing::debug!(task, %err, "agent stdin closed");
                break;
            }
        }
    }
    report_dropped();
    // Dropping `stdin` closes the pipe: the agent reads EOF.
}

fn set_nonblocking(stdin: &ChildStdin) -> io::Result<()> {
    let fd = stdin.as_raw_fd();
    // SAFETY: fcntl on a descriptor we own.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above; only adds O_NONBLOCK to our end of the pipe.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Writes `line` and `\n`, waiting for room (or cancellation) when full.
fn write_line(stdin: &mut ChildStdin, cancel: &CancelWatch, line: &str) -> Result<(), Stop> {
    let mut bytes = Vec::with_capacity(line.len() + 1);
    bytes.extend_from_slice(line.as_bytes());
    bytes.push(b'\n');
    let mut rest = &bytes[..];
    while !rest.is_empty() {
        match stdin.write(rest) {
            Ok(0) => return Err(Stop::Failed(io::ErrorKind::WriteZero.into())),
            Ok(n) => rest = &rest[n..],
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                let mut fds = [
                    poll_fd(cancel.raw(), libc::POLLIN),
                    poll_fd(stdin.as_raw_fd(), libc::POLLOUT),
                ];
                poll(&mut fds, None).map_err(Stop::Failed)?;
                if is_ready(&fds[0]) {
                    return Err(Stop::Cancelled);
                }
            }
            Err(err) => return Err(Stop::Failed(err)),
        }
    }
    Ok(())
}
