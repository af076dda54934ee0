//! Telling processes apart across restarts: a pid plus its start time (field
//! 22 of `/proc/<pid>/stat`, clock ticks since boot) plus the boot id, so a
//! reused pid is never mistaken for the process that was recorded.
//!
//! The only code outside the runtime that signals anything: it SIGKILLs an
//! orphaned agent group of a dead corral, and only after checking that the
//! group is still the recorded one. Never signals a single pid, never
//! signals a group it cannot verify.

use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

/// How long [`kill_orphan_group`] waits for the killed group to be gone.
const KILL_WAIT: Duration = Duration::from_secs(3);

/// A process as recorded: it is the same process only if all fields match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessId {
    pub pid: i32,
    /// Clock ticks after boot when it started (`/proc/<pid>/stat` field 22).
    pub start_time: u64,
    /// `/proc/sys/kernel/random/boot_id` when it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_id: Option<String>,
}

/// What `/proc/<pid>/stat` says about a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub state: char,
    pub pgrp: i32,
    pub session: i32,
    pub start_time: u64,
}

/// Parses a `/proc/<pid>/stat` line. The command name may contain spaces
/// and parentheses, so fields are counted after the last `)`.
pub fn parse_stat(line: &str) -> Option<Stat> {
    let rest = &line[line.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state): field N is at index N - 3.
    Some(Stat {
        state: fields.first()?.chars().next()?,
        pgrp: fields.get(2)?.parse().ok()?,
        session: fields.get(3)?.parse().ok()?,
        start_time: fields.get(19)?.parse().ok()?,
    })
}

/// The stat of `pid`, if it exists.
pub fn stat(pid: i32) -> Option<Stat> {
    if pid <= 0 {
        return None;
    }
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// This boot's id (read once: it cannot change while this process lives).
pub fn boot_id() -> Option<String> {
    static BOOT: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    BOOT.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    })
    .clone()
}

impl ProcessId {
    /// The identity of `pid` now, if it exists.
    pub fn of(pid: i32) -> Option<ProcessId> {
        Some(ProcessId {
            pid,
            start_time: stat(pid)?.start_time,
            boot_id: boot_id(),
        })
    }

    /// The identity of this process.
    pub fn current() -> Option<ProcessId> {
        ProcessId::of(std::process::id() as i32)
    }

    fn same_boot(&self) -> bool {
        match (&self.boot_id, boot_id()) {
            (Some(recorded), Some(now)) => *recorded == now,
            _ => true,
        }
    }

    /// Whether this exact process still runs (a zombie does not count).
    pub fn is_alive(&self) -> bool {
        self.same_boot()
            && stat(self.pid)
                .is_some_and(|s| s.start_time == self.start_time && !matches!(s.state, 'Z' | 'X'))
    }
}

/// `(pid, stat)` of every live (non-zombie) process in group `pgid`.
fn group_members(pgid: i32) -> Vec<(i32, Stat)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|entry| {
        let pid: i32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
        let s = stat(pid)?;
        (s.pgrp == pgid && !matches!(s.state, 'Z' | 'X')).then_some((pid, s))
    })
    .collect()
}

/// What [`kill_orphan_group`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrphanOutcome {
    /// Nothing of the group is alive.
    Gone,
    /// Processes use that group id but are not the recorded agent's.
    NotOurs,
    /// This many processes were SIGKILLed; `survivors` were still there
    /// after the wait.
    Killed { count: usize, survivors: usize },
}

/// Whether the live members of group `group.pid` belong to the recorded
/// agent group. The agent led its own session (pgid == sid == its pid):
/// - if the leader is alive, its start time must match the record;
/// - if it is gone, every member must be in session `pgid` and have started
///   no earlier than the leader (a group id cannot be reused while any
///   member lives, so such members are the leader's descendants).
fn verify(group: &ProcessId, members: &[(i32, Stat)]) -> bool {
    if !group.same_boot() {
        return false;
    }
    if let Some((_, leader)) = members.iter().find(|(pid, _)| *pid == group.pid) {
        return leader.start_time == group.start_time;
    }
    members
        .iter()
        .all(|(_, s)| s.session == group.pid && s.start_time >= group.start_time)
}

/// SIGKILLs what is left of a dead corral's agent group, after verifying it
/// is really that group, and waits (bounded) for it to be gone.
pub fn kill_orphan_group(group: &ProcessId) -> OrphanOutcome {
    let members = group_members(group.pid);
    if members.is_empty() {
        return OrphanOutcome::Gone;
    }
    if !verify(group, &members) {
        return OrphanOutcome::NotOurs;
    }
    let _ = killpg(Pid::from_raw(group.pid), Signal::SIGKILL);
    let deadline = Instant::now() + KILL_WAIT;
    loop {
        let left = group_members(group.pid).len();
        if left == 0 || Instant::now() >= deadline {
            return OrphanOutcome::Killed {
                count: members.len(),
                survivors: left,
            };
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_field_22_after_odd_names() {
        let line = "4242 (a (weird) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
        let s = parse_stat(line).unwrap();
        assert_eq!(s.state, 'S');
        assert_eq!(s.pgrp, 4242);
        assert_eq!(s.session, 4242);
        assert_eq!(s.start_time, 987654);
        assert_eq!(parse_stat("1 (x) R 0"), None);
    }

    #[test]
    fn this_process_is_alive_and_a_changed_start_time_is_not() {
        let me = ProcessId::current().unwrap();
        assert!(me.is_alive());
        let reused = ProcessId {
            start_time: me.start_time + 1,
            ..me.clone()
        };
        assert!(!reused.is_alive());
        let other_boot = ProcessId {
            boot_id: Some("not-this-boot".into()),
            ..me
        };
        assert!(!other_boot.is_alive());
    }

    #[test]
    fn a_group_with_another_leader_start_time_is_not_ours() {
        let me = std::process::id() as i32;
        let pgrp = nix::unistd::getpgrp().as_raw();
        // The leader (if it still runs) started earlier than recorded here;
        // without a leader, no member started after `u64::MAX`.
        let start_time = stat(pgrp).map_or(u64::MAX, |s| s.start_time + 5);
        let recorded = ProcessId {
            pid: pgrp,
            start_time,
            boot_id: boot_id(),
        };
        let members = group_members(pgrp);
        assert!(members.iter().any(|(pid, _)| *pid == me));
        assert!(!verify(&recorded, &members));
    }
}
