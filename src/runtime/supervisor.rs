//! The supervisor thread of one agent: spawns it, starts its reader and
//! stdin writer, learns that the leader exited, cleans up the group and
//! sends `Exited` last.
//!
//! Exit order (each step is required by the next):
//! 1. `waitid(WEXITED | WNOWAIT)`: the leader exited but stays a zombie, so
//!    its pid (== pgid) cannot be reused yet;
//! 2. SIGKILL what is left of the group, then reap the leader (one lock),
//!    then SIGKILL every process outside the group carrying the task's tag
//!    (see `contain`), then wait (bounded, event-driven) until the killed
//!    processes exited and reap those that reparented to corral;
//! 3. wait up to [`READER_EOF_WAIT`] for the reader to reach EOF (a process
//!    that escaped the group may hold the terminal), cancel it, join it;
//! 4. stop and join the stdin writer;
//! 5. wait for running kill ladders to report `KillDone`;
//! 6. forget the task, close the master, send `Exited`.
//!
//! A failed spawn sends `SpawnFailed` and nothing else. This thread never
//! signals the group itself except through [`Group`] (and the tag sweep),
//! and never panics.

use std::os::fd::OwnedFd;
use std::process::{Child, ExitStatus};
use std::sync::atomic::AtomicUsize;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use tokio::sync::mpsc::Sender;

use portable_pty::MasterPty;

use super::contain;
use super::fdio::{Cancel, cancel_pair};
use super::group::{self, Group};
use super::process::{self, Spawned};
use super::{Observer, Registry, RuntimeConfig, reader, stdin};
use crate::agent::{AgentKind, LaunchSpec, StdinMode, Wire, question_file};
use crate::core::event::AgentEvent;
use crate::core::{Event, ExitInfo, Limits, TaskId};

/// How long the reader may take to reach EOF after the leader was reaped.
pub(crate) const READER_EOF_WAIT: Duration = Duration::from_secs(2);

/// Everything the supervisor thread needs.
pub(crate) struct AgentJob {
    pub(crate) task: TaskId,
    pub(crate) agent: AgentKind,
    pub(crate) wire: Wire,
    pub(crate) spec: LaunchSpec,
    pub(crate) limits: Limits,
    pub(crate) config: RuntimeConfig,
    pub(crate) events: Sender<Event>,
    pub(crate) group: Arc<Group>,
    pub(crate) registry: Registry,
    /// The input queue (`None` for `StdinMode::Null`).
    pub(crate) stdin_queue: Option<Receiver<Vec<u8>>>,
    /// Receives a duplicate of the master once spawned (for resizing).
    pub(crate) terminal: Arc<OnceLock<Arc<OwnedFd>>>,
    pub(crate) dropped: Arc<AtomicUsize>,
    pub(crate) observer: Option<Arc<dyn Observer>>,
}

/// The helper threads of a running agent and how to stop them.
struct Helpers {
    reader: JoinHandle<()>,
    reader_cancel: Cancel,
    reader_eof: Receiver<()>,
    writer: Option<(JoinHandle<()>, Cancel)>,
}

