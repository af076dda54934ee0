//! One agent's process group: its life cycle and the only code that signals it.
//!
//! The agent leads its own session and process group (pgid == pid). A group
//! is signalled only while its leader has not been reaped: until then the
//! leader (alive or a zombie) holds the pid, so the group id cannot belong to
//! anybody else. Signalling and reaping happen under the same lock. This
//! module must never signal a single pid, never signal after the reap, and
//! never panic (a poisoned lock is recovered).

use std::collections::HashSet;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::process::{Child, ExitStatus};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use super::cgroup::TaskCgroup;
use super::contain::Tagged;
use super::fdio::{is_ready, poll, poll_fd};
use super::kill::POLL_EVERY;

/// Where an agent's process group is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// The process is being spawned.
    Starting,
    /// The leader has not been reaped: the group may be signalled.
    Running { pgid: i32 },
    /// The leader was reaped: the group id may no longer be signalled.
    Reaped { pgid: i32 },
    /// The spawn failed; there never was a group.
    Failed,
    /// `Exited` has been (or is being) sent; nothing more happens.
    Finished,
}

#[derive(Debug)]
struct Inner {
    phase: Phase,
    /// Kill ladders in progress; `Exited` waits for them.
    ladders: usize,
}

/// The shared state of one agent's process group.
#[derive(Debug)]
pub(crate) struct Group {
    inner: Mutex<Inner>,
    changed: Condvar,
    /// The task's tag (see [`super::contain`]): every process the agent
    /// starts inherits it, in or out of the group.
    tag: String,
    /// Processes outside the group that carried the tag and were signalled,
    /// as (pid, start time).
    escaped: Mutex<HashSet<(i32, u64)>>,
    /// The task's cgroup, where the cgroup tree is delegated (see
    /// [`super::cgroup`]); made just before the spawn.
    cgroup: OnceLock<TaskCgroup>,
}

impl Group {
    /// A group whose process is about to be spawned.
    pub(crate) fn new() -> Group {
        let tag = super::contain::new_tag();
        super::contain::watch(&tag);
        Group {
            inner: Mutex::new(Inner {
                phase: Phase::Starting,
                ladders: 0,
            }),
            changed: Condvar::new(),
            tag,
            escaped: Mutex::new(HashSet::new()),
            cgroup: OnceLock::new(),
        }
    }

    /// Makes the task's cgroup (where the tree is delegated) and returns the
    /// descriptor the child uses to join it.
    pub(crate) fn make_cgroup(&self) -> Option<RawFd> {
        if self.cgroup.get().is_none()
            && let Some(cgroup) = TaskCgroup::create(&self.tag)
        {
            let _ = self.cgroup.set(cgroup);
        }
        self.cgroup.get().map(TaskCgroup::procs_fd)
    }

    /// The task's cgroup, if it has one.
    pub(crate) fn cgroup(&self) -> Option<&TaskCgroup> {
        self.cgroup.get()
    }

    /// Signals every process of the task outside group `skip_pgrp` (which
    /// its own `killpg` reaches): those carrying the tag and those in the
    /// task's cgroup, each start-time checked. With SIGKILL the whole cgroup
    /// is killed too. Counts those outside the agent's own group as escaped
    /// and returns all signalled.
    pub(crate) fn sweep_outside(&self, signal: Signal, skip_pgrp: Option<i32>) -> Vec<Tagged> {
        let mut swept = super::contain::sweep(&self.tag, signal, skip_pgrp);
        if let Some(cgroup) = self.cgroup() {
            for pid in cgroup.members() {
                if swept.iter().any(|p| p.pid == pid) {
                    continue;
                }
                if let Some(process) = super::contain::describe(pid)
                    && Some(process.pgrp) != skip_pgrp
                    && super::contain::signal(process, signal)
                {
                    swept.push(process);
                }
            }
            if signal == Signal::SIGKILL {
                cgroup.kill();
            }
        }
        // After the leader is reaped the group is swept by its tag, not by
        // killpg: its members are signalled but did not leave it.
        let own = match self.lock().phase {
            Phase::Running { pgid } | Phase::Reaped { pgid } => Some(pgid),
            _ => None,
        };
        let left: Vec<Tagged> = swept
            .iter()
            .copied()
            .filter(|p| Some(p.pgrp) != own)
            .collect();
        self.note_escaped(&left);
        swept
    }

    /// Live processes of the task outside group `pgid`: tagged or in its
    /// cgroup, each counted once.
    pub(crate) fn outside(&self, pgid: i32, tagged: &[Tagged]) -> usize {
        let mut pids: HashSet<i32> = tagged
            .iter()
            .filter(|p| p.pgrp != pgid)
            .map(|p| p.pid)
            .collect();
        if let Some(cgroup) = self.cgroup() {
            pids.extend(
                cgroup
                    .members()
                    .into_iter()
                    .filter_map(super::contain::describe)
                    .filter(|p| p.pgrp != pgid)
                    .map(|p| p.pid),
            );
        }
        pids.len()
    }

