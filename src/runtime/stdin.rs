//! The input writer thread of one agent: writes queued byte strings, in
//! order, to the agent's stdin pipe (structured agents: JSON lines) or to
//! its terminal (an interactive command: keystrokes, through a duplicate of
//! the PTY master, never portable-pty's writer, which sends EOF when dropped).
//!
//! The queue is bounded (the runtime drops items it cannot queue and counts
//! them; this thread reports the count as an `Error` event). Closing the
//! queue closes the pipe after the queued items. The descriptor is non-blocking
//! and a full pipe is waited for with `poll` next to a cancel pipe, so the
//! thread can always be stopped and joined. A broken pipe ends the writing,
//! never the program. It never reads agent output.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::Receiver;

use tokio::sync::mpsc::Sender;

use super::fdio::{CancelWatch, is_ready, poll, poll_fd};
use crate::core::event::AgentEvent;
use crate::core::{Event, TaskId};

/// Items that may wait for the agent to read its input.
pub(crate) const QUEUE_LINES: usize = 256;

/// Everything the writer thread owns.
pub(crate) struct WriterJob {
    pub(crate) task: TaskId,
    /// The stdin pipe, or a duplicate of the PTY master.
    pub(crate) stdin: File,
    /// Written first, before anything queued.
    pub(crate) initial: Vec<Vec<u8>>,
    pub(crate) queue: Receiver<Vec<u8>>,
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
        initial,
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
                "{count} input(s) meant for the agent were dropped: it is not reading its input"
            );
            let _ = events.blocking_send(Event::Agent {
                task,
                event: AgentEvent::Error { message },
            });
        }
    };
    let items = initial.into_iter().chain(queue.iter());
    for item in items {
        match write_all(&mut stdin, &cancel, &item) {
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

fn set_nonblocking(stdin: &File) -> io::Result<()> {
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

/// Writes `bytes`, waiting for room (or cancellation) when full.
fn write_all(stdin: &mut File, cancel: &CancelWatch, bytes: &[u8]) -> Result<(), Stop> {
    let mut rest = bytes;
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
