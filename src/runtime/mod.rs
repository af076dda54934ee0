//! The runtime: the only layer with side effects (processes, PTYs, signals,
//! timers). It carries out [`Effect`]s and turns the world into [`Event`]s
//! on one bounded channel.
//!
//! Per agent: a supervisor thread (spawn, exit, cleanup), a reader thread
//! (PTY to events, idle/wall limits), a stdin writer thread for pipe-stdin
//! agents, and a ladder thread while a kill runs. For worktree tasks, a
//! thread creates the worktree and another counts its changes every 2 s
//! while the agent runs (`worktree.rs`). Nothing else polls except a kill
//! ladder waiting for a group to empty. The runtime never decides anything
//! (that is `core`'s job) and never panics on agent behaviour.
//!
//! Events per task, in order: `Agent` events and at most one `LimitReached`
//! (in output order), `KillDone` for each ladder, and `Exited` last, once the
//! leader exited, its group was SIGKILLed, it was reaped and its output was
//! read to the end. A task whose spawn failed gets `SpawnFailed` as its only
//! and last event (no `Exited`). Effects for a task that is over (or was
//! never spawned) do nothing.

mod fdio;
mod group;
mod kill;
mod process;
mod reader;
mod stdin;
mod supervisor;
mod worktree;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::sync::mpsc::Sender;

use crate::agent::StdinMode;
use crate::agent::lines::DEFAULT_LINE_CAP;
use crate::core::{Effect, Event, TaskId};
use group::Group;

/// How long [`Runtime::kill_all_blocking`] waits for leaders to be reaped
/// after the ladder.
const REAP_WAIT: Duration = Duration::from_secs(1);

/// How the runtime runs agents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuntimeConfig {
    /// Longest output line kept, in bytes; longer lines become an `Error`.
    pub line_cap: usize,
    /// Waits between the steps of the kill ladder.
    pub kill_waits: KillWaits,
    /// The agents' terminal size: (rows, cols).
    pub pty_size: (u16, u16),
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            line_cap: DEFAULT_LINE_CAP,
            kill_waits: KillWaits::default(),
            pty_size: (50, 200),
        }
    }
}

/// How long the kill ladder waits for a group to empty after each signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KillWaits {
    /// After SIGINT.
    pub after_int_ms: u64,
    /// After SIGTERM.
    pub after_term_ms: u64,
    /// After SIGKILL, before survivors are counted.
    pub after_kill_ms: u64,
}

impl Default for KillWaits {
    fn default() -> Self {
        KillWaits {
            after_int_ms: 1500,
            after_term_ms: 1500,
            after_kill_ms: 1000,
        }
    }
}

/// What the runtime keeps per live task.
pub(crate) struct Slot {
    group: Arc<Group>,
    /// The stdin queue; `None` for `/dev/null` stdin or once closed.
    stdin: Option<SyncSender<String>>,
    /// Lines dropped because the queue was full (reported by the writer).
    dropped: Arc<AtomicUsize>,
}

/// Live tasks, shared with their supervisor threads (which remove
/// themselves once their last event is sent).
pub(crate) type Registry = Arc<Mutex<HashMap<TaskId, Slot>>>;

/// Sees what the runtime does beyond events, for the task store. Called on
/// runtime threads: implementations must return quickly and never block.
pub trait Observer: Send + Sync {
    /// The agent of `task` was spawned as group `pgid` (== the leader's
    /// pid). Called before the leader can be reaped, so `pgid` is still it.
    fn spawned(&self, task: TaskId, pgid: i32);
    /// One complete output line of the agent, as read (before parsing).
    fn raw_line(&self, task: TaskId, line: &str);
}

/// Runs agent processes and reports what they do.
pub struct Runtime {
    events: Sender<Event>,
    config: RuntimeConfig,
    observer: Option<Arc<dyn Observer>>,
    registry: Registry,
    /// Supervisor and ladder threads; finished ones are joined as we go.
    threads: Vec<JoinHandle<()>>,
}