/// Runs one agent from spawn to `Exited` (or `SpawnFailed`).
pub(crate) fn run(mut job: AgentJob) {
    let task = job.task;
    let queue = job.stdin_queue.take();
    let (agent, helpers) = match start(&job, queue) {
        Ok(started) => started,
        Err(message) => {
            job.group.set_failed();
            forget(&job.registry, task);
            let _ = job
                .events
                .blocking_send(Event::SpawnFailed { task, message });
            return;
        }
    };
    let Agent {
        mut child,
        pid,
        master,
    } = agent;

    let observed = wait_exit_keep_zombie(pid);
    if let Err(err) = &observed {
        tracing::error!(task, pid, %err, "could not wait for the agent");
    }
    let status = job.group.kill_rest_and_reap(&mut child, observed.is_ok());
    // Whatever left the group but carries the task's tag (or sits in its
    // cgroup) goes too.
    let escaped = job.group.sweep_outside(Signal::SIGKILL, Some(pid));
    let escaped: Vec<i32> = escaped.iter().map(|p| p.pid).collect();
    // SIGKILL is not instant: let the rest of the group finish dying so
    // that nothing of the agent is alive once `Exited` is out.
    let mut left = if observed.is_ok() {
        group::members(pid)
    } else {
        Vec::new()
    };
    left.extend(&escaped);
    group::wait_gone(
        &left,
        Duration::from_millis(job.config.kill_waits.after_kill_ms),
    );
    contain::reap(&escaped);
    let mut exit = match &status {
        Ok(status) => exit_info(*status),
        Err(err) => {
            tracing::error!(task, pid, %err, "could not reap the agent");
            ExitInfo {
                code: None,
                signal: None,
                killed_outside_group: 0,
            }
        }
    };

    let Helpers {
        reader,
        reader_cancel,
        reader_eof,
        writer,
    } = helpers;
    match reader_eof.recv_timeout(READER_EOF_WAIT) {
        Ok(()) | Err(RecvTimeoutError::Disconnected) => {}
        Err(RecvTimeoutError::Timeout) => {
            tracing::warn!(
                task,
                "agent output still open after exit (an escaped process holds the terminal)"
            )
        }
    }
    drop(reader_cancel);
    if reader.join().is_err() {
        tracing::error!(task, "agent reader thread panicked");
    }

    // Close the queue (no more lines can arrive) and stop a blocked write.
    let queue = job
        .registry
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .get_mut(&task)
        .and_then(|slot| slot.stdin.take());
    drop(queue);
    if let Some((writer, writer_cancel)) = writer {
        drop(writer_cancel);
        if writer.join().is_err() {
            tracing::error!(task, "agent stdin thread panicked");
        }
    }

    job.group.finish();
    exit.killed_outside_group = job.group.escaped();
    if let Some(cgroup) = job.group.cgroup() {
        cgroup.remove();
    }
    if let Some(question) = read_question_file(&job.spec, task) {
        let _ = job.events.blocking_send(question);
    }
    // Forgotten before `Exited` goes out, so the core may reuse the task id
    // (a resumed session) as soon as it sees it.
    forget(&job.registry, task);
    drop(master);
    let _ = job.events.blocking_send(Event::Exited { task, exit });
}

/// The question an agent left in its question file, as an event; the file
/// is removed so a later run does not see it again.
fn read_question_file(spec: &LaunchSpec, task: TaskId) -> Option<Event> {
    let (_, path) = spec.env.iter().find(|(k, _)| k == question_file::ENV_VAR)?;
    let path = std::path::Path::new(path);
    let meta = std::fs::metadata(path).ok()?;
    let result = if meta.len() > question_file::MAX_BYTES {
        Err(format!(
            "the agent's question file is {} bytes, over the {} byte limit",
            meta.len(),
            question_file::MAX_BYTES
        ))
    } else {
        std::fs::read(path)
            .map_err(|e| format!("the agent's question file could not be read: {e}"))
            .and_then(|bytes| {
                question_file::parse(&task.to_string(), &String::from_utf8_lossy(&bytes))
            })
    };
    if let Err(err) = std::fs::remove_file(path) {
        tracing::warn!(task, %err, "could not remove the question file");
    }
    let event = match result {
        Ok(question) => AgentEvent::Question(question),
        Err(message) => AgentEvent::Error { message },
    };
    Some(Event::Agent { task, event })
}

/// The agent process while it runs.
struct Agent {
    child: Child,
    pid: i32,
    /// Kept open until the agent has exited.
    master: Box<dyn MasterPty + Send>,
}