    /// Whether the task's cgroup (if any) holds no process.
    pub(crate) fn cgroup_empty(&self) -> bool {
        self.cgroup()
            .is_none_or(|cgroup| cgroup.members().is_empty())
    }

    /// The tag the agent and all its descendants carry.
    pub(crate) fn tag(&self) -> &str {
        &self.tag
    }

    /// How many processes outside the group carrying the tag were signalled.
    pub(crate) fn escaped(&self) -> u64 {
        self.escaped_set().len() as u64
    }

    /// Counts processes outside the group that were signalled (each once,
    /// however many signals it got).
    fn note_escaped(&self, processes: &[Tagged]) {
        self.escaped_set()
            .extend(processes.iter().map(|p| (p.pid, p.start)));
    }

    fn escaped_set(&self) -> MutexGuard<'_, HashSet<(i32, u64)>> {
        self.escaped
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn set_phase(&self, phase: Phase) {
        self.lock().phase = phase;
        self.changed.notify_all();
    }

    /// The process was spawned with this pid (== pgid).
    pub(crate) fn set_running(&self, pgid: i32) {
        self.set_phase(Phase::Running { pgid });
    }

    /// The spawn failed.
    pub(crate) fn set_failed(&self) {
        self.set_phase(Phase::Failed);
    }

    /// The current phase.
    #[cfg(test)]
    pub(crate) fn phase(&self) -> Phase {
        self.lock().phase
    }

    /// The group id while the group may be signalled.
    pub(crate) fn live_pgid(&self) -> Option<i32> {
        match self.lock().phase {
            Phase::Running { pgid } => Some(pgid),
            _ => None,
        }
    }

    /// Sends `signal` to the whole group if its leader is not reaped yet.
    /// Returns whether a signal was sent.
    pub(crate) fn signal(&self, signal: Signal) -> bool {
        let inner = self.lock();
        match inner.phase {
            Phase::Running { pgid } => {
                // ESRCH (nobody left) is fine: the group is already empty.
                let _ = killpg(Pid::from_raw(pgid), signal);
                true
            }
            _ => false,
        }
    }

    /// After the leader exited (seen without reaping it): SIGKILLs what is
    /// left of the group, then reaps the leader. `leader_known_exited` is
    /// false when the exit could not be observed (the pid may already be
    /// gone): then nothing is signalled.
    pub(crate) fn kill_rest_and_reap(
        &self,
        child: &mut Child,
        leader_known_exited: bool,
    ) -> std::io::Result<ExitStatus> {
        let mut inner = self.lock();
        let pgid = match inner.phase {
            Phase::Running { pgid } => pgid,
            _ => child.id() as i32,
        };
        if leader_known_exited && matches!(inner.phase, Phase::Running { .. }) {
            let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
        }
        let status = child.wait();
        inner.phase = Phase::Reaped { pgid };
        drop(inner);
        self.changed.notify_all();
        status
    }

    /// Waits (bounded) until the spawn succeeded or failed; returns the phase.
    pub(crate) fn wait_started(&self, timeout: Duration) -> Phase {
        self.wait_while(timeout, |phase| phase == Phase::Starting)
    }

    /// Waits (bounded) until the leader is reaped (or there never was one).
    /// Returns whether it was.
    pub(crate) fn wait_reaped(&self, timeout: Duration) -> bool {
        let phase = self.wait_while(timeout, |phase| {
            matches!(phase, Phase::Starting | Phase::Running { .. })
        });
        !matches!(phase, Phase::Starting | Phase::Running { .. })
    }

    fn wait_while(&self, timeout: Duration, busy: impl Fn(Phase) -> bool) -> Phase {
        let deadline = Instant::now() + timeout;
        let mut inner = self.lock();
        while busy(inner.phase) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            inner = self
                .changed
                .wait_timeout(inner, left)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
        inner.phase
    }

    /// Registers a kill ladder. Refused (false) once the task is over (its
    /// spawn failed or `Exited` is under way), and, with `exclusive`, while
    /// another ladder runs.
    pub(crate) fn begin_ladder(&self, exclusive: bool) -> bool {
        let mut inner = self.lock();
        if matches!(inner.phase, Phase::Failed | Phase::Finished)
            || (exclusive && inner.ladders > 0)
        {
            return false;
        }
        inner.ladders += 1;
        true
    }

    /// A ladder registered with [`Group::begin_ladder`] has sent its result.
    pub(crate) fn end_ladder(&self) {
        let mut inner = self.lock();
        inner.ladders = inner.ladders.saturating_sub(1);
        drop(inner);
        self.changed.notify_all();
    }

