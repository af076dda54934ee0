//! The cockpit as a client of the corral servers: what carries its
//! commands out (the local runtime, or the servers of the attached hosts).
//!
//! In server mode the cockpit's `State` is a mirror of every attached
//! host's server: each host's link thread (`host_link`) turns its
//! snapshots and changes into [`crate::core::Event::Mirror`] batches,
//! stepped through `update` like any event (so `update` stays the only
//! writer), and the user's commands go to the server of the task's own
//! host instead of into the local `update`. The snapshot has no
//! transcripts: the ones the cockpit shows are asked for with `open`
//! ([`Remote::open_shown`]). Never runs an agent, never
//! blocks the loop on this machine's socket for long (writes have a
//! timeout); a host not connected refuses at once with a message.

use std::collections::HashSet;
use std::io::Write;
use std::time::Duration;

use crate::core::task::TaskSpec;
use crate::core::{Command, Effect, State, TaskId};
use crate::driver::Executor;
use crate::runtime::Runtime;
use crate::server::protocol::{ClientMessage, Request, WireSpec};
use crate::server::transport::LinkWriter;
use crate::server::wire_id;

/// How long a request may wait for room on the socket.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(2);

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

/// What a host's link thread tells the loop besides mirror events.
pub enum Note {
    /// Request `seq` to host `host` was carried out for the task the
    /// server calls `id`.
    Done {
        host: usize,
        seq: u64,
        id: Option<String>,
    },
    /// A request was refused; the server's words.
    Failed { host: usize, message: String },
    /// This machine's server is gone (or said goodbye): the cockpit ends.
    Gone(String),
    /// Host `host` is (again) connected: requests go through `writer`.
    Linked {
        host: usize,
        writer: LinkWriter,
        next_seq: u64,
    },
    /// Terminal output of task `id` of host `host` (the watched one).
    Raw {
        host: usize,
        id: String,
        bytes: Vec<u8>,
    },
}

/// The writing half of one host's link.
struct HostWriter {
    name: String,
    /// `None` while the host is not connected.
    writer: Option<LinkWriter>,
    next_seq: u64,
}

/// The writing halves of the links to every attached host, in the order
/// of the targets (the loop writes; each host's thread reads).
pub struct Remote {
    hosts: Vec<HostWriter>,
    /// The task whose terminal output is asked for: its host, its id
    /// there, and the mirror's id.
    watched: Option<(usize, String, TaskId)>,
    /// Whether the servers are asked for their agents' process costs.
    watch_costs: bool,
    /// Tasks (the mirror's ids) asked for with `open`, not answered yet.
    opening: HashSet<TaskId>,
}

impl Remote {
    /// Links to `names` (in this order), none connected yet.
    pub fn new(names: Vec<String>) -> Remote {
        Remote {
            hosts: names
                .into_iter()
                .map(|name| HostWriter {
                    name,
                    writer: None,
                    next_seq: 1,
                })
                .collect(),
            watched: None,
            watch_costs: false,
            opening: HashSet::new(),
        }
    }

    /// The hosts' names, in order.
    pub fn names(&self) -> Vec<String> {
        self.hosts.iter().map(|h| h.name.clone()).collect()
    }

