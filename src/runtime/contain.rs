//! Containment beyond the process group: the per-task tag, the `/proc`
//! sweep, the child subreaper and the crash watchdog.
//!
//! Every agent is started with `CORRAL_TASK_TAG=<random>` in its
//! environment; its descendants inherit it even after `setsid`, `setpgid`
//! or a double fork, and `/proc/PID/environ` shows it for processes of our
//! uid. A sweep signals every live process carrying a tag, through a pidfd
//! opened *before* the start time is checked again, so a reused pid is
//! never hit. corral is made a child subreaper so that orphaned
//! descendants reparent to it (and the zombies of swept ones are reaped
//! here). The watchdog is a re-exec of the corral binary that holds a pipe
//! from corral, learns the tags of its tasks through it, and on EOF (corral
//! is gone, however it died) sweeps those tags with SIGKILL.
//!
//! This module must never signal a process that does not carry the tag
//! (checked in the same scan, start time confirmed through the pidfd),
//! never reap a pid it did not signal, and never panic.

use std::io::{BufRead, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

/// The environment variable that carries a task's tag.
pub const TAG_VAR: &str = "CORRAL_TASK_TAG";

/// The hidden first argument that makes the corral binary a watchdog.
pub const WATCHDOG_ARG: &str = "__corral-watchdog";

/// How long the watchdog keeps sweeping after corral is gone (new forks
/// of a dying tree are caught by the next pass).
const WATCHDOG_SWEEP_FOR: Duration = Duration::from_millis(1500);

/// A fresh, unguessable tag for one task.
pub(crate) fn new_tag() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Makes this process a child subreaper: orphaned descendants reparent to
/// it instead of init. Returns whether the kernel agreed.
pub fn become_subreaper() -> bool {
    // SAFETY: prctl with integer arguments only.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0 }
}

/// A live process carrying a tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tagged {
    pub(crate) pid: i32,
    pub(crate) pgrp: i32,
    pub(crate) start: u64,
}

/// Live (non-zombie) processes other than this one whose environment
/// holds `TAG_VAR=<one of tags>`, from one scan of `/proc`; with the tag's
/// index in `tags`.
pub(crate) fn tagged(tags: &[&str]) -> Vec<(usize, Tagged)> {
    if tags.is_empty() {
        return Vec::new();
    }
    // The watchdog of a long-lived server holds every tag it was told:
    // one lookup per variable, however many there are.
    let wanted: std::collections::HashMap<&[u8], usize> = tags
        .iter()
        .enumerate()
        .map(|(index, tag)| (tag.as_bytes(), index))
        .collect();
    let prefix = format!("{TAG_VAR}=").into_bytes();
    let me = std::process::id() as i32;
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in dir.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        // Unreadable (another uid, or gone): not ours to touch.
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        let Some(index) = environ.split(|&b| b == 0).find_map(|var| {
            var.strip_prefix(prefix.as_slice())
                .and_then(|tag| wanted.get(tag).copied())
        }) else {
            continue;
        };
        let Some(stat) = read_stat(pid) else { continue };
        if !matches!(stat.state, 'Z' | 'X' | 'x') {
            found.push((
                index,
                Tagged {
                    pid,
                    pgrp: stat.pgrp,
                    start: stat.start,
                },
            ));
        }
    }
    found
}

/// Sends `signal` to `process` if it is still the same process (its start
/// time unchanged). Returns whether it was signalled.
pub(crate) fn signal(process: Tagged, signal: Signal) -> bool {
    match pidfd_open(process.pid) {
        Ok(fd) => {
            // The pidfd pins this pid's process: if the start time still
            // matches now, the signal reaches the process that was scanned.
            if read_stat(process.pid).map(|s| s.start) != Some(process.start) {
                return false;
            }
            // SAFETY: a valid pidfd, a signal number, no siginfo, no flags.
            unsafe {
                libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    fd.as_raw_fd(),
                    signal as libc::c_int,
                    std::ptr::null::<libc::siginfo_t>(),
                    0,
                ) == 0
            }
        }
        Err(_) => false,
    }
}

