//! The runtime: the only layer with side effects (processes, PTYs, signals,
//! timers). It carries out [`Effect`]s and turns the world into [`Event`]s
//! on one bounded channel.
//!
//! Per agent: a supervisor thread (spawn, exit, cleanup), a reader thread
//! (PTY to events, idle/wall limits), a stdin writer thread for pipe-stdin
//! agents, and a ladder thread while a kill runs. HTTP agents
//! (`Effect::Chat`) run as tokio tasks (`http`), timers (`Effect::Timer`) as
//! tokio sleeps (`timer`). For worktree tasks, a thread creates the worktree
//! and another counts its changes every 2 s while the agent runs (git tells
//! nobody about changes, so this is a poll, and it looks every 100 ms
//! whether the agent is gone; `worktree.rs`); one review thread runs the
//! git work of diffs, commits, merges and discards in order (`review.rs`).
//! While a front end watches costs (`Effect::WatchCosts`) and an agent is
//! alive, one thread reads `/proc` once a second for the process trees'
//! CPU and memory (`cost.rs`); it sleeps otherwise. Nothing else polls
//! except a kill ladder waiting for a group to empty.
//! The runtime never decides anything (that is `core`'s job) and never
//! panics on agent behaviour.
//!
//! Events per task, in order: `Agent` events and at most one `LimitReached`
//! (in output order), `KillDone` for each ladder, and `Exited` last, once the
//! leader exited, its group was SIGKILLed, it was reaped and its output was
//! read to the end. A task whose spawn failed gets `SpawnFailed` as its only
//! and last event (no `Exited`). Effects for a task that is over (or was
//! never spawned) do nothing.

pub mod cgroup;
pub mod contain;
mod cost;
mod fdio;
mod group;
pub mod http;
mod kill;
mod process;
mod reader;
pub mod review;
mod stdin;
mod supervisor;
mod timer;
mod worktree;

use std::collections::HashMap;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::sync::mpsc::Sender;
use tokio::task::AbortHandle;

use crate::agent::StdinMode;
use crate::agent::lines::DEFAULT_LINE_CAP;
use crate::core::{Effect, Event, TaskId};
use group::Group;
pub use http::HttpRetry;

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
    /// Send structured agents' raw terminal bytes as `Event::Output` too
    /// (for a raw terminal view). Interactive commands always send them.
    pub raw_output: bool,
    /// Retries of the HTTP agents' requests.
    pub http_retry: HttpRetry,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            line_cap: DEFAULT_LINE_CAP,
            kill_waits: KillWaits::default(),
            pty_size: (50, 200),
            raw_output: false,
            http_retry: HttpRetry::default(),
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

impl KillWaits {
    /// `grace_ms` after SIGINT and after SIGTERM, at least 500 ms after
    /// SIGKILL: the ladder a `kill_grace` setting asks for.
    pub fn with_grace(grace_ms: u64) -> KillWaits {
        KillWaits {
            after_int_ms: grace_ms,
            after_term_ms: grace_ms,
            after_kill_ms: grace_ms.max(500),
        }
    }
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
    /// The input queue (stdin pipe or terminal); `None` for `/dev/null`
    /// stdin or once closed.
    stdin: Option<SyncSender<Vec<u8>>>,
    /// The input queue writes to the terminal (`StdinMode::Terminal`).
    terminal_input: bool,
    /// A duplicate of the PTY master once spawned, for resizing.
    terminal: Arc<OnceLock<Arc<OwnedFd>>>,
    /// Items dropped because the queue was full (reported by the writer).
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
    /// Complete output lines of the agent that its parser turned into no
    /// event (the rest is kept as events: the stream is stored once), in
    /// order: one call per read, however many lines it held.
    fn raw_lines(&self, task: TaskId, lines: Vec<String>);
}

/// The tokio runtime a front end runs on (two workers), or `None` after
/// saying on stderr why there is none (front ends call it at their start,
/// before they take the terminal, and exit with status 1).
pub fn start_async() -> Option<tokio::runtime::Runtime> {
    let built = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build();
    built
        .map_err(|err| eprintln!("corral: cannot start the async runtime: {err}"))
        .ok()
}