    /// The index of host `name`.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.hosts.iter().position(|h| h.name == name)
    }

    /// The name of host `host`.
    pub fn name(&self, host: usize) -> &str {
        self.hosts.get(host).map(|h| h.name.as_str()).unwrap_or("?")
    }

    /// Host `host` is connected again through `writer`; the watched task's
    /// terminal is asked for again if it is there.
    pub fn linked(&mut self, host: usize, writer: LinkWriter, next_seq: u64) {
        let Some(h) = self.hosts.get_mut(host) else {
            return;
        };
        h.writer = Some(writer);
        h.next_seq = next_seq;
        if self.watch_costs {
            let _ = self.send(host, Request::WatchCosts { on: true });
        }
        if let Some((on, id, _)) = self.watched.clone()
            && on == host
        {
            let _ = self.send(host, Request::WatchRaw { id: Some(id) });
        }
    }

    /// Sends one request to host `host`; returns its number.
    fn send(&mut self, host: usize, request: Request) -> Result<u64, String> {
        let h = self
            .hosts
            .get_mut(host)
            .ok_or_else(|| format!("no host #{host}"))?;
        let Some(writer) = h.writer.as_mut() else {
            return Err(format!("host {} is not connected", h.name));
        };
        let seq = h.next_seq;
        h.next_seq += 1;
        let mut line = serde_json::to_string(&ClientMessage { seq, request })
            .map_err(|err| format!("cannot encode a request: {err}"))?;
        line.push('\n');
        if let Err(err) = writer
            .write_all(line.as_bytes())
            .and_then(|()| writer.flush())
        {
            // A full queue refuses this request only; a broken link's
            // thread says so and reconnects, until then nothing goes.
            if err.kind() == std::io::ErrorKind::WouldBlock {
                return Err(err.to_string());
            }
            h.writer = None;
            return Err(format!(
                "the corral server of {} does not listen: {err}",
                h.name
            ));
        }
        Ok(seq)
    }

    /// Starts `spec` on host `host`; returns the request number.
    pub fn launch(&mut self, host: usize, spec: &TaskSpec) -> Result<u64, String> {
        self.send(
            host,
            Request::Launch {
                spec: Box::new(WireSpec::of(spec)),
            },
        )
    }

    /// The host of task `task` and its id there.
    fn place(&self, state: &State, task: TaskId) -> Result<(usize, String), String> {
        let t = state.task(task).ok_or_else(|| format!("#{task} is gone"))?;
        let host = match &t.host {
            Some(name) => self
                .index(name)
                .ok_or_else(|| format!("#{task} is on host {name}, which is not attached"))?,
            None => 0,
        };
        Ok((host, wire_id(t)))
    }

    /// Forwards a user's command to the server of the task's own host
    /// (tasks by their id there).
    pub fn command(&mut self, state: &State, command: Command) -> Result<(), String> {
        let place = |task: TaskId| self.place(state, task);
        let (host, request) = match command {
            Command::Kill { task } => {
                let (h, id) = place(task)?;
                (h, Request::Kill { id })
            }
            Command::Answer { task, answer } => {
                let (h, id) = place(task)?;
                (h, Request::Answer { id, answer })
            }
            Command::AllowAlways { task } => {
                let (h, id) = place(task)?;
                (h, Request::AllowAlways { id })
            }
            Command::FollowUp { task, text } => {
                let (h, id) = place(task)?;
                (h, Request::FollowUp { id, text })
            }
            Command::Resume { task, message } => {
                let (h, id) = place(task)?;
                (h, Request::Resume { id, message })
            }
            Command::Retry { task } => {
                let (h, id) = place(task)?;
                (h, Request::Retry { id })
            }
            Command::Archive { task, archived } => {
                let (h, id) = place(task)?;
                (h, Request::Archive { id, archived })
            }
            Command::Delete { task } => {
                let (h, id) = place(task)?;
                (h, Request::Delete { id })
            }
            Command::Input { task, bytes } => {
                let (h, id) = place(task)?;
                (h, Request::Input { id, bytes })
            }
            Command::Resize { task, rows, cols } => {
                let (h, id) = place(task)?;
                (h, Request::Resize { id, rows, cols })
            }
            Command::Review { task, op } => {
                let (h, id) = place(task)?;
                (h, Request::Review { id, op })
            }
            // Every host's rows show their trees' costs, and a host
            // linked later is asked too.
            Command::WatchCosts { on } => {
                self.watch_costs = on;
                for host in 0..self.hosts.len() {
                    if self.hosts[host].writer.is_some() {
                        let _ = self.send(host, Request::WatchCosts { on });
                    }
                }
                return Ok(());
            }
            Command::Launch { .. } | Command::Adopt { .. } => {
                return Err("launch through the server link".into());
            }
            // The server reads stored transcripts itself.
            Command::LoadTranscript { .. } => return Ok(()),
        };
        self.send(host, request).map(|_| ())
    }

    /// Asks for the terminal output of `task` (the selected one), once it
    /// changes: from its host, and no more from the one before.
    pub fn watch(&mut self, state: &State, task: Option<TaskId>) {
        if task == self.watched.as_ref().map(|w| w.2) {
            return;
        }
        let now = task.and_then(|t| self.place(state, t).ok().map(|(h, id)| (h, id, t)));
        let before = std::mem::replace(&mut self.watched, now.clone());
        if let Some((host, _, _)) = before
            && now.as_ref().is_none_or(|n| n.0 != host)
        {
            let _ = self.send(host, Request::WatchRaw { id: None });
        }
        if let Some((host, id, _)) = now {
            let _ = self.send(host, Request::WatchRaw { id: Some(id) });
        }
    }

    /// Asks the servers for the transcripts the cockpit shows and does not
    /// have yet: the selected task's, and every unfinished task's (their
    /// rows and tiles follow them live). Each is asked for once, until its
    /// answer comes or a snapshot replaces the tasks
    /// ([`Remote::forget_opening`]).
    pub fn open_shown(&mut self, state: &State, selected: Option<TaskId>) {
        let unread = |id: &TaskId| {
            state
                .task(*id)
                .is_some_and(|t| t.transcript_stored.is_some())
        };
        self.opening.retain(unread);
        let wanted: Vec<TaskId> = state
            .tasks
            .iter()
            .filter(|t| t.transcript_stored.is_some())
            .filter(|t| Some(t.id) == selected || !t.status.is_final())
            .map(|t| t.id)
            .filter(|id| !self.opening.contains(id))
            .collect();
        for task in wanted {
            let Ok((host, id)) = self.place(state, task) else {
                continue;
            };
            if self.send(host, Request::Open { id }).is_ok() {
                self.opening.insert(task);
            }
        }
    }

    /// A snapshot came: what was asked for may never be answered.
    pub fn forget_opening(&mut self) {
        self.opening.clear();
    }

    /// The mirror's id of the watched task, when `id` of `host` is it.
    pub fn watched(&self, host: usize, id: &str) -> Option<TaskId> {
        self.watched
            .as_ref()
            .filter(|(h, wid, _)| *h == host && wid == id)
            .map(|w| w.2)
    }
}
