//! The server's loop: one [`Driver`] over the runtime and the store, fed
//! by the runtime's events and by the clients' requests, and every change
//! broadcast to the clients.
//!
//! Each client has a reader task (its requests go to the loop on a bounded
//! channel) and a writer task fed through a bounded queue of ready-made
//! lines (both in [`super::clients`], with the lines' encoding). The loop
//! never waits for a client: a full queue marks the client behind and the
//! loop sends it nothing more; once its writer has emptied the queue it
//! asks for a fresh snapshot, which replaces everything it missed. So a stuck client costs at most one queue of memory and never
//! slows the agents or the other clients.
//!
//! Never writes `State` (only `update`, through the driver, does), never
//! blocks on a client, never outlives its agents: however the loop ends,
//! every agent is killed before it returns.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::UnixStream;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::clients::{
    ChangedLine, Client, Inbox, OpenedLine, RecordLine, Seen, SummaryLine, TaskViewLine,
    WelcomeLine, encode, encode_line, fingerprint, seen, wire_id,
};
use super::protocol::{
    CORRAL_VERSION, ClientMessage, PROTOCOL, Reply, Request, TaskEvent, mismatch_message,
};
use crate::core::event::AgentEvent;
use crate::core::task::Task;
use crate::core::{Command, Event, TaskId};
use crate::driver::Driver;
use crate::logging::Redactor;
use crate::runtime::Runtime;
use crate::store::TaskRecord;
use crate::store::record::{RecordMeta, record_of};
use crate::tui::attention::{self, Attention};

/// Requests from all clients waiting for the loop.
const INBOX: usize = 256;
/// Runtime events applied in one batch before the clients hear of it.
const BATCH: usize = 64;

/// Why the loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Nobody attached and nothing to do for the idle time.
    Idle,
    /// A client asked (`corral server stop`).
    Stopped,
    /// SIGTERM or SIGINT.
    Signal,
}

/// The server: the driver, the clients, and what they were last told.
pub struct Server {
    pub driver: Driver<Runtime>,
    events: mpsc::Receiver<Event>,
    clients: HashMap<u64, Client>,
    next_client: u64,
    inbox_tx: mpsc::Sender<Inbox>,
    inbox: mpsc::Receiver<Inbox>,
    seen: HashMap<TaskId, Seen>,
    attention: Attention,
    redactor: Redactor,
    idle_after: Option<Duration>,
    stop: Option<Ending>,
    /// The runtime samples process costs (some client watches them).
    costs: bool,
}

impl Server {
    /// A server over `driver` whose runtime reports on `events`; it exits
    /// after `idle_after` with no client and no unfinished task (`None`:
    /// never by itself). `notify`: desktop notifications on block/finish.
    pub fn new(
        driver: Driver<Runtime>,
        events: mpsc::Receiver<Event>,
        idle_after: Option<Duration>,
        notify: bool,
    ) -> Server {
        let (inbox_tx, inbox) = mpsc::channel(INBOX);
        let mut attention = Attention::new(false, notify);
        attention.dbus = notify
            && attention::session_bus_exists(
                std::env::var("DBUS_SESSION_BUS_ADDRESS").ok().as_deref(),
            );
        let mut server = Server {
            driver,
            events,
            clients: HashMap::new(),
            next_client: 1,
            inbox_tx,
            inbox,
            seen: HashMap::new(),
            attention,
            redactor: Redactor::from_env(&[]),
            idle_after,
            stop: None,
            costs: false,
        };
        // Tasks adopted before the loop: clients get them in snapshots.
        for t in &server.driver.state().tasks {
            server.seen.insert(t.id, seen(t));
        }
        // Waiting tasks found at start are not news.
        let _ = server.attention.update(server.driver.state());
        server.attention.desktop.clear();
        server
    }

    fn now() -> u64 {
        crate::headless::now_ms()
    }

    /// The header clients get for `t`.
    fn header(&self, t: &Task) -> TaskRecord {
        let mut record = match self.driver.recorder().and_then(|r| r.header(t)) {
            Some(record) => record,
            None => {
                let meta = RecordMeta {
                    id: wire_id(t),
                    created_ms: t.started_ms.unwrap_or(0),
                    questions: Vec::new(),
                    owner: None,
                };
                record_of(t, &meta, Self::now(), &self.redactor)
            }
        };
        // This server runs it: a reader must not call it interrupted.
        record.owner_seen_live = Some(true);
        record
    }