/// Signals every process carrying `tag` outside group `skip_pgrp` (signalled
/// by its own `killpg`). Returns the processes signalled.
pub(crate) fn sweep(tag: &str, sig: Signal, skip_pgrp: Option<i32>) -> Vec<Tagged> {
    tagged(&[tag])
        .into_iter()
        .map(|(_, process)| process)
        .filter(|process| Some(process.pgrp) != skip_pgrp)
        .filter(|&process| signal(process, sig))
        .collect()
}

/// Reaps those of `pids` that are zombie children of this process (they
/// reparented here because corral is a subreaper). Never waits.
pub(crate) fn reap(pids: &[i32]) {
    let me = std::process::id() as i32;
    for &pid in pids {
        if read_stat(pid).is_some_and(|s| s.ppid == me && s.state == 'Z') {
            let mut status = 0;
            // SAFETY: waitpid on one pid with WNOHANG.
            unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        }
    }
}

/// The live process `pid` as a [`Tagged`] (its group and start time), or
/// `None` when it is gone or a zombie.
pub(crate) fn describe(pid: i32) -> Option<Tagged> {
    let stat = read_stat(pid)?;
    (!matches!(stat.state, 'Z' | 'X' | 'x')).then_some(Tagged {
        pid,
        pgrp: stat.pgrp,
        start: stat.start,
    })
}

struct Stat {
    state: char,
    ppid: i32,
    pgrp: i32,
    start: u64,
}

fn read_stat(pid: i32) -> Option<Stat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// State, ppid, pgrp and start time (field 22) of a `/proc/PID/stat` line;
/// the command name may hold spaces and parentheses.
fn parse_stat(stat: &str) -> Option<Stat> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(Stat {
        state: fields.first()?.chars().next()?,
        ppid: fields.get(1)?.parse().ok()?,
        pgrp: fields.get(2)?.parse().ok()?,
        // Field 22 of the line is index 19 after the command name.
        start: fields.get(19)?.parse().ok()?,
    })
}

fn pidfd_open(pid: i32) -> std::io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a new descriptor that we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// The watchdog and corral's end of its pipe, once started.
struct Watchdog {
    child: Child,
    pipe: Option<ChildStdin>,
}

