//! A cgroup (v2) per task, where the user's cgroup tree is delegated.
//!
//! corral's own cgroup is found from `/proc/self/cgroup` and the cgroup2
//! mount in `/proc/self/mountinfo`. When corral may create a directory
//! there (root, or a cgroup systemd delegated to the user), each task gets
//! `corral-<corral pid>-<tag>` beside corral, and the agent moves itself
//! into it between fork and exec (it writes `0` to the new cgroup's
//! `cgroup.procs`). Every process it starts stays in that cgroup whatever
//! it does (`setsid`, a double fork, clearing its environment), and
//! `cgroup.kill` SIGKILLs them all at once, with no pid to reuse. Where the
//! tree is not delegated nothing is created and the per-task tag of
//! `contain` alone finds the escaped processes.
//!
//! This module must never write to a cgroup it did not create (the names
//! carry corral's pid; a stale one is touched only when that pid is dead),
//! never remove a cgroup that still holds a process, and never panic.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How every task cgroup's name starts.
const PREFIX: &str = "corral-";

/// How long removing a task cgroup waits for the kernel to let go of the
/// processes just killed in it.
const REMOVE_WAIT: Duration = Duration::from_millis(500);

/// One task's cgroup and the descriptor the agent uses to move into it.
#[derive(Debug)]
pub(crate) struct TaskCgroup {
    dir: PathBuf,
    /// `cgroup.procs` of `dir`, open for writing (close-on-exec).
    procs: OwnedFd,
}

impl TaskCgroup {
    /// Creates the cgroup of the task tagged `tag`; `None` where the cgroup
    /// tree is not delegated to this user (or there is no cgroup2).
    pub(crate) fn create(tag: &str) -> Option<TaskCgroup> {
        let base = base()?;
        let dir = base.join(name(std::process::id(), tag));
        if let Err(err) = std::fs::create_dir(&dir) {
            tracing::debug!(%err, dir = %dir.display(), "no task cgroup");
            return None;
        }
        match OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(dir.join("cgroup.procs"))
        {
            Ok(file) => Some(TaskCgroup {
                dir,
                procs: file.into(),
            }),
            Err(err) => {
                tracing::debug!(%err, "task cgroup cannot take processes");
                let _ = std::fs::remove_dir(&dir);
                None
            }
        }
    }

    /// The descriptor the child writes `0` to (see [`join`]).
    pub(crate) fn procs_fd(&self) -> RawFd {
        self.procs.as_raw_fd()
    }

    /// Pids of the processes in the cgroup now.
    pub(crate) fn members(&self) -> Vec<i32> {
        members(&self.dir)
    }

    /// SIGKILLs every process in the cgroup. Returns whether the kernel took
    /// the request.
    pub(crate) fn kill(&self) -> bool {
        kill(&self.dir)
    }

    /// Kills what is left and removes the cgroup once it is empty (bounded).
    pub(crate) fn remove(&self) {
        kill_and_remove(&self.dir);
    }
}

impl Drop for TaskCgroup {
    fn drop(&mut self) {
        kill_and_remove(&self.dir);
    }
}

/// Runs in the forked child before exec: moves the calling process into the
/// cgroup whose `cgroup.procs` is `procs_fd`. Only a `write`, so it is
/// async-signal-safe; a failure leaves the child where it was (the tag
/// still finds it).
pub(crate) fn join(procs_fd: RawFd) {
    // SAFETY: writing two bytes from a static buffer to a descriptor.
    unsafe {
        libc::write(procs_fd, b"0\n".as_ptr().cast(), 2);
    }
}

/// Whether tasks get a cgroup on this machine.
pub fn available() -> bool {
    base().is_some()
}

/// Which mechanism contains escaped processes on this machine, in words.
pub fn mechanism() -> &'static str {
    if base().is_some() {
        "a cgroup per task (cgroup.kill), plus the task tag"
    } else {
        "the task tag swept from /proc, with corral as child subreaper"
    }
}