    /// A snapshot of every task, each once as a summary (the core form
    /// too while it is unfinished or its session open), with the last
    /// `window` transcript entries of the `focus` task only, ready to send.
    fn welcome(&self, window: usize, focus: Option<&str>, resync: bool) -> Arc<str> {
        let focus = focus.and_then(|f| self.find(f).ok());
        let state = self.driver.state();
        let headers: Vec<TaskRecord> = state.tasks.iter().map(|t| self.header(t)).collect();
        let tasks = state
            .tasks
            .iter()
            .zip(&headers)
            .map(|(t, header)| {
                let window = if focus == Some(t.id) { window } else { 0 };
                let skip = t.transcript.len().saturating_sub(window);
                // A finished task's open session is live state too: the
                // cockpit offers to close it.
                let live = !t.status.is_final() || t.process_alive;
                TaskViewLine {
                    task: RecordLine::Summary(SummaryLine::of(header)),
                    n: t.id,
                    core: live.then_some(t),
                    events: t.transcript.entries().skip(skip).collect(),
                    omitted: if window == 0 {
                        0
                    } else {
                        t.transcript.dropped() + skip as u64
                    },
                }
            })
            .collect();
        encode_line(&WelcomeLine {
            kind: "welcome",
            protocol: PROTOCOL,
            corral: CORRAL_VERSION,
            pid: std::process::id(),
            tasks,
            resync,
            now_ms: Self::now(),
        })
    }