impl Runtime {
    /// A runtime sending its events on `events` (a bounded channel: the
    /// runtime waits for room, it never buffers without bound).
    pub fn new(events: Sender<Event>, config: RuntimeConfig) -> Runtime {
        Runtime {
            events,
            config,
            observer: None,
            registry: Arc::new(Mutex::new(HashMap::new())),
            threads: Vec::new(),
        }
    }

    /// Reports spawns and raw output lines of agents started from now on
    /// to `observer`.
    pub fn set_observer(&mut self, observer: Arc<dyn Observer>) {
        self.observer = Some(observer);
    }

    fn slots(&self) -> MutexGuard<'_, HashMap<TaskId, Slot>> {
        self.registry
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Carry out one effect. Must be called inside a tokio runtime; never
    /// blocks the caller (spawning, writing and killing happen on threads).
    pub fn apply(&mut self, effect: Effect) {
        self.join_finished();
        match effect {
            Effect::Spawn {
                task,
                agent,
                spec,
                limits,
            } => {
                if self.slots().contains_key(&task) {
                    tracing::error!(task, "spawn for a task that already has an agent; ignored");
                    return;
                }
                let group = Arc::new(Group::new());
                let dropped = Arc::new(AtomicUsize::new(0));
                let (stdin, stdin_queue) = match spec.stdin {
                    StdinMode::Pipe { .. } => {
                        let (tx, rx) = std::sync::mpsc::sync_channel(stdin::QUEUE_LINES);
                        (Some(tx), Some(rx))
                    }
                    StdinMode::Null => (None, None),
                };
                self.slots().insert(
                    task,
                    Slot {
                        group: group.clone(),
                        stdin,
                        dropped: dropped.clone(),
                    },
                );
                let job = supervisor::AgentJob {
                    task,
                    agent,
                    spec,
                    limits,
                    config: self.config,
                    events: self.events.clone(),
                    group: group.clone(),
                    registry: self.registry.clone(),
                    stdin_queue,
                    dropped,
                    observer: self.observer.clone(),
                };
                match std::thread::Builder::new()
                    .name(format!("corral-agent-{task}"))
                    .spawn(move || supervisor::run(job))
                {
                    Ok(handle) => self.threads.push(handle),
                    Err(err) => {
                        group.set_failed();
                        self.slots().remove(&task);
                        self.send_soon(Event::SpawnFailed {
                            task,
                            message: format!("could not start a supervisor thread: {err}"),
                        });
                    }
                }
            }
            Effect::WriteStdin { task, line } => {
                let slots = self.slots();
                let Some(slot) = slots.get(&task) else {
                    tracing::debug!(task, "stdin line for a task without an agent; dropped");
                    return;
                };
                let Some(queue) = &slot.stdin else {
                    tracing::warn!(
                        task,
                        "stdin line for an agent whose stdin is closed; dropped"
                    );
                    return;
                };
                match queue.try_send(line) {
                    Ok(()) => {}
                    Err(TrySendError::Full(_)) => {
                        slot.dropped.fetch_add(1, Ordering::Relaxed);
                    }
                    // The writer stopped: the agent closed its stdin or exited.
                    Err(TrySendError::Disconnected(_)) => {}
                }
            }
            Effect::CloseStdin { task } => {
                let queue = self
                    .slots()
                    .get_mut(&task)
                    .and_then(|slot| slot.stdin.take());
                // Dropping the sender lets the writer finish the queue and close the pipe.
                drop(queue);
            }
            Effect::Kill { task } => {
                let Some(group) = self.slots().get(&task).map(|slot| slot.group.clone()) else {
                    tracing::debug!(task, "kill for a task without an agent; nothing to do");
                    return;
                };
                if !group.begin_ladder(true) {
                    return;
                }
                let events = self.events.clone();
                let waits = self.config.kill_waits;
                let ladder_group = group.clone();
                let spawned = std::thread::Builder::new()
                    .name(format!("corral-kill-{task}"))
                    .spawn(move || {
                        let result = kill::run_ladder(std::slice::from_ref(&ladder_group), waits);
                        // A task whose spawn failed has had its last event.
                        if let Some(Some(survivors)) = result.first().copied() {
                            let _ = events.blocking_send(Event::KillDone { task, survivors });
                        }
                        ladder_group.end_ladder();
                    });
                match spawned {
                    Ok(handle) => self.threads.push(handle),
                    Err(err) => {
                        // No thread for the ladder: at least SIGKILL the group now.
                        tracing::error!(task, %err, "could not start a kill thread; sending SIGKILL");
                        group.signal(Signal::SIGKILL);
                        group.end_ladder();
                    }
                }
            }
            Effect::CreateWorktree { task, request } => {
                self.threads
                    .extend(worktree::create(self.events.clone(), task, request));
            }
            Effect::WatchWorktree { task, worktree } => {
                self.threads.extend(worktree::watch(
                    self.events.clone(),
                    self.registry.clone(),
                    task,
                    worktree,
                ));
            }
        }
    }