/// Spawns the agent and its helper threads. On error nothing is left running.
fn start(job: &AgentJob, queue: Option<Receiver<Vec<u8>>>) -> Result<(Agent, Helpers), String> {
    let pipe_error = |err: std::io::Error| format!("could not create a pipe: {err}");
    let (reader_cancel, reader_watch) = cancel_pair().map_err(pipe_error)?;
    let initial = match &job.spec.stdin {
        StdinMode::Null => None,
        StdinMode::Pipe { initial_lines } => Some(
            initial_lines
                .iter()
                .map(|line| format!("{line}\n").into_bytes())
                .collect::<Vec<_>>(),
        ),
        StdinMode::Terminal { initial_input } => Some(
            vec![initial_input.clone()]
                .into_iter()
                .filter(|b| !b.is_empty())
                .collect(),
        ),
    };
    let terminal_mode = matches!(job.spec.stdin, StdinMode::Terminal { .. });
    let writer_pipe = match (initial, queue) {
        (Some(initial), Some(queue)) => Some((cancel_pair().map_err(pipe_error)?, initial, queue)),
        _ => None,
    };
    let Spawned {
        child,
        pid,
        master,
        reader_fd,
        stdin,
        control,
        stderr,
    } = process::spawn(
        &job.spec,
        job.config.pty_size,
        job.group.tag(),
        job.group.make_cgroup(),
    )?;
    let _ = job.terminal.set(control);
    let started = Instant::now();
    job.group.set_running(pid);
    if let Some(observer) = &job.observer {
        observer.spawned(job.task, pid);
    }
    let mut agent = Agent { child, pid, master };

    let (eof_tx, reader_eof) = mpsc::sync_channel(1);
    let reader_job = reader::ReaderJob {
        task: job.task,
        master: reader_fd,
        stderr,
        cancel: reader_watch,
        parser: job.agent.parser(job.wire),
        raw_output: terminal_mode || job.config.raw_output,
        line_cap: job.config.line_cap,
        limits: job.limits,
        started,
        events: job.events.clone(),
        eof: eof_tx,
        observer: job.observer.clone(),
    };
    let reader = match std::thread::Builder::new()
        .name(format!("corral-read-{}", job.task))
        .spawn(move || reader::run(reader_job))
    {
        Ok(handle) => handle,
        Err(err) => {
            abort(job, &mut agent);
            return Err(format!("could not start a reader thread: {err}"));
        }
    };

    let writer = match (stdin, writer_pipe) {
        (Some(pipe), Some(((cancel, watch), initial, queue))) => {
            let writer_job = stdin::WriterJob {
                task: job.task,
                stdin: pipe,
                initial,
                queue,
                cancel: watch,
                dropped: job.dropped.clone(),
                events: job.events.clone(),
            };
            match std::thread::Builder::new()
                .name(format!("corral-stdin-{}", job.task))
                .spawn(move || stdin::run(writer_job))
            {
                Ok(handle) => Some((handle, cancel)),
                Err(err) => {
                    abort(job, &mut agent);
                    drop(reader_cancel);
                    let _ = reader.join();
                    return Err(format!("could not start a stdin thread: {err}"));
                }
            }
        }
        _ => None,
    };

    Ok((
        agent,
        Helpers {
            reader,
            reader_cancel,
            reader_eof,
            writer,
        },
    ))
}

/// Kills and reaps an agent whose helper threads could not be started.
fn abort(job: &AgentJob, agent: &mut Agent) {
    let _ = job.group.kill_rest_and_reap(&mut agent.child, true);
}

/// Removes the task from the runtime's table.
fn forget(registry: &Registry, task: TaskId) {
    let slot = registry
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .remove(&task);
    drop(slot);
}

/// Blocks until the leader exited, leaving it a zombie (not reaped).
fn wait_exit_keep_zombie(pid: i32) -> std::io::Result<()> {
    loop {
        // SAFETY: siginfo_t is plain data; waitid fills it in.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: valid pointer to `info`; P_PID with our own child's pid.
        let rc = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if rc == 0 {
            return Ok(());
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// What the OS said about the exit, with the signal by name.
fn exit_info(status: ExitStatus) -> ExitInfo {
    use std::os::unix::process::ExitStatusExt;
    ExitInfo {
        code: status.code(),
        signal: status.signal().map(|number| {
            Signal::try_from(number)
                .map(|signal| signal.as_str().to_string())
                .unwrap_or_else(|_| format!("signal {number}"))
        }),
        killed_outside_group: 0,
    }
}