/// corral's own cgroup directory, when task cgroups can be created in it.
fn base() -> Option<&'static Path> {
    static BASE: OnceLock<Option<PathBuf>> = OnceLock::new();
    BASE.get_or_init(|| {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
        let cgroup = std::fs::read_to_string("/proc/self/cgroup").ok()?;
        let base = own_cgroup_dir(&mountinfo, &cgroup)?;
        let procs = std::ffi::CString::new(
            base.join("cgroup.procs")
                .into_os_string()
                .into_encoded_bytes(),
        )
        .ok()?;
        // Moving a process needs write access to the common ancestor's
        // cgroup.procs, and creating a child to the directory.
        let dir =
            std::ffi::CString::new(base.clone().into_os_string().into_encoded_bytes()).ok()?;
        // SAFETY: access() on NUL-terminated paths.
        let writable = unsafe {
            libc::access(procs.as_ptr(), libc::W_OK) == 0
                && libc::access(dir.as_ptr(), libc::W_OK) == 0
        };
        writable.then_some(base)
    })
    .as_deref()
}

/// The directory of this process's cgroup v2, from `/proc/self/mountinfo`
/// and `/proc/self/cgroup` (`0::/path`), or `None` without a cgroup2 mount.
fn own_cgroup_dir(mountinfo: &str, cgroup: &str) -> Option<PathBuf> {
    let path = cgroup
        .lines()
        .find_map(|line| line.strip_prefix("0::"))?
        .trim();
    // A cgroup that was removed under us reads "/path (deleted)".
    if !path.starts_with('/') || path.ends_with(" (deleted)") {
        return None;
    }
    mountinfo.lines().find_map(|line| {
        // Fields: id parent major:minor root mount-point options... - type source super-options
        let (left, right) = line.split_once(" - ")?;
        if right.split_whitespace().next()? != "cgroup2" {
            return None;
        }
        let fields: Vec<&str> = left.split_whitespace().collect();
        let (root, mount) = (*fields.get(3)?, *fields.get(4)?);
        let relative = if root == "/" {
            path
        } else {
            path.strip_prefix(root)
                .filter(|rest| rest.is_empty() || rest.starts_with('/'))?
        };
        let mut dir = PathBuf::from(unescape(mount));
        for part in relative.split('/').filter(|p| !p.is_empty()) {
            dir.push(part);
        }
        Some(dir)
    })
}

/// mountinfo writes space, tab, newline and backslash as `\ooo`.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).and_then(|d| {
            std::str::from_utf8(d)
                .ok()
                .and_then(|d| u8::from_str_radix(d, 8).ok())
        });
        match (bytes[i], octal) {
            (b'\\', Some(byte)) => {
                out.push(byte);
                i += 4;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn name(corral_pid: u32, tag: &str) -> String {
    format!("{PREFIX}{corral_pid}-{tag}")
}

/// The creator's pid in a task cgroup's name.
fn creator_pid(name: &str) -> Option<i32> {
    let rest = name.strip_prefix(PREFIX)?;
    let (pid, tag) = rest.split_once('-')?;
    if tag.is_empty() || !tag.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    pid.parse::<i32>().ok().filter(|p| *p > 0)
}

fn members(dir: &Path) -> Vec<i32> {
    std::fs::read_to_string(dir.join("cgroup.procs"))
        .map(|text| text.lines().filter_map(|l| l.trim().parse().ok()).collect())
        .unwrap_or_default()
}

fn kill(dir: &Path) -> bool {
    OpenOptions::new()
        .write(true)
        .open(dir.join("cgroup.kill"))
        .and_then(|mut file| file.write_all(b"1"))
        .is_ok()
}

/// SIGKILLs the cgroup's processes and removes it once the kernel reports
/// it empty, waiting at most [`REMOVE_WAIT`].
fn kill_and_remove(dir: &Path) {
    let deadline = Instant::now() + REMOVE_WAIT;
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return,
            Err(_) if Instant::now() < deadline => {
                kill(dir);
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(err) => {
                tracing::warn!(%err, dir = %dir.display(), "task cgroup left behind");
                return;
            }
        }
    }
}

/// The watchdog's part after corral died: SIGKILLs everything in the
/// cgroups corral `corral_pid` made for `tags`; returns those cgroups for
/// [`remove_all`] once the sweeps are done.
pub(crate) fn kill_tasks_of(corral_pid: u32, tags: &[&str]) -> Vec<PathBuf> {
    let Some(base) = base() else {
        return Vec::new();
    };
    let dirs: Vec<PathBuf> = tags
        .iter()
        .map(|tag| base.join(name(corral_pid, tag)))
        .filter(|dir| dir.is_dir())
        .collect();
    for dir in &dirs {
        kill(dir);
    }
    dirs
}

/// Removes cgroups returned by [`kill_tasks_of`], killing stragglers.
pub(crate) fn remove_all(dirs: &[PathBuf]) {
    for dir in dirs {
        kill_and_remove(dir);
    }
}

/// The task cgroups corral `corral_pid` made that still exist.
pub fn task_cgroups_of(corral_pid: u32) -> Vec<PathBuf> {
    let Some(base) = base() else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir(base) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| e.file_name().to_str().and_then(creator_pid) == Some(corral_pid as i32))
        .map(|e| e.path())
        .collect()
}