    /// Waits for running ladders to report, then marks the task finished so
    /// no new ladder starts. Ladders are bounded, so this wait is too.
    pub(crate) fn finish(&self) {
        let mut inner = self.lock();
        while inner.ladders > 0 {
            inner = self
                .changed
                .wait(inner)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        inner.phase = Phase::Finished;
        drop(inner);
        self.changed.notify_all();
    }
}

/// Live (non-zombie) members of group `pgid`, from one scan of `/proc`.
pub(crate) fn members(pgid: i32) -> Vec<i32> {
    live_processes()
        .into_iter()
        .filter(|&(_, pgrp)| pgrp == pgid)
        .map(|(pid, _)| pid)
        .collect()
}

/// Waits until each of `pids` has exited (a zombie counts as exited), at
/// most `timeout`. Event-driven through pidfds (readable once the process
/// exits); only if the kernel has none does it scan `/proc` every
/// [`POLL_EVERY`]. Never signals anything.
pub(crate) fn wait_gone(pids: &[i32], timeout: Duration) {
    let deadline = Instant::now() + timeout;
    let mut watched: Vec<OwnedFd> = Vec::new();
    let mut unwatched: Vec<i32> = Vec::new();
    for &pid in pids {
        match pidfd_open(pid) {
            Ok(fd) => watched.push(fd),
            // Already gone.
            Err(err) if err.raw_os_error() == Some(libc::ESRCH) => {}
            Err(_) => unwatched.push(pid),
        }
    }
    while !watched.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        let mut fds: Vec<libc::pollfd> = watched
            .iter()
            .map(|fd| poll_fd(fd.as_raw_fd(), libc::POLLIN))
            .collect();
        if poll(&mut fds, Some(left)).is_err() {
            break;
        }
        let mut ready = fds.iter().map(is_ready);
        watched.retain(|_| !ready.next().unwrap_or(false));
    }
    while !unwatched.is_empty() {
        let live = live_processes();
        unwatched.retain(|pid| live.iter().any(|(p, _)| p == pid));
        let left = deadline.saturating_duration_since(Instant::now());
        if unwatched.is_empty() || left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(POLL_EVERY));
    }
}

fn pidfd_open(pid: i32) -> std::io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the syscall succeeded, so `fd` is a new descriptor we own
    // (pidfds are always close-on-exec).
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// `(pid, pgrp)` of every process that is not a zombie.
pub(crate) fn live_processes() -> Vec<(i32, i32)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|entry| {
        let entry = entry.ok()?;
        let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
        // The process may vanish between the listing and the read.
        let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
        let (state, pgrp) = parse_stat(&stat)?;
        (!matches!(state, 'Z' | 'X' | 'x')).then_some((pid, pgrp))
    })
    .collect()
}

/// The state letter and process group of a `/proc/<pid>/stat` line. The
/// command name may contain spaces and parentheses, so parse after the last `)`.
fn parse_stat(stat: &str) -> Option<(char, i32)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let _ppid = fields.next()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some((state, pgrp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_odd_command_names() {
        assert_eq!(
            parse_stat("42 (a) b (c)) S 1 42 42 34816 42 4194560"),
            Some(('S', 42))
        );
        assert_eq!(parse_stat("7 (zombie) Z 1 9 9 0"), Some(('Z', 9)));
        assert_eq!(parse_stat("garbage"), None);
        assert_eq!(parse_stat("1 (x) R"), None);
    }

    #[test]
    fn this_process_is_seen_in_its_group() {
        let me = std::process::id() as i32;
        let pgrp = nix::unistd::getpgrp().as_raw();
        assert!(live_processes().contains(&(me, pgrp)));
    }

    #[test]
    fn wait_gone_returns_when_the_process_exits() {
        let mut child = std::process::Command::new("sleep")
            .arg("0.05")
            .spawn()
            .expect("sleep");
        let pid = child.id() as i32;
        let started = Instant::now();
        wait_gone(&[pid], Duration::from_secs(20));
        assert!(started.elapsed() < Duration::from_secs(20));
        // Exited (a zombie until reaped here), so no longer live.
        assert!(!live_processes().iter().any(|&(p, _)| p == pid));
        child.wait().expect("reap");
    }

    #[test]
    fn ladders_are_refused_once_finished() {
        let group = Group::new();
        assert!(group.begin_ladder(true));
        assert!(!group.begin_ladder(true), "a second exclusive ladder");
        assert!(group.begin_ladder(false));
        group.end_ladder();
        group.end_ladder();
        group.finish();
        assert!(!group.begin_ladder(false));
        assert_eq!(group.phase(), Phase::Finished);
    }

    #[test]
    fn a_group_without_a_pid_is_never_signalled() {
        let group = Group::new();
        assert!(!group.signal(Signal::SIGKILL));
        group.set_failed();
        assert!(!group.signal(Signal::SIGKILL));
        assert_eq!(group.live_pgid(), None);
    }
}
