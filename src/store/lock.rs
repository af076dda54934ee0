//! The ownership lock of a stored task: the corral that runs a task holds
//! an exclusive `flock` on `<task>/owner.lock` from before it writes the
//! first unfinished record until it has written the final one; the kernel
//! drops it when that corral exits, however it exits.
//!
//! Recovery and the cockpit judge an owner gone only by taking this lock
//! (non-blocking), never by a pid read earlier and checked later. Never
//! blocks for long, never deletes the lock file of a task someone holds, and
//! the descriptor is close-on-exec so an agent never inherits the lock.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

/// The lock file inside a task directory.
pub const LOCK_FILE: &str = "owner.lock";

/// A held ownership lock; dropping it releases the task.
#[derive(Debug)]
pub struct OwnerLock {
    _lock: Flock<File>,
}

/// Takes the lock of the task in `dir` if nobody holds it: `Ok(None)` when
/// another open lock (another corral, or another owner in this process)
/// holds it. The lock file is created (0600) if missing; the directory must
/// exist.
pub fn try_lock(dir: &Path) -> io::Result<Option<OwnerLock>> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(dir.join(LOCK_FILE))?;
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => Ok(Some(OwnerLock { _lock: lock })),
        Err((_, Errno::EWOULDBLOCK)) => Ok(None),
        Err((_, errno)) => Err(io::Error::from(errno)),
    }
}

/// Whether a corral holds the lock of the task in `dir`, looked at without
/// writing anything: the lock file is opened read-only (never created) and
/// a shared lock tried for an instant, so a watcher of the directory sees
/// no write of its own (the owner's exit closes a written-to file; this
/// look does not). A missing lock file is a free lock.
pub fn held(dir: &Path) -> io::Result<bool> {
    let file = match File::open(dir.join(LOCK_FILE)) {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(err) => return Err(err),
    };
    match Flock::lock(file, FlockArg::LockSharedNonblock) {
        Ok(_free) => Ok(false),
        Err((_, Errno::EWOULDBLOCK)) => Ok(true),
        Err((_, errno)) => Err(io::Error::from(errno)),
    }
}

/// Like [`try_lock`], retrying for up to `wait` while somebody else holds it
/// (a recovery elsewhere holds a dead owner's lock for a moment).
pub fn lock_within(dir: &Path, wait: Duration) -> io::Result<Option<OwnerLock>> {
    let deadline = Instant::now() + wait;
    loop {
        if let Some(lock) = try_lock(dir)? {
            return Ok(Some(lock));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_is_refused_until_it_is_dropped() {
        let dir = std::env::temp_dir().join(format!("corral-lock-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let held = try_lock(&dir).unwrap().expect("a free lock is taken");
        assert!(try_lock(&dir).unwrap().is_none(), "a held lock is refused");
        assert!(
            lock_within(&dir, Duration::from_millis(60))
                .unwrap()
                .is_none()
        );
        assert!(super::held(&dir).unwrap(), "a held lock is seen held");
        drop(held);
        assert!(!super::held(&dir).unwrap(), "a released lock is seen free");
        assert!(try_lock(&dir).unwrap().is_some(), "a released lock is free");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