    /// Task `t` whole with its last `window` transcript entries.
    fn view<'a>(&self, t: &'a Task, window: usize) -> TaskViewLine<'a> {
        let skip = t.transcript.len().saturating_sub(window);
        TaskViewLine {
            task: RecordLine::Whole(self.header(t)),
            n: t.id,
            core: Some(t),
            events: t.transcript.entries().skip(skip).collect(),
            omitted: t.transcript.dropped() + skip as u64,
        }
    }

    /// Reads the stored transcript of `task` if the server has not yet (it
    /// starts from the records alone).
    fn load(&mut self, task: TaskId) {
        let _ = self.driver.load_transcript(Self::now(), task);
    }

    /// The answer to `open`: the task whole, its stored transcript read
    /// first.
    fn opened(&mut self, seq: u64, task: TaskId) -> Option<Arc<str>> {
        self.load(task);
        let t = self.driver.state().task(task)?;
        Some(encode_line(&OpenedLine {
            kind: "opened",
            seq,
            view: self.view(t, usize::MAX),
        }))
    }

    /// Queues `reply` for one client; a full queue marks it behind.
    fn send_to(client: &mut Client, line: Arc<str>) {
        client.send(line);
    }

    fn send(&mut self, client: u64, reply: &Reply) {
        let line = encode(reply);
        if let Some(c) = self.clients.get_mut(&client) {
            Self::send_to(c, line);
        }
    }

    fn broadcast(&mut self, reply: &Reply) {
        let line = encode(reply);
        for c in self.clients.values_mut().filter(|c| c.welcomed) {
            Self::send_to(c, line.clone());
        }
    }

    /// Tells the clients what changed: headers of the tasks that differ
    /// from what they were last told, the published events, the deletions
    /// and review reports.
    fn publish(&mut self, step: Published) {
        let Published {
            events: published,
            deleted,
            reviews,
        } = step;
        let state = self.driver.state();
        let mut tasks = Vec::new();
        let mut cores = Vec::new();
        let mut fresh_seen = Vec::new();
        for t in &state.tasks {
            let print = fingerprint(t);
            if self.seen.get(&t.id).map(|s| s.print) != Some(print) {
                tasks.push(self.header(t));
                cores.push(t);
                fresh_seen.push((
                    t.id,
                    Seen {
                        id: wire_id(t),
                        print,
                    },
                ));
            }
        }
        let id_of = |task: TaskId| {
            state
                .task(task)
                .map(wire_id)
                .or_else(|| self.seen.get(&task).map(|s| s.id.clone()))
        };
        let mut finished = Vec::new();
        let events: Vec<TaskEvent> = published
            .into_iter()
            .filter_map(|(task, event)| {
                if matches!(event, AgentEvent::Finished(_))
                    && let Some(t) = state.task(task)
                {
                    finished.push(format!(
                        "#{} {} — {}",
                        wire_id(t),
                        crate::present::truncate(&t.title(), 40),
                        t.status.name()
                    ));
                }
                Some(TaskEvent {
                    id: id_of(task)?,
                    event,
                })
            })
            .collect();
        let deleted: Vec<String> = deleted
            .into_iter()
            .filter_map(|task| self.seen.get(&task).map(|s| s.id.clone()))
            .collect();
        let line =
            (!(tasks.is_empty() && events.is_empty() && deleted.is_empty() && reviews.is_empty()))
                .then(|| {
                    encode_line(&ChangedLine {
                        kind: "changed",
                        tasks,
                        cores,
                        events,
                        deleted,
                        reviews,
                    })
                });
        for (task, seen) in fresh_seen {
            self.seen.insert(task, seen);
        }
        let gone: Vec<TaskId> = self
            .seen
            .keys()
            .filter(|id| self.driver.state().task(**id).is_none())
            .copied()
            .collect();
        for id in gone {
            self.seen.remove(&id);
        }
        let _ = self.attention.update(self.driver.state());
        for body in self.attention.desktop.drain(..) {
            attention::notify(body);
        }
        if self.attention.dbus {
            for body in finished {
                attention::notify_with("corral: a task finished", body);
            }
        }
        if let Some(line) = line {
            for c in self.clients.values_mut().filter(|c| c.welcomed) {
                Self::send_to(c, line.clone());
            }
        }
    }

    /// Applies a batch of runtime events (starting with `first`).
    fn runtime_events(&mut self, first: Event) {
        let mut out = Published::default();
        let mut next = Some(first);
        let mut applied = 0;
        while let Some(ev) = next.take() {
            if let Event::Output { task, bytes } = &ev {
                self.raw_output(*task, bytes);
            } else {
                out.add(self.driver.step(Self::now(), ev));
            }
            applied += 1;
            if applied < BATCH {
                next = self.events.try_recv().ok();
            }
        }
        self.publish(out);
    }

    fn raw_output(&mut self, task: TaskId, bytes: &[u8]) {
        let Some(id) = self.driver.state().task(task).map(wire_id) else {
            return;
        };
        let mut line: Option<Arc<str>> = None;
        for c in self.clients.values_mut() {
            if c.raw == Some(task) {
                let line = line
                    .get_or_insert_with(|| {
                        encode(&Reply::Raw {
                            id: id.clone(),
                            bytes: bytes.to_vec(),
                        })
                    })
                    .clone();
                Self::send_to(c, line);
            }
        }
    }

    /// The task a client means by `prefix` (a store id or a unique prefix).
    fn find(&self, prefix: &str) -> Result<TaskId, String> {
        let tasks = &self.driver.state().tasks;
        if let Some(t) = tasks.iter().find(|t| wire_id(t) == prefix) {
            return Ok(t.id);
        }
        let matches: Vec<&Task> = tasks
            .iter()
            .filter(|t| !prefix.is_empty() && wire_id(t).starts_with(prefix))
            .collect();
        match matches.as_slice() {
            [one] => Ok(one.id),
            [] => Err(format!(
                "no task `{prefix}` on this server (see `corral ls`)"
            )),
            many => Err(format!(
                "`{prefix}` matches several tasks: {}",
                many.iter()
                    .map(|t| wire_id(t))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    /// Handles one request line of `client`.
    fn request(&mut self, client: u64, line: &str) {
        let message: ClientMessage = match serde_json::from_str(line) {
            Ok(m) => m,
            Err(err) => {
                let message = format!("not a corral request: {err}");
                self.send(client, &Reply::Failed { seq: 0, message });
                return;
            }
        };
        let seq = message.seq;
        let welcomed = self.clients.get(&client).is_some_and(|c| c.welcomed);
        if let Request::Hello {
            protocol,
            corral,
            window,
            focus,
        } = message.request
        {
            if protocol != PROTOCOL {
                tracing::info!(client, protocol, %corral, "client of another protocol");
                let reply = Reply::Mismatch {
                    protocol: PROTOCOL,
                    corral: CORRAL_VERSION.into(),
                    message: mismatch_message(CORRAL_VERSION, PROTOCOL),
                };
                self.send(client, &reply);
                self.drop_client(client);
                return;
            }
            // The task a command follows comes with its transcript.
            if let Some(task) = focus.as_deref().and_then(|f| self.find(f).ok()) {
                self.load(task);
            }
            let line = self.welcome(window, focus.as_deref(), false);
            if let Some(c) = self.clients.get_mut(&client) {
                Self::send_to(c, line);
            }
            if let Some(c) = self.clients.get_mut(&client) {
                c.welcomed = true;
                c.window = window;
                c.focus = focus;
            }
            return;
        }
        if !welcomed {
            let message = "say hello first (with the protocol version)".into();
            self.send(client, &Reply::Failed { seq, message });
            return;
        }
        if let Request::Open { id } = &message.request {
            let line = self.find(id).and_then(|task| {
                self.opened(seq, task)
                    .ok_or_else(|| format!("{id} is gone"))
            });
            match line {
                Ok(line) => {
                    if let Some(c) = self.clients.get_mut(&client) {
                        Self::send_to(c, line);
                    }
                }
                Err(message) => self.send(client, &Reply::Failed { seq, message }),
            }
            return;
        }
        let reply = match self.command(client, message.request) {
            Ok(id) => Reply::Done { seq, id },
            Err(message) => Reply::Failed { seq, message },
        };
        if seq != 0 || matches!(reply, Reply::Failed { .. }) {
            self.send(client, &reply);
        }
    }

    /// Carries out one request; `Ok` names the task it concerned.
    fn command(&mut self, client: u64, request: Request) -> Result<Option<String>, String> {
        let task_of = |s: &Self, id: &str| -> Result<(TaskId, String), String> {
            let task = s.find(id)?;
            let wire = s.driver.state().task(task).map(wire_id).unwrap_or_default();
            Ok((task, wire))
        };
        let command = match request {
            // Answered in `request`.
            Request::Hello { .. } | Request::Open { .. } => return Ok(None),

            Request::Launch { spec } => {
                let spec = spec.to_spec()?;
                let (task, step) = self.driver.launch(Self::now(), spec);
                let id = self.driver.state().task(task).map(wire_id);
                tracing::info!(task = ?id, client, "launched for a client");
                self.publish(Published::of(step));
                return Ok(id);
            }
            Request::WatchRaw { id } => {
                let task = match id {
                    Some(id) => Some(task_of(self, &id)?.0),
                    None => None,
                };
                if let Some(c) = self.clients.get_mut(&client) {
                    c.raw = task;
                }
                return Ok(None);
            }
            Request::WatchCosts { on } => {
                if let Some(c) = self.clients.get_mut(&client) {
                    c.costs = on;
                }
                self.sync_costs();
                return Ok(None);
            }
            Request::Stop { kill } => {
                let live = self.live_tasks();
                if live > 0 && !kill {
                    return Err(format!(
                        "{live} task(s) are not finished: `corral server stop --kill` stops them"
                    ));
                }
                self.stop = Some(Ending::Stopped);
                return Ok(None);
            }
            Request::Kill { id } => {
                let (task, wire) = task_of(self, &id)?;
                let t = self.driver.state().task(task).ok_or("gone")?;
                if t.status.is_final() && !t.process_alive {
                    return Err(format!("task {wire} is already {}", t.status.name()));
                }
                (Command::Kill { task }, wire)
            }
            Request::Answer { id, answer } => {
                let (task, wire) = task_of(self, &id)?;
                self.waiting(task, &wire)?;
                (Command::Answer { task, answer }, wire)
            }
            Request::AllowAlways { id } => {
                let (task, wire) = task_of(self, &id)?;
                self.waiting(task, &wire)?;
                (Command::AllowAlways { task }, wire)
            }
            Request::FollowUp { id, text } => {
                let (task, wire) = task_of(self, &id)?;
                if text.trim().is_empty() {
                    return Err("the message is empty".into());
                }
                (Command::FollowUp { task, text }, wire)
            }
            Request::Resume { id, message } => {
                let (task, wire) = task_of(self, &id)?;
                (Command::Resume { task, message }, wire)
            }
            Request::Retry { id } => {
                let (task, wire) = task_of(self, &id)?;
                (Command::Retry { task }, wire)
            }
            Request::Archive { id, archived } => {
                let (task, wire) = task_of(self, &id)?;
                (Command::Archive { task, archived }, wire)
            }
            Request::Delete { id } => {
                let (task, wire) = task_of(self, &id)?;
                let t = self.driver.state().task(task).ok_or("gone")?;
                if !t.status.is_final() || t.process_alive {
                    return Err(format!("task {wire} still runs: kill it first"));
                }
                (Command::Delete { task }, wire)
            }
            Request::Input { id, bytes } => {
                let (task, wire) = task_of(self, &id)?;
                (Command::Input { task, bytes }, wire)
            }
            Request::Resize { id, rows, cols } => {
                let (task, wire) = task_of(self, &id)?;
                (Command::Resize { task, rows, cols }, wire)
            }
            Request::Review { id, op } => {
                let (task, wire) = task_of(self, &id)?;
                (Command::Review { task, op }, wire)
            }
        };
        let (command, wire) = command;
        let step = self.driver.step(Self::now(), Event::Command(command));
        self.publish(Published::of(step));
        Ok(Some(wire))
    }

    fn waiting(&self, task: TaskId, wire: &str) -> Result<(), String> {
        match self.driver.state().task(task) {
            Some(t) if t.pending_question.is_some() => Ok(()),
            _ => Err(format!("task {wire} is not waiting for an answer")),
        }
    }

    /// Tasks queued, running or waiting for an answer.
    pub fn live_tasks(&self) -> usize {
        self.driver
            .state()
            .tasks
            .iter()
            .filter(|t| !t.status.is_final())
            .count()
    }

    fn resync(&mut self, client: u64) {
        let Some((window, focus)) = self
            .clients
            .get(&client)
            .map(|c| (c.window, c.focus.clone()))
        else {
            return;
        };
        tracing::info!(client, "client fell behind: sending a fresh snapshot");
        let line = self.welcome(window, focus.as_deref(), true);
        if let Some(c) = self.clients.get_mut(&client) {
            c.resync(line);
        }
    }

    fn drop_client(&mut self, client: u64) {
        if let Some(c) = self.clients.remove(&client) {
            // The writer sends what is queued, then closes.
            c.reader.abort();
        }
        self.sync_costs();
    }

    /// The runtime samples process costs while some client draws them.
    fn sync_costs(&mut self) {
        let on = self.clients.values().any(|c| c.costs);
        if on != self.costs {
            self.costs = on;
            let step = self
                .driver
                .step(Self::now(), Event::Command(Command::WatchCosts { on }));
            self.publish(Published::of(step));
        }
    }

    /// Takes a new connection: refused unless it is this user's.
    fn accept(&mut self, stream: UnixStream) {
        let me = super::place::my_uid();
        match super::place::peer_uid(&stream) {
            Ok(uid) if uid == me => {}
            other => {
                let who = match other {
                    Ok(uid) => format!("uid {uid}"),
                    Err(err) => format!("an unknown user ({err})"),
                };
                tracing::warn!(%who, "refused a client of another user");
                let line = encode(&Reply::Refused {
                    message: format!(
                        "this corral server belongs to uid {me}; {who} may not use it"
                    ),
                });
                tokio::spawn(async move {
                    let mut stream = stream;
                    let _ = tokio::time::timeout(
                        Duration::from_secs(2),
                        stream.write_all(line.as_bytes()),
                    )
                    .await;
                });
                return;
            }
        }
        let client = self.next_client;
        self.next_client += 1;
        let connected = Client::connect(client, stream, &self.inbox_tx);
        self.clients.insert(client, connected);
        tracing::debug!(client, "client connected");
    }

    /// Runs until stopped, idle or signalled; every agent is dead after.
    pub async fn run(&mut self, listener: tokio::net::UnixListener) -> std::io::Result<Ending> {
        let mut sigterm = signal(SignalKind::terminate())?;
        let mut sigint = signal(SignalKind::interrupt())?;
        // No terminal to lose: a hang-up is not a reason to stop.
        let mut sighup = signal(SignalKind::hangup())?;
        let mut idle_since: Option<Instant> = None;
        let ending = loop {
            if let Some(ending) = self.stop {
                break ending;
            }
            let idle = self.clients.is_empty() && self.live_tasks() == 0;
            idle_since = match (idle, idle_since) {
                (false, _) => None,
                (true, None) => Some(Instant::now()),
                (true, since) => since,
            };
            let deadline = idle_since.zip(self.idle_after).map(|(s, d)| s + d);
            tokio::select! {
                Some(ev) = self.events.recv() => self.runtime_events(ev),
                Some(msg) = self.inbox.recv() => match msg {
                    Inbox::Line { client, line } => self.request(client, &line),
                    Inbox::Resync { client } => self.resync(client),
                    Inbox::Gone { client } => {
                        tracing::debug!(client, "client gone");
                        self.drop_client(client);
                    }
                },
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => self.accept(stream),
                    Err(err) => tracing::warn!(%err, "accept failed"),
                },
                _ = sigterm.recv() => break Ending::Signal,
                _ = sigint.recv() => break Ending::Signal,
                _ = sighup.recv() => tracing::info!("SIGHUP ignored"),
                _ = sleep_until(deadline), if deadline.is_some() => break Ending::Idle,
            }
        };
        self.shut_down(ending).await;
        Ok(ending)
    }

    /// Says goodbye, kills every agent, records their ends.
    async fn shut_down(&mut self, ending: Ending) {
        let message = match ending {
            Ending::Idle => "the server stopped: idle",
            Ending::Stopped => "the server was stopped (`corral server stop`)",
            Ending::Signal => "the server was stopped by a signal",
        };
        tracing::info!(?ending, live = self.live_tasks(), "server stopping");
        self.broadcast(&Reply::Bye {
            message: message.into(),
        });
        // Killed through the core, so each task ends `killed` (by the
        // user) with its last events recorded; the runtime's blocking kill
        // is the backstop for whatever is still alive after the ladder.
        let live: Vec<TaskId> = self
            .driver
            .state()
            .tasks
            .iter()
            .filter(|t| t.process_alive)
            .map(|t| t.id)
            .collect();
        for task in live {
            self.driver
                .step(Self::now(), Event::Command(Command::Kill { task }));
        }
        self.apply_until_all_exited(Duration::from_secs(8)).await;
        tokio::task::block_in_place(|| self.driver.executor.kill_all_blocking());
        self.apply_until_all_exited(Duration::from_secs(3)).await;
        if let Some(recorder) = self.driver.recorder() {
            recorder.flush();
        }
        let clients: Vec<u64> = self.clients.keys().copied().collect();
        for client in clients {
            self.drop_client(client);
        }
        // Give the writers a moment to deliver the goodbye.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    /// Applies runtime events until no agent process is alive (bounded).
    async fn apply_until_all_exited(&mut self, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let ev = match self.events.try_recv() {
                Ok(ev) => ev,
                Err(_) if !self.driver.state().tasks.iter().any(|t| t.process_alive) => break,
                Err(_) => match tokio::time::timeout_at(deadline, self.events.recv()).await {
                    Ok(Some(ev)) => ev,
                    _ => break,
                },
            };
            if !matches!(ev, Event::Output { .. }) {
                self.driver.step(Self::now(), ev);
            }
        }
    }
}

/// What steps published, gathered over a batch.
#[derive(Default)]
struct Published {
    events: Vec<(TaskId, AgentEvent)>,
    deleted: Vec<TaskId>,
    reviews: Vec<crate::core::review::ReviewReport>,
}

impl Published {
    fn of(step: crate::core::Step) -> Published {
        let mut out = Published::default();
        out.add(step);
        out
    }

    fn add(&mut self, step: crate::core::Step) {
        self.events.extend(step.published);
        self.deleted.extend(step.deleted);
        self.reviews.extend(step.reviews);
    }
}

async fn sleep_until(at: Option<Instant>) {
    if let Some(at) = at {
        tokio::time::sleep_until(at).await;
    }
}
