//! Small file-descriptor helpers for the agent threads: a cancel signal that
//! wakes a thread blocked in `poll`, and `poll` itself.
//!
//! A [`Cancel`] is the write end of a pipe: dropping it makes the read end
//! ([`CancelWatch`]) readable (hang-up), which a thread waiting in [`poll`]
//! sees at once. No timer, no spinning. Never panics.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// Dropping it wakes every [`CancelWatch`] of the same pipe.
#[derive(Debug)]
pub(crate) struct Cancel(#[allow(dead_code)] OwnedFd);

/// Becomes readable once its [`Cancel`] is dropped.
#[derive(Debug)]
pub(crate) struct CancelWatch(OwnedFd);

impl CancelWatch {
    /// The descriptor to poll for `POLLIN`.
    pub(crate) fn raw(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

/// A new cancel pair (both ends close-on-exec, so no agent inherits them).
pub(crate) fn cancel_pair() -> io::Result<(Cancel, CancelWatch)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded, so both descriptors are open and ours alone.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    Ok((Cancel(write), CancelWatch(read)))
}

/// A `pollfd` waiting for `events` on `fd`.
pub(crate) fn poll_fd(fd: RawFd, events: libc::c_short) -> libc::pollfd {
    libc::pollfd {
        fd,
        events,
        revents: 0,
    }
}

/// Whether `pollfd` reported readiness (or hang-up / error, which a read or
/// write then turns into EOF or an error).
pub(crate) fn is_ready(pollfd: &libc::pollfd) -> bool {
    pollfd.revents != 0
}

/// Waits until one of `fds` is ready or `timeout` passes (`None`: forever).
/// Retries on EINTR. Returns the number of ready descriptors (0 on timeout).
pub(crate) fn poll(fds: &mut [libc::pollfd], timeout: Option<Duration>) -> io::Result<usize> {
    let timeout_ms: libc::c_int = match timeout {
        None => -1,
        // Round up so a deadline is never woken for just before it passes.
        Some(t) => {
            let ms = t.as_millis() + u128::from(t.subsec_nanos() % 1_000_000 != 0);
            libc::c_int::try_from(ms).unwrap_or(libc::c_int::MAX)
        }
    };
    loop {
        for fd in fds.iter_mut() {
            fd.revents = 0;
        }
        // SAFETY: `fds` is a valid, exclusively borrowed slice of pollfd.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropping_cancel_wakes_the_watch() {
        let (cancel, watch) = cancel_pair().expect("pipe");
        let mut fds = [poll_fd(watch.raw(), libc::POLLIN)];
        assert_eq!(poll(&mut fds, Some(Duration::ZERO)).expect("poll"), 0);
        drop(cancel);
        assert_eq!(poll(&mut fds, None).expect("poll"), 1);
        assert!(is_ready(&fds[0]));
    }
}
