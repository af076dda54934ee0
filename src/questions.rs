//! The private directory where agents without a live channel leave their
//! question files, shared by the cockpit and `corral run`.
//!
//! Its name carries the creator's pid and a random part, so nobody can
//! guess it; it is created fresh (never reused) with mode 0700, so a
//! directory or link somebody else prepared in a shared temp directory is
//! refused instead of used. Leftovers of killed runs are removed at the next
//! start. Must never adopt an existing directory, never follow a link, and
//! never remove a directory another user owns or whose creator still runs.

use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

/// How every question directory's name starts.
const PREFIX: &str = "corral-questions-";

/// Creates this process's question directory in the temp directory, after
/// removing stale ones; `None` (with no directory) when it cannot.
pub fn create() -> Option<PathBuf> {
    let parent = std::env::temp_dir();
    sweep_stale(&parent);
    create_in(&parent).ok()
}

/// A fresh directory `corral-questions-<pid>-<random>` under `parent`.
pub fn create_in(parent: &Path) -> io::Result<PathBuf> {
    let dir = parent.join(format!(
        "{PREFIX}{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    create_at(&dir)?;
    Ok(dir)
}

/// Creates `dir` with mode 0700; anything already there (a directory, a
/// file, a link) is an error, never reused.
pub fn create_at(dir: &Path) -> io::Result<()> {
    // mkdir fails on anything already at the path, links included, so a
    // success means this process made the directory.
    std::fs::DirBuilder::new().mode(0o700).create(dir)
}

/// Removes the directory when the session ends.
pub fn remove(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
}

/// Removes question directories under `parent` left by corrals that died:
/// only real directories (not links) owned by this user whose creator pid
/// no longer runs. Their files are not read.
pub fn sweep_stale(parent: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return 0;
    };
    // /proc/self belongs to this process's user.
    let Ok(uid) = std::fs::metadata("/proc/self").map(|m| m.uid()) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(creator_pid) else {
            continue;
        };
        let Ok(meta) = std::fs::symlink_metadata(entry.path()) else {
            continue;
        };
        if !meta.is_dir() || meta.uid() != uid || pid_alive(pid) {
            continue;
        }
        if std::fs::remove_dir_all(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// The creator's pid in a question directory's name.
fn creator_pid(name: &str) -> Option<i32> {
    let rest = name.strip_prefix(PREFIX)?;
    let pid = rest.split('-').next()?;
    pid.parse::<i32>().ok().filter(|p| *p > 0)
}

/// Whether a process with this pid exists (it may be another user's).
fn pid_alive(pid: i32) -> bool {
    use nix::errno::Errno;
    use nix::sys::signal::kill;
    use nix::unistd::Pid;
    !matches!(kill(Pid::from_raw(pid), None), Err(Errno::ESRCH))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn scratch(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "corral-qtest-{tag}-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir(&dir).unwrap();
        dir
    }

    /// A pid that no process has: above the kernel's pid limit.
    const DEAD_PID: i32 = 4_194_305;

    #[test]
    fn a_fresh_directory_is_private_and_unguessable() {
        let parent = scratch("fresh");
        let a = create_in(&parent).unwrap();
        let b = create_in(&parent).unwrap();
        assert_ne!(a, b, "two sessions of one pid get different names");
        let mode = std::fs::metadata(&a).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let name = a.file_name().unwrap().to_str().unwrap();
        assert_eq!(creator_pid(name), Some(std::process::id() as i32));
        remove(&a);
        assert!(!a.exists());
        remove(&parent);
    }

    #[test]
    fn a_prepared_directory_or_link_is_refused_and_its_files_untouched() {
        let parent = scratch("prepared");
        let planted = parent.join("corral-questions-1-planted");
        std::fs::create_dir(&planted).unwrap();
        std::fs::write(planted.join("q.json"), "{\"question\":\"planted\"}").unwrap();
        assert!(
            create_at(&planted).is_err(),
            "an existing directory is reused"
        );
        let target = scratch("target");
        let link = parent.join("corral-questions-1-link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(create_at(&link).is_err(), "a link is followed");
        // pid 1 runs, so the sweep leaves the planted directory alone too.
        sweep_stale(&parent);
        assert_eq!(
            std::fs::read_to_string(planted.join("q.json")).unwrap(),
            "{\"question\":\"planted\"}"
        );
        remove(&parent);
        remove(&target);
    }

    #[test]
    fn the_sweep_removes_only_dead_creators_directories() {
        let parent = scratch("sweep");
        let dead = parent.join(format!("{PREFIX}{DEAD_PID}-abc"));
        std::fs::create_dir(&dead).unwrap();
        std::fs::write(dead.join("left.json"), "{}").unwrap();
        let live = create_in(&parent).unwrap();
        let other = parent.join("not-corral-questions");
        std::fs::create_dir(&other).unwrap();
        // A link named like a dead run's directory points somewhere else:
        // the sweep must not remove what it points at.
        let target = scratch("linked");
        std::fs::write(target.join("keep"), "x").unwrap();
        let link = parent.join(format!("{PREFIX}{DEAD_PID}-link"));
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert_eq!(sweep_stale(&parent), 1);
        assert!(!dead.exists());
        assert!(live.exists(), "a running corral's directory is kept");
        assert!(other.exists());
        assert!(target.join("keep").exists());
        remove(&parent);
        remove(&target);
    }
}