    /// Blocking: run the kill ladder on every live agent group at once and
    /// wait for the results (used on quit, Ctrl-C and from the panic hook).
    /// Each result is also offered as `KillDone` without waiting for room
    /// on the channel; then waits (bounded) for the leaders to be reaped.
    pub fn kill_all_blocking(&mut self) {
        let targets: Vec<(TaskId, Arc<Group>)> = self
            .slots()
            .iter()
            .filter(|(_, slot)| slot.group.begin_ladder(false))
            .map(|(&task, slot)| (task, slot.group.clone()))
            .collect();
        let groups: Vec<Arc<Group>> = targets.iter().map(|(_, group)| group.clone()).collect();
        let survivors = kill::run_ladder(&groups, self.config.kill_waits);
        for ((task, group), survivors) in targets.iter().zip(survivors) {
            if let Some(survivors) = survivors {
                if survivors > 0 {
                    tracing::error!(task, survivors, "agent processes survived SIGKILL");
                }
                let _ = self.events.try_send(Event::KillDone {
                    task: *task,
                    survivors,
                });
            }
            group.end_ladder();
        }
        for group in &groups {
            group.wait_reaped(REAP_WAIT);
        }
        self.join_finished();
    }

    /// Process-group ids of live agents (for a panic hook that must kill
    /// them without the runtime).
    pub fn live_groups(&self) -> Vec<i32> {
        self.slots()
            .values()
            .filter_map(|slot| slot.group.live_pgid())
            .collect()
    }

    /// Joins the helper threads that are done.
    fn join_finished(&mut self) {
        let (done, running): (Vec<_>, Vec<_>) = self
            .threads
            .drain(..)
            .partition(|handle| handle.is_finished());
        self.threads = running;
        for handle in done {
            if handle.join().is_err() {
                tracing::error!("a runtime thread panicked");
            }
        }
    }

    /// Sends an event from `apply` without blocking the caller.
    fn send_soon(&self, event: Event) {
        match self.events.try_send(event) {
            Ok(()) | Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) => {}
            Err(tokio::sync::mpsc::error::TrySendError::Full(event)) => {
                let events = self.events.clone();
                match tokio::runtime::Handle::try_current() {
                    Ok(handle) => {
                        handle.spawn(async move {
                            let _ = events.send(event).await;
                        });
                    }
                    Err(_) => {
                        std::thread::spawn(move || {
                            let _ = events.blocking_send(event);
                        });
                    }
                }
            }
        }
    }
}

impl Drop for Runtime {
    /// No agent outlives the runtime: every live group gets SIGKILL (the
    /// supervisors then reap the leaders and report as usual).
    fn drop(&mut self) {
        for slot in self.slots().values() {
            slot.group.signal(Signal::SIGKILL);
        }
    }
}
