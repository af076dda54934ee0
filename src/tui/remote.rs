//! The cockpit as a client of the corral server: what carries its
//! commands out (the local runtime, or the server) and the thread that
//! turns the server's messages into events for the cockpit's loop.
//!
//! In server mode the cockpit's `State` is a mirror of the server's: the
//! reader thread turns every snapshot and change into one
//! [`Event::Mirror`], stepped through `update` like any event (so `update`
//! stays the only writer), and the user's commands go to the server
//! instead of into the local `update`. Never runs an agent, never blocks
//! the loop on the socket for long (writes have a timeout).

use std::collections::HashMap;
use std::io::{BufReader, Write};
use std::time::Duration;

use tokio::sync::mpsc::Sender;

use crate::core::task::TaskSpec;
use crate::core::{Command, Effect, Event, Mirror, State, TaskId};
use crate::driver::Executor;
use crate::runtime::Runtime;
use crate::server::client::{Connection, read_reply};
use crate::server::protocol::{ClientMessage, Reply, Request, TaskView, WireSpec};
use crate::server::transport::{LinkReader, LinkWriter};
use crate::server::wire_id;

/// How long a request may wait for room on the socket.
const WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// What carries the cockpit's effects out.
pub enum Backend {
    /// This process runs the agents.
    Local(Runtime),
    /// The corral server runs them; this is the link to it.
    Server(Remote),
}

impl Executor for Backend {
    fn execute(&mut self, effect: Effect) {
        match self {
            Backend::Local(runtime) => runtime.apply(effect),
            // A mirror step has no effects; a command never steps here.
            Backend::Server(_) => tracing::warn!(?effect, "an effect in server mode, ignored"),
        }
    }
}

impl Backend {
    /// Process groups of local agents (none in server mode).
    pub fn live_groups(&self) -> Vec<i32> {
        match self {
            Backend::Local(runtime) => runtime.live_groups(),
            Backend::Server(_) => Vec::new(),
        }
    }

    /// Kills every local agent (in server mode the agents go on).
    pub fn kill_all_blocking(&mut self) {
        if let Backend::Local(runtime) = self {
            runtime.kill_all_blocking();
        }
    }

    /// The server link, in server mode.
    pub fn remote(&mut self) -> Option<&mut Remote> {
        match self {
            Backend::Server(remote) => Some(remote),
            Backend::Local(_) => None,
        }
    }
}

/// What the reader thread tells the loop besides events.
#[derive(Debug, Clone, PartialEq)]
pub enum Note {
    /// Request `seq` was carried out for `task`.
    Done { seq: u64, task: Option<TaskId> },
    /// A request was refused; the server's words.
    Failed(String),
    /// The server is gone (or said goodbye).
    Gone(String),
}

/// The writing half of the link.
pub struct Remote {
    writer: LinkWriter,
    next_seq: u64,
    /// The task whose terminal output the server sends.
    watched: Option<TaskId>,
}

impl Remote {
    /// Sends one request; returns its number.
    fn send(&mut self, request: Request) -> Result<u64, String> {
        let seq = self.next_seq;
        self.next_seq += 1;
        let mut line = serde_json::to_string(&ClientMessage { seq, request })
            .map_err(|err| format!("cannot encode a request: {err}"))?;
        line.push('\n');
        self.writer
            .write_all(line.as_bytes())
            .map_err(|err| format!("the corral server does not listen: {err}"))?;
        Ok(seq)
    }

    /// Starts `spec` on the server; returns the request number.
    pub fn launch(&mut self, spec: &TaskSpec) -> Result<u64, String> {
        self.send(Request::Launch {
            spec: Box::new(WireSpec::of(spec)),
        })
    }

    /// Forwards a user's command to the server (tasks by their wire id).
    pub fn command(&mut self, state: &State, command: Command) -> Result<(), String> {
        let id = |task: TaskId| {
            state
                .task(task)
                .map(wire_id)
                .ok_or_else(|| format!("#{task} is gone"))
        };
        let request = match command {
            Command::Kill { task } => Request::Kill { id: id(task)? },
            Command::Answer { task, answer } => Request::Answer {
                id: id(task)?,
                answer,
            },
            Command::AllowAlways { task } => Request::AllowAlways { id: id(task)? },
            Command::FollowUp { task, text } => Request::FollowUp {
                id: id(task)?,
                text,
            },
            Command::Resume { task, message } => Request::Resume {
                id: id(task)?,
                message,
            },
            Command::Retry { task } => Request::Retry { id: id(task)? },
            Command::Archive { task, archived } => Request::Archive {
                id: id(task)?,
                archived,
            },
            Command::Delete { task } => Request::Delete { id: id(task)? },
            Command::Input { task, bytes } => Request::Input {
                id: id(task)?,
                bytes,
            },
            Command::Resize { task, rows, cols } => Request::Resize {
                id: id(task)?,
                rows,
                cols,
            },
            Command::Review { task, op } => Request::Review { id: id(task)?, op },
            Command::WatchCosts { on } => Request::WatchCosts { on },
            Command::Launch { .. } | Command::Adopt { .. } => {
                return Err("launch through the server link".into());
            }
            // The server reads stored transcripts itself.
            Command::LoadTranscript { .. } => return Ok(()),
        };
        self.send(request).map(|_| ())
    }

