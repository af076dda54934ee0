//! The kill ladder: SIGINT, SIGTERM, then SIGKILL to whole process groups
//! and to every process outside them carrying the task's tag (see
//! `contain`), with short waits between, then a count of what survived.
//!
//! Several groups climb the ladder in lock step (quit kills every agent at
//! once). Waiting polls `/proc` every [`POLL_EVERY`] only while a ladder
//! runs. Signals go through [`Group::signal`], so a reaped group is never
//! signalled. This module never sends events and never signals a single pid except
//! through the tag sweep.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::KillWaits;
use super::contain;
use super::group::{Group, Phase, live_processes};

/// How often `/proc` is scanned while waiting for groups to empty.
pub(crate) const POLL_EVERY: Duration = Duration::from_millis(25);

/// How long a ladder waits for a process that is still being spawned.
const SPAWN_WAIT: Duration = Duration::from_secs(5);

/// Runs the ladder on every group; returns the survivors of each (live, not
/// zombie, processes still in the group after SIGKILL and its wait), in the
/// order of `groups`, or `None` for a group whose process never started.
pub(crate) fn run_ladder(groups: &[Arc<Group>], waits: KillWaits) -> Vec<Option<usize>> {
    let pgids: Vec<Option<i32>> = groups
        .iter()
        .map(|group| match group.wait_started(SPAWN_WAIT) {
            Phase::Running { pgid } | Phase::Reaped { pgid } => Some(pgid),
            Phase::Starting | Phase::Failed | Phase::Finished => None,
        })
        .collect();
    let steps = [
        (Signal::SIGINT, waits.after_int_ms),
        (Signal::SIGTERM, waits.after_term_ms),
        (Signal::SIGKILL, waits.after_kill_ms),
    ];
    let tags: Vec<&str> = groups.iter().map(|group| group.tag()).collect();
    let mut escaped: Vec<i32> = Vec::new();
    for (signal, wait_ms) in steps {
        let occupied = occupied_groups();
        let mut signalled = false;
        for (group, pgid) in groups.iter().zip(&pgids) {
            let Some(pgid) = pgid else { continue };
            if occupied.contains(pgid) {
                signalled |= group.signal(signal);
                if signal != Signal::SIGKILL {
                    // A stopped process acts on SIGINT/SIGTERM only once continued.
                    group.signal(Signal::SIGCONT);
                }
            }
            // Processes that left the group but carry the task's tag or
            // sit in its cgroup.
            let swept = group.sweep_outside(signal, group.live_pgid());
            if signal != Signal::SIGKILL {
                for &process in &swept {
                    contain::signal(process, Signal::SIGCONT);
                }
            }
            signalled |= !swept.is_empty();
            escaped.extend(swept.iter().map(|p| p.pid));
        }
        if !signalled {
            // Every group is empty, or none may be signalled any more.
            break;
        }
        wait_until_empty(groups, &pgids, &tags, Duration::from_millis(wait_ms));
    }
    contain::reap(&escaped);
    let live = live_processes();
    let tagged = contain::tagged(&tags);
    pgids
        .iter()
        .enumerate()
        .map(|(index, pgid)| {
            pgid.map(|pgid| {
                let in_group = live.iter().filter(|&&(_, pgrp)| pgrp == pgid).count();
                let mine: Vec<contain::Tagged> = tagged
                    .iter()
                    .filter(|(i, _)| *i == index)
                    .map(|&(_, p)| p)
                    .collect();
                in_group + groups[index].outside(pgid, &mine)
            })
        })
        .collect()
}

/// Process groups that still have a live (non-zombie) member.
fn occupied_groups() -> HashSet<i32> {
    live_processes().into_iter().map(|(_, pgrp)| pgrp).collect()
}

/// Waits until none of `pgids` has a live member, no process carries one
/// of `tags` and the groups' cgroups are empty, or `timeout` passes.
fn wait_until_empty(
    groups: &[Arc<Group>],
    pgids: &[Option<i32>],
    tags: &[&str],
    timeout: Duration,
) {
    let deadline = Instant::now() + timeout;
    loop {
        let occupied = occupied_groups();
        if pgids.iter().flatten().all(|pgid| !occupied.contains(pgid))
            && contain::tagged(tags).is_empty()
            && groups.iter().all(|group| group.cgroup_empty())
        {
            return;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(POLL_EVERY));
    }
}