/// At start: kills and removes task cgroups whose corral is gone (its
/// watchdog died with it). Returns how many were removed.
pub fn sweep_stale() -> usize {
    let Some(base) = base() else { return 0 };
    let Ok(entries) = std::fs::read_dir(base) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(creator_pid) else {
            continue;
        };
        if pid_alive(pid) || !entry.path().is_dir() {
            continue;
        }
        kill_and_remove(&entry.path());
        removed += usize::from(!entry.path().exists());
    }
    removed
}

fn pid_alive(pid: i32) -> bool {
    use nix::errno::Errno;
    use nix::sys::signal::kill;
    use nix::unistd::Pid;
    !matches!(kill(Pid::from_raw(pid), None), Err(Errno::ESRCH))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_own_cgroup_under_the_cgroup2_mount() {
        let mountinfo = "\
25 30 0:22 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
        let cgroup = "4:memory:/x\n0::/user.slice/app.scope\n";
        assert_eq!(
            own_cgroup_dir(mountinfo, cgroup),
            Some(PathBuf::from("/sys/fs/cgroup/unified/user.slice/app.scope"))
        );
        assert_eq!(
            own_cgroup_dir(mountinfo, "0::/\n"),
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
        // A mount of a sub-tree, with an escaped space in its mount point.
        let bind = "50 1 0:38 /user.slice /mnt/my\\040cg rw - cgroup2 none rw\n";
        assert_eq!(
            own_cgroup_dir(bind, "0::/user.slice/a\n"),
            Some(PathBuf::from("/mnt/my cg/a"))
        );
        assert_eq!(own_cgroup_dir(bind, "0::/other/a\n"), None);
        // cgroup v1 only, or a deleted cgroup: none.
        assert_eq!(
            own_cgroup_dir(mountinfo.lines().next().unwrap(), "0::/\n"),
            None
        );
        assert_eq!(own_cgroup_dir(mountinfo, "0::/gone (deleted)\n"), None);
        assert_eq!(own_cgroup_dir(mountinfo, "garbage"), None);
    }

    #[test]
    fn only_corral_task_names_have_a_creator() {
        assert_eq!(creator_pid("corral-42-abc123"), Some(42));
        assert_eq!(creator_pid("corral-42-"), None);
        assert_eq!(creator_pid("corral-42-a/b"), None);
        assert_eq!(creator_pid("corral-x-abc"), None);
        assert_eq!(creator_pid("user.slice"), None);
    }

    #[test]
    fn a_task_cgroup_holds_and_kills_what_left_the_group() {
        use std::os::unix::process::CommandExt;
        let tag = super::super::contain::new_tag();
        let Some(cgroup) = TaskCgroup::create(&tag) else {
            eprintln!("no delegated cgroup tree here: {}", mechanism());
            return;
        };
        let fd = cgroup.procs_fd();
        let mut command = std::process::Command::new("sh");
        // A child that leaves the session and clears its environment: only
        // the cgroup still knows it.
        command
            .args(["-c", "setsid env -i sleep 30 & exec sleep 30"])
            .process_group(0);
        // SAFETY: join only writes to a descriptor.
        unsafe {
            command.pre_exec(move || {
                join(fd);
                Ok(())
            });
        }
        let mut child = command.spawn().expect("sh");
        let deadline = Instant::now() + Duration::from_secs(5);
        while cgroup.members().len() < 2 {
            assert!(Instant::now() < deadline, "{:?}", cgroup.members());
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(cgroup.kill());
        child.wait().expect("reaped");
        cgroup.remove();
        assert!(!cgroup.dir.exists(), "the cgroup was removed");
    }
}