    /// Asks for the terminal output of `task` (the selected one), once it
    /// changes.
    pub fn watch(&mut self, state: &State, task: Option<TaskId>) {
        if task == self.watched {
            return;
        }
        self.watched = task;
        let id = task.and_then(|t| state.task(t)).map(wire_id);
        let _ = self.send(Request::WatchRaw { id });
    }
}

/// The first mirror batch from a welcome's tasks.
pub fn snapshot(tasks: Vec<TaskView>, ids: &mut HashMap<String, TaskId>) -> Mirror {
    let mut mirror = Mirror {
        reset: true,
        ..Mirror::default()
    };
    ids.clear();
    for view in tasks {
        let Some(core) = view.core else { continue };
        ids.insert(view.task.id.clone(), core.id);
        mirror
            .events
            .extend(view.events.into_iter().map(|e| (core.id, e)));
        mirror.tasks.push(core);
    }
    mirror
}

/// Splits a connection into the link the loop writes through and a reader
/// thread that sends the server's news to `events` and `notes`; the first
/// snapshot is returned to apply before the loop starts.
pub fn link(
    mut conn: Connection,
    events: Sender<Event>,
    notes: Sender<Note>,
) -> std::io::Result<(Remote, Mirror)> {
    let mut ids = HashMap::new();
    let first = snapshot(std::mem::take(&mut conn.welcome.tasks), &mut ids);
    conn.set_write_timeout(Some(WRITE_TIMEOUT))?;
    let (reader, writer, next_seq) = conn.into_parts();
    if let Some(reader) = reader {
        std::thread::Builder::new()
            .name("corral-link".into())
            .spawn(move || read_server(reader, ids, events, notes))?;
    }
    Ok((
        Remote {
            writer,
            next_seq,
            watched: None,
        },
        first,
    ))
}

/// The reader thread: one event or note per server message, until the
/// server goes or the loop does.
fn read_server(
    mut reader: BufReader<LinkReader>,
    mut ids: HashMap<String, TaskId>,
    events: Sender<Event>,
    notes: Sender<Note>,
) {
    loop {
        let reply = match read_reply(&mut reader) {
            Ok(Some(reply)) => reply,
            Ok(None) => {
                let _ = notes.blocking_send(Note::Gone("the corral server went away".into()));
                return;
            }
            Err(err) => {
                let _ = notes.blocking_send(Note::Gone(format!("{err:#}")));
                return;
            }
        };
        let sent = match reply {
            Reply::Welcome { tasks, .. } => {
                let mirror = snapshot(tasks, &mut ids);
                events
                    .blocking_send(Event::Mirror(Box::new(mirror)))
                    .is_ok()
            }
            Reply::Changed {
                cores,
                events: published,
                deleted,
                reviews,
                ..
            } => {
                for core in &cores {
                    ids.insert(wire_id(core), core.id);
                }
                let mirror = Mirror {
                    reset: false,
                    tasks: cores,
                    events: published
                        .into_iter()
                        .filter_map(|e| Some((*ids.get(&e.id)?, e.event)))
                        .collect(),
                    deleted: deleted.iter().filter_map(|id| ids.remove(id)).collect(),
                    reviews,
                };
                events
                    .blocking_send(Event::Mirror(Box::new(mirror)))
                    .is_ok()
            }
            Reply::Raw { id, bytes } => match ids.get(&id) {
                Some(&task) => events.blocking_send(Event::Output { task, bytes }).is_ok(),
                None => true,
            },
            Reply::Done { seq, id } => {
                let task = id.and_then(|id| ids.get(&id).copied());
                notes.blocking_send(Note::Done { seq, task }).is_ok()
            }
            Reply::Failed { message, .. } => notes.blocking_send(Note::Failed(message)).is_ok(),
            Reply::Bye { message } => {
                let _ = notes.blocking_send(Note::Gone(message));
                return;
            }
            Reply::Mismatch { message, .. } | Reply::Refused { message } => {
                let _ = notes.blocking_send(Note::Gone(message));
                return;
            }
        };
        if !sent {
            return;
        }
    }
}