fn watchdog() -> MutexGuard<'static, Option<Watchdog>> {
    static WATCHDOG: OnceLock<Mutex<Option<Watchdog>>> = OnceLock::new();
    WATCHDOG
        .get_or_init(|| Mutex::new(None))
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Starts the watchdog (the corral binary at `/proc/self/exe` with
/// [`WATCHDOG_ARG`]). Call once, from the binary only. Returns whether it
/// runs; without it a crash is still covered by the parent-death signal
/// and the PTY hang-up, only escaped processes are not.
pub fn start_watchdog() -> bool {
    let mut command = Command::new("/proc/self/exe");
    command
        .arg(WATCHDOG_ARG)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Out of the terminal's foreground group: Ctrl-C is corral's.
        .process_group(0);
    match command.spawn() {
        Ok(mut child) => {
            let pipe = child.stdin.take();
            *watchdog() = Some(Watchdog { child, pipe });
            true
        }
        Err(err) => {
            tracing::warn!(%err, "could not start the watchdog");
            false
        }
    }
}

/// Tells the watchdog (if any) about a task's tag.
pub(crate) fn watch(tag: &str) {
    let mut watchdog = watchdog();
    if let Some(pipe) = watchdog.as_mut().and_then(|w| w.pipe.as_mut())
        && writeln!(pipe, "{tag}").is_err()
    {
        tracing::warn!("the watchdog is gone");
        if let Some(w) = watchdog.as_mut() {
            w.pipe = None;
        }
    }
}

/// On a normal exit, once every agent is over: closes the pipe (the
/// watchdog sweeps once more, finds nothing, and exits) and reaps it, so
/// nothing of corral outlives it.
pub fn stop_watchdog() {
    if let Some(mut w) = watchdog().take() {
        drop(w.pipe.take());
        let _ = w.child.wait();
    }
}

/// The watchdog's main: collects tags from stdin until EOF, then SIGKILLs
/// every process carrying one, pass after pass for a short while.
pub fn run_watchdog() -> i32 {
    // SAFETY: setting dispositions of ordinary signals.
    unsafe {
        libc::signal(libc::SIGHUP, libc::SIG_IGN);
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    // The corral that started this watchdog names the task cgroups.
    // SAFETY: getppid cannot fail.
    let corral = unsafe { libc::getppid() } as u32;
    let mut tags: Vec<String> = Vec::new();
    for line in std::io::stdin().lock().split(b'\n') {
        let Ok(line) = line else { break };
        let tag = String::from_utf8_lossy(&line).trim().to_string();
        // Tags are hex; anything else is not from corral.
        if !tag.is_empty() && tag.len() <= 64 && tag.bytes().all(|b| b.is_ascii_alphanumeric()) {
            tags.push(tag);
        }
    }
    let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
    // Where the tree is delegated, each task's cgroup holds all of it.
    let cgroups = super::cgroup::kill_tasks_of(corral, &tags);
    let deadline = Instant::now() + WATCHDOG_SWEEP_FOR;
    // Pass after pass until two in a row find nothing: a process forked
    // just before its parent was killed shows up in the next pass.
    let mut empty_passes = 0;
    while empty_passes < 2 && Instant::now() < deadline {
        let found = tagged(&tags);
        if found.is_empty() {
            empty_passes += 1;
        } else {
            empty_passes = 0;
        }
        for &(_, process) in &found {
            signal(process, Signal::SIGKILL);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    super::cgroup::remove_all(&cgroups);
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn parses_start_time_after_odd_command_names() {
        let line = "42 (a) b (c)) S 7 42 42 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 987654 1 2";
        let stat = parse_stat(line).expect("parses");
        assert_eq!((stat.state, stat.ppid, stat.pgrp), ('S', 7, 42));
        assert_eq!(stat.start, 987654);
        assert!(parse_stat("1 (x) R 1 2").is_none());
    }

    #[test]
    fn a_tagged_process_outside_its_group_is_found_and_killed() {
        let tag = new_tag();
        let mut child = Command::new("sleep")
            .arg("30")
            .env(TAG_VAR, &tag)
            .process_group(0)
            .spawn()
            .expect("sleep");
        let pid = child.id() as i32;
        let deadline = Instant::now() + Duration::from_secs(5);
        // environ is readable once the exec is done.
        while !tagged(&[&tag]).iter().any(|(_, p)| p.pid == pid) {
            assert!(Instant::now() < deadline, "the tagged sleep was not found");
            std::thread::sleep(Duration::from_millis(10));
        }
        // Its own group is skipped when named...
        assert!(sweep(&tag, Signal::SIGKILL, Some(pid)).is_empty());
        // ...and killed otherwise.
        let killed = sweep(&tag, Signal::SIGKILL, None);
        assert_eq!(killed.iter().map(|p| p.pid).collect::<Vec<_>>(), [pid]);
        let status = child.wait().expect("reaped");
        assert_eq!(status.signal(), Some(libc::SIGKILL));
        // An untagged process is never found under another tag.
        assert!(tagged(&[&new_tag()]).is_empty());
    }

    #[test]
    fn a_changed_start_time_is_never_signalled() {
        let mut child = Command::new("sleep").arg("30").spawn().expect("sleep");
        let pid = child.id() as i32;
        let start = read_stat(pid).expect("stat").start;
        let stale = Tagged {
            pid,
            pgrp: 0,
            start: start + 1,
        };
        assert!(!signal(stale, Signal::SIGKILL));
        std::thread::sleep(Duration::from_millis(50));
        assert!(child.try_wait().expect("try_wait").is_none(), "still alive");
        child.kill().expect("kill");
        child.wait().expect("reap");
    }
}