/// Runs agent processes and reports what they do.
pub struct Runtime {
    events: Sender<Event>,
    config: RuntimeConfig,
    observer: Option<Arc<dyn Observer>>,
    registry: Registry,
    /// Running HTTP requests.
    chats: http::ChatRegistry,
    /// The HTTP client, made on first use.
    client: Option<reqwest::Client>,
    /// Request tasks and timers, aborted when the runtime is dropped.
    tasks: Vec<AbortHandle>,
    /// Supervisor and ladder threads; finished ones are joined as we go.
    threads: Vec<JoinHandle<()>>,
    /// Runs worktree reviews one at a time, started on the first.
    review: Option<review::Worker>,
    /// Samples the live agents' process trees, started on the first
    /// `Effect::WatchCosts`.
    costs: Option<cost::Sampler>,
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
            chats: Arc::new(Mutex::new(HashMap::new())),
            client: None,
            tasks: Vec::new(),
            threads: Vec::new(),
            review: None,
            costs: None,
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
                wire,
                spec,
                limits,
            } => {
                if self.slots().contains_key(&task) {
                    tracing::error!(task, "spawn for a task that already has an agent; ignored");
                    return;
                }
                let group = Arc::new(Group::new());
                let dropped = Arc::new(AtomicUsize::new(0));
                let terminal_input = matches!(spec.stdin, StdinMode::Terminal { .. });
                let terminal = Arc::new(OnceLock::new());
                let (stdin, stdin_queue) = match spec.stdin {
                    StdinMode::Pipe { .. } | StdinMode::Terminal { .. } => {
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
                        terminal_input,
                        terminal: terminal.clone(),
                        dropped: dropped.clone(),
                    },
                );
                let job = supervisor::AgentJob {
                    task,
                    agent,
                    wire,
                    spec,
                    limits,
                    config: self.config,
                    events: self.events.clone(),
                    group: group.clone(),
                    registry: self.registry.clone(),
                    stdin_queue,
                    terminal,
                    dropped,
                    observer: self.observer.clone(),
                };
                match std::thread::Builder::new()
                    .name(format!("corral-agent-{task}"))
                    .spawn(move || supervisor::run(job))
                {
                    Ok(handle) => {
                        self.threads.push(handle);
                        if let Some(costs) = &self.costs {
                            costs.wake();
                        }
                    }
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
                let mut bytes = line.into_bytes();
                bytes.push(b'\n');
                self.queue_input(task, bytes, false);
            }
            Effect::WriteInput { task, bytes } => self.queue_input(task, bytes, true),
            Effect::Resize { task, rows, cols } => {
                let terminal = self
                    .slots()
                    .get(&task)
                    .and_then(|slot| slot.terminal.get().cloned());
                match terminal {
                    Some(fd) => {
                        if let Err(err) = resize(&fd, rows, cols) {
                            tracing::debug!(task, %err, "could not resize the agent's terminal");
                        }
                    }
                    None => tracing::debug!(task, "resize for a task without a terminal; ignored"),
                }
            }
            Effect::Timer {
                task,
                after_ms,
                kind,
            } => match timer::start(self.events.clone(), task, after_ms, kind) {
                Some(handle) => self.tasks.push(handle),
                None => tracing::error!(task, "no async runtime for a timer; it will not fire"),
            },
            Effect::Chat {
                task,
                request,
                limits,
            } => self.start_chat(task, *request, limits),
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
            Effect::Review { task, worktree, op } => self.review(task, worktree, op),
            Effect::CloseStdin { task } => {
                let queue = self
                    .slots()
                    .get_mut(&task)
                    .and_then(|slot| slot.stdin.take());
                // Dropping the sender lets the writer finish the queue and close the pipe.
                drop(queue);
            }
            Effect::WatchCosts { on } => {
                if self.costs.is_none() && on {
                    self.costs = cost::Sampler::start(self.events.clone(), self.registry.clone());
                }
                if let Some(costs) = &self.costs {
                    costs.watch(on);
                }
            }
            Effect::Kill { task } => {
                if http::kill(&self.chats, task) {
                    return;
                }
                self.kill_process(task);
            }
        }
    }

    /// Queues input for a task's agent: stdin lines (`terminal` false) or
    /// keystrokes for its terminal (`terminal` true, only for agents whose
    /// stdin is the terminal).
    fn queue_input(&self, task: TaskId, bytes: Vec<u8>, terminal: bool) {
        let slots = self.slots();
        let Some(slot) = slots.get(&task) else {
            tracing::debug!(task, "input for a task without an agent; dropped");
            return;
        };
        if terminal && !slot.terminal_input {
            tracing::debug!(
                task,
                "terminal input for an agent that reads a pipe; dropped"
            );
            return;
        }
        let Some(queue) = &slot.stdin else {
            tracing::warn!(task, "input for an agent whose stdin is closed; dropped");
            return;
        };
        match queue.try_send(bytes) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                slot.dropped.fetch_add(1, Ordering::Relaxed);
            }
            // The writer stopped: the agent closed its stdin or exited.
            Err(TrySendError::Disconnected(_)) => {}
        }
    }

    /// Starts the request task of an HTTP agent.
    fn start_chat(
        &mut self,
        task: TaskId,
        request: crate::agent::openai::ChatRequest,
        limits: crate::core::Limits,
    ) {
        if self.slots().contains_key(&task) {
            tracing::error!(task, "chat for a task that already has an agent; ignored");
            return;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            self.send_soon(Event::SpawnFailed {
                task,
                message: "no async runtime to send the request on".into(),
            });
            return;
        };
        let client = match &self.client {
            Some(client) => client.clone(),
            None => match http::client(&self.config.http_retry) {
                Ok(client) => {
                    self.client = Some(client.clone());
                    client
                }
                Err(message) => {
                    self.send_soon(Event::SpawnFailed { task, message });
                    return;
                }
            },
        };
        let Some(kill) = http::register(&self.chats, task) else {
            tracing::error!(task, "chat for a task whose request still runs; ignored");
            return;
        };
        let job = http::ChatJob {
            task,
            request,
            limits,
            retry: self.config.http_retry,
            client,
            events: self.events.clone(),
            registry: self.chats.clone(),
            kill,
        };
        self.tasks.push(handle.spawn(http::run(job)).abort_handle());
    }

    /// Starts the kill ladder of a process agent.
    fn kill_process(&mut self, task: TaskId) {
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

    /// Blocking: run the kill ladder on every live agent group at once and
    /// wait for the results (used on quit, Ctrl-C and from the panic hook).
    /// Each result is also offered as `KillDone` without waiting for room
    /// on the channel; then waits (bounded) for the leaders to be reaped.
    pub fn kill_all_blocking(&mut self) {
        http::kill_all(&self.chats);
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
        self.tasks.retain(|task| !task.is_finished());
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
    /// Hands a review op to the review worker (started on first use); a
    /// failure to queue it is reported as the op's result.
    fn review(
        &mut self,
        task: TaskId,
        worktree: crate::worktree::Worktree,
        op: crate::core::review::ReviewOp,
    ) {
        if self.review.is_none() {
            match review::Worker::start(self.events.clone()) {
                Ok(worker) => self.review = Some(worker),
                Err(err) => {
                    let result = Err(format!("could not start a thread for git: {err}"));
                    self.send_soon(Event::Reviewed { task, op, result });
                    return;
                }
            }
        }
        let Some(worker) = &self.review else {
            return;
        };
        if let Err(refused) = worker.submit((task, worktree, op)) {
            let ((task, _, op), reason) = *refused;
            self.send_soon(Event::Reviewed {
                task,
                op,
                result: Err(reason.into()),
            });
        }
    }

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
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Sets the terminal size of the PTY behind `master` (the kernel then sends
/// SIGWINCH to the terminal's foreground process group).
fn resize(master: &OwnedFd, rows: u16, cols: u16) -> std::io::Result<()> {
    let size = libc::winsize {
        ws_row: rows.max(1),
        ws_col: cols.max(1),
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize from a valid pointer; the
    // descriptor is a PTY master we own.
    if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &size) } == -1 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
