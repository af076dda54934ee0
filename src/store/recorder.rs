//! The recorder: keeps the store in step with a front end's [`State`].
//!
//! The front end calls [`Recorder::observe`] after each `update` (before it
//! applies the effects, so a task is known before its agent starts). That
//! call only compares a few fields per touched task and sends messages; all
//! file IO (atomic record writes with fsync, event and raw-line appends)
//! happens on one writer thread, so the UI loop never waits for the disk.
//! The runtime reports spawned process groups and raw output lines through
//! [`RecorderObserver`], on its own threads, by message too.
//!
//! The writer holds a task's ownership lock ([`super::lock`]) while the
//! task is unfinished: taken before it writes an unfinished record, released
//! only after the final record is written (or when the process exits). It
//! never writes an unfinished task whose lock another live corral holds.
//! Finished tasks hold no lock, so a cockpit showing thousands of them does
//! not hold thousands of descriptors.
//!
//! Events and raw lines are written through the task's redactor
//! ([`super::record::task_redactor`]): no known secret or URL password
//! reaches those files.
//!
//! Never panics on a store problem: it is logged and the task goes on.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel, sync_channel};
use std::thread::JoinHandle;

use super::lock::{OwnerLock, lock_within};
use super::proc::ProcessId;
use super::record::{AnswerEntry, QuestionEntry, RecordMeta, TaskRecord, record_of, task_redactor};
use super::{Store, now_ms};
use crate::config::Config;
use crate::core::event::AgentEvent;
use crate::core::task::{Task, TaskStatus};
use crate::core::{State, TaskId};
use crate::logging::Redactor;
use crate::paths::open_private_append;
use crate::runtime::Observer;

/// Lines kept for a task the writer does not know yet (should not happen
/// when `observe` runs before effects are applied); beyond this they are
/// dropped and counted in the log.
const PENDING_CAP: usize = 10_000;

/// How long the writer waits for a task's lock that somebody holds (a
/// recovery elsewhere holds a dead owner's lock while it kills its group).
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(4);

enum Msg {
    /// The current record of a task (the writer adds the agent group), and
    /// what is secret in its events and raw output.
    Upsert(TaskId, Box<TaskRecord>, Arc<Redactor>),
    /// Canonical events of the task's current run.
    Events(TaskId, Vec<AgentEvent>),
    /// One raw output line of the task's current run.
    Raw(TaskId, String),
    /// The task's agent runs as this group.
    Group(TaskId, ProcessId),
    /// The task was deleted: remove its files.
    Delete(TaskId),
    /// Reply once everything before this message is written.
    Flush(std::sync::mpsc::SyncSender<()>),
    /// The recorder is gone: release every task (files and locks) and write
    /// nothing more, whatever late observers still send.
    Close,
}

/// What the front-end side remembers per recorded task.
struct Tracked {
    meta: RecordMeta,
    /// Fields whose change triggers a record write.
    seen: Option<Fingerprint>,
}

/// The record-relevant state of a task, cheap to compare.
#[derive(Debug, Clone, PartialEq)]
struct Fingerprint {
    status: TaskStatus,
    runs: u32,
    archived: bool,
    session_id: Option<String>,
    model: Option<String>,
    tokens: u64,
    cost_bits: Option<u64>,
    pending: Option<String>,
    questions: usize,
    answered: usize,
    finished_ms: Option<u64>,
    worktree: Option<String>,
}

fn fingerprint(t: &Task, meta: &RecordMeta) -> Fingerprint {
    Fingerprint {
        status: t.status,
        runs: t.runs,
        archived: t.archived,
        session_id: t.session_id.clone(),
        model: t.model.clone(),
        tokens: t.usage.total_tokens(),
        cost_bits: t.usage.cost_usd.map(f64::to_bits),
        pending: t.pending_question.as_ref().map(|q| q.id.clone()),
        questions: meta.questions.len(),
        answered: meta.questions.iter().filter(|q| q.answer.is_some()).count(),
        finished_ms: t.finished_ms,
        worktree: t.worktree.as_ref().map(|w| w.branch.clone()),
    }
}

/// Hands raw lines and spawned groups from the runtime to the writer.
#[derive(Clone)]
pub struct RecorderObserver {
    tx: Sender<Msg>,
}

impl Observer for RecorderObserver {
    fn spawned(&self, task: TaskId, pgid: i32) {
        // The leader is not reaped yet, so this is its start time.
        if let Some(group) = ProcessId::of(pgid) {
            let _ = self.tx.send(Msg::Group(task, group));
        }
    }

    fn raw_line(&self, task: TaskId, line: &str) {
        let _ = self.tx.send(Msg::Raw(task, line.to_string()));
    }
}

/// Records the tasks of one front end in the store.
pub struct Recorder {
    store: Store,
    tx: Sender<Msg>,
    writer: Option<JoinHandle<()>>,
    tracked: HashMap<TaskId, Tracked>,
    owner: Option<ProcessId>,
    redactor: Redactor,
}

impl Recorder {
    /// Starts the writer thread for `store`; this process owns what it records.
    pub fn start(store: Store) -> std::io::Result<Recorder> {
        let (tx, rx) = channel();
        let writer_store = store.clone();
        let writer = std::thread::Builder::new()
            .name("corral-store".into())
            .spawn(move || Writer::new(writer_store).run(rx))?;
        Ok(Recorder {
            store,
            tx,
            writer: Some(writer),
            tracked: HashMap::new(),
            owner: ProcessId::current(),
            redactor: Redactor::from_env(&[]),
        })
    }

    /// The store this recorder writes.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The observer to give the runtime ([`crate::runtime::Runtime::set_observer`]).
    pub fn observer(&self) -> Arc<RecorderObserver> {
        Arc::new(RecorderObserver {
            tx: self.tx.clone(),
        })
    }

    /// The store id of core task `task`, once recorded.
    pub fn store_id(&self, task: TaskId) -> Option<&str> {
        self.tracked.get(&task).map(|t| t.meta.id.as_str())
    }

    /// The core task id of store task `id`, if this recorder tracks it.
    pub fn task_id(&self, id: &str) -> Option<TaskId> {
        self.tracked
            .iter()
            .find(|(_, t)| t.meta.id == id)
            .map(|(task, _)| *task)
    }

    /// Brings the store up to date with `state` after an `update`:
    /// `published` are the events that update published (the caller still
    /// prints or shows them). Call it before applying the update's effects.
    pub fn observe(&mut self, state: &mut State, published: &[(TaskId, AgentEvent)]) {
        let now = now_ms();
        for task in state.drain_deleted() {
            if self.tracked.remove(&task).is_some() {
                let _ = self.tx.send(Msg::Delete(task));
            }
        }
        let mut touched: Vec<TaskId> = Vec::new();
        for t in &state.tasks {
            if !self.tracked.contains_key(&t.id) {
                match self.store.create_task_dir() {
                    Ok(id) => {
                        self.tracked.insert(
                            t.id,
                            Tracked {
                                meta: RecordMeta {
                                    id,
                                    created_ms: now,
                                    questions: Vec::new(),
                                    owner: self.owner.clone(),
                                },
                                seen: None,
                            },
                        );
                    }
                    Err(err) => {
                        tracing::error!(task = t.id, "cannot record the task: {err:#}");
                        continue;
                    }
                }
            }
            if let Some(tracked) = self.tracked.get(&t.id)
                && tracked.seen.as_ref().is_none_or(|seen| {
                    seen.status != t.status || seen.runs != t.runs || seen.archived != t.archived
                })
            {
                touched.push(t.id);
            }
        }
        // The core names a task's worktree after its store id.
        for t in state.tasks.iter_mut().filter(|t| t.short_id.is_none()) {
            if let Some(tracked) = self.tracked.get(&t.id) {
                t.short_id = Some(tracked.meta.id.clone());
            }
        }
        // Questions and answers, from what was published.
        for (task, event) in published {
            let Some(tracked) = self.tracked.get_mut(task) else {
                continue;
            };
            match event {
                AgentEvent::Question(q) => tracked.meta.questions.push(QuestionEntry {
                    question: q.clone(),
                    answer: None,
                }),
                AgentEvent::Answered {
                    id,
                    decision,
                    message,
                    answers,
                    by,
                } => {
                    if let Some(entry) = tracked
                        .meta
                        .questions
                        .iter_mut()
                        .rev()
                        .find(|e| e.question.id == *id && e.answer.is_none())
                    {
                        entry.answer = Some(AnswerEntry {
                            decision: decision.clone(),
                            message: message.clone(),
                            answers: answers.clone(),
                            by: by.clone(),
                        });
                    }
                }
                _ => {}
            }
            if !touched.contains(task) {
                touched.push(*task);
            }
        }
        for task in touched {
            let (Some(t), Some(tracked)) = (state.task(task), self.tracked.get_mut(&task)) else {
                continue;
            };
            let now_seen = fingerprint(t, &tracked.meta);
            if tracked.seen.as_ref() == Some(&now_seen) {
                continue;
            }
            tracked.seen = Some(now_seen);
            let record = record_of(t, &tracked.meta, now, &self.redactor);
            let secrets = Arc::new(task_redactor(t, &self.redactor));
            let _ = self.tx.send(Msg::Upsert(task, Box::new(record), secrets));
        }
        // Events after the records: a new run's record opens its files.
        let mut batch: Vec<(TaskId, Vec<AgentEvent>)> = Vec::new();
        for (task, event) in published {
            if !self.tracked.contains_key(task) {
                continue;
            }
            match batch.last_mut() {
                Some((last, events)) if last == task => events.push(event.clone()),
                _ => batch.push((*task, vec![event.clone()])),
            }
        }
        for (task, events) in batch {
            let _ = self.tx.send(Msg::Events(task, events));
        }
    }

    /// Adds a stored task to `state` (after a restart) and keeps recording
    /// it under its store id. Redacted environment values are taken from
    /// its profile in `config`, else from this process's environment, else
    /// dropped. The last run's events are replayed into its transcript.
    /// `None` when this build cannot run the record's agent kind, or when
    /// the task is unfinished and another live corral holds its lock (it is
    /// theirs: never relabelled, never rewritten).
    pub fn adopt(
        &mut self,
        state: &mut State,
        record: &TaskRecord,
        config: Option<&Config>,
    ) -> Option<TaskId> {
        if !record.status.is_final() && self.store.owned_elsewhere(&record.id) {
            return None;
        }
        let profile_env = record
            .profile
            .as_ref()
            .and_then(|p| config?.profile(p))
            .map(|p| p.env.clone())
            .unwrap_or_default();
        let mut task = record.to_task(state.settings.transcript_cap, |name| {
            profile_env
                .get(name)
                .cloned()
                .or_else(|| std::env::var(name).ok())
        })?;
        if record.runs > 0 {
            for event in self.store.read_events(&record.id, record.runs) {
                task.transcript.push(event);
            }
        }
        let id = state.adopt(task);
        let meta = RecordMeta {
            id: record.id.clone(),
            created_ms: record.created_ms,
            questions: record.questions.clone(),
            owner: self.owner.clone(),
        };
        let seen = state.task(id).map(|t| fingerprint(t, &meta));
        self.tracked.insert(id, Tracked { meta, seen });
        // The writer learns the task (and its run number) from the record.
        let mut stored = record.clone();
        let mut secrets = Arc::new(self.redactor.clone());
        if let Some(t) = state.task(id) {
            stored.status = t.status;
            secrets = Arc::new(task_redactor(t, &self.redactor));
        }
        let _ = self.tx.send(Msg::Upsert(id, Box::new(stored), secrets));
        Some(id)
    }

    /// Blocks until everything sent so far is written.
    pub fn flush(&self) {
        let (tx, rx) = sync_channel(1);
        if self.tx.send(Msg::Flush(tx)).is_ok() {
            let _ = rx.recv();
        }
    }
}

impl Drop for Recorder {
    /// Writes what is pending and stops the writer (runtime observers that
    /// still hold a sender just find it gone).
    fn drop(&mut self) {
        let _ = self.tx.send(Msg::Close);
        self.flush();
        let (dead_tx, _) = channel();
        drop(std::mem::replace(&mut self.tx, dead_tx));
        if let Some(writer) = self.writer.take() {
            // The writer ends when every sender is gone; observers held by
            // a runtime may outlive us, so do not wait for it.
            drop(writer);
        }
    }
}

/// What the writer thread keeps per task.
struct Written {
    record: TaskRecord,
    /// What is secret in this task's events and raw output.
    secrets: Arc<Redactor>,
    group: Option<ProcessId>,
    run: u32,
    events: Option<File>,
    raw: Option<File>,
    deleted: bool,
    /// Held while this process runs the task (until its final record).
    lock: Option<OwnerLock>,
    /// Another live corral holds the unfinished task: its output is not
    /// written here.
    foreign: bool,
}

struct Writer {
    store: Store,
    tasks: HashMap<TaskId, Written>,
    pending: HashMap<TaskId, Vec<Msg>>,
    pending_lines: usize,
    closed: bool,
}

impl Writer {
    fn new(store: Store) -> Writer {
        Writer {
            store,
            tasks: HashMap::new(),
            pending: HashMap::new(),
            pending_lines: 0,
            closed: false,
        }
    }

    fn run(mut self, rx: Receiver<Msg>) {
        while let Ok(msg) = rx.recv() {
            self.handle(msg);
        }
    }

    fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Flush(reply) => {
                let _ = reply.send(());
            }
            Msg::Close => {
                self.closed = true;
                self.tasks.clear();
                self.pending.clear();
            }
            _ if self.closed => {}
            Msg::Upsert(task, record, secrets) => {
                self.upsert(task, *record, secrets);
                if let Some(waiting) = self.pending.remove(&task) {
                    self.pending_lines = self.pending_lines.saturating_sub(waiting.len());
                    for msg in waiting {
                        self.handle(msg);
                    }
                }
            }
            Msg::Delete(task) => {
                self.pending.remove(&task);
                if let Some(w) = self.tasks.get_mut(&task) {
                    w.deleted = true;
                    w.events = None;
                    w.raw = None;
                    if let Err(err) = self.store.delete(&w.record.id) {
                        tracing::warn!(task, "{err:#}");
                    }
                }
            }
            Msg::Events(task, _) | Msg::Raw(task, _) | Msg::Group(task, _)
                if !self.tasks.contains_key(&task) =>
            {
                if self.pending_lines < PENDING_CAP {
                    self.pending_lines += 1;
                    self.pending.entry(task).or_default().push(msg);
                } else {
                    tracing::warn!(task, "store writer: dropped output of an unknown task");
                }
            }
            Msg::Events(task, events) => {
                let store = self.store.clone();
                let Some(w) = self.tasks.get_mut(&task) else {
                    return;
                };
                if w.deleted || w.foreign {
                    return;
                }
                let path = store.events_path(&w.record.id, w.run.max(1));
                let file = match open_log(&mut w.events, &path) {
                    Some(file) => file,
                    None => return,
                };
                for event in events {
                    if let Ok(json) = serde_json::to_string(&event) {
                        let mut line = w.secrets.line(&json).into_owned();
                        line.push('\n');
                        // One write per line: a crash tears at most the last.
                        if let Err(err) = file.write_all(line.as_bytes()) {
                            tracing::warn!(task, "cannot append to {}: {err}", path.display());
                            return;
                        }
                    }
                }
            }
            Msg::Raw(task, line) => {
                let store = self.store.clone();
                let Some(w) = self.tasks.get_mut(&task) else {
                    return;
                };
                if w.deleted || w.foreign {
                    return;
                }
                let path = store.raw_path(&w.record.id, w.run.max(1));
                if let Some(file) = open_log(&mut w.raw, &path) {
                    let mut line = w.secrets.line(&line).into_owned();
                    line.push('\n');
                    if let Err(err) = file.write_all(line.as_bytes()) {
                        tracing::warn!(task, "cannot append to {}: {err}", path.display());
                    }
                }
            }
            Msg::Group(task, group) => {
                let Some(w) = self.tasks.get_mut(&task) else {
                    return;
                };
                w.group = Some(group);
                let mut record = w.record.clone();
                record.agent_group = w.group.clone();
                self.save(task, record);
            }
        }
    }

    fn upsert(&mut self, task: TaskId, mut record: TaskRecord, secrets: Arc<Redactor>) {
        let w = self.tasks.entry(task).or_insert_with(|| Written {
            record: record.clone(),
            secrets: secrets.clone(),
            group: None,
            run: record.runs,
            events: None,
            raw: None,
            deleted: false,
            lock: None,
            foreign: false,
        });
        if w.run != record.runs {
            // A new run: new files, and its group is not known yet.
            w.run = record.runs;
            w.events = None;
            w.raw = None;
            w.group = None;
        }
        if record.agent_group.is_none() {
            record.agent_group = w.group.clone();
        }
        w.record = record.clone();
        w.secrets = secrets;
        self.save(task, record);
    }

    fn save(&mut self, task: TaskId, record: TaskRecord) {
        let Some(w) = self.tasks.get_mut(&task) else {
            return;
        };
        if w.deleted {
            return;
        }
        let finished = record.status.is_final();
        if !finished && w.lock.is_none() {
            // Wait a little: a recovery elsewhere may hold a dead owner's
            // lock while it kills that owner's agent group.
            let wait = if w.foreign {
                std::time::Duration::ZERO
            } else {
                LOCK_WAIT
            };
            match lock_within(&self.store.task_dir(&record.id), wait) {
                Ok(Some(lock)) => {
                    w.lock = Some(lock);
                    w.foreign = false;
                }
                Ok(None) => {
                    tracing::warn!(task = %record.id, "another corral runs this task; not writing it");
                    w.foreign = true;
                    return;
                }
                // A store without flock support: record without a lock.
                Err(err) => tracing::warn!(task = %record.id, "cannot lock the task: {err}"),
            }
        }
        if let Err(err) = self.store.save(&record) {
            // Deleted under us (`corral rm --force`): stop writing it.
            if !self.store.task_dir(&record.id).is_dir() {
                w.deleted = true;
                w.events = None;
                w.raw = None;
                w.lock = None;
            }
            tracing::warn!(task, "{err:#}");
            return;
        }
        if finished {
            // Recovery never touches a final record: nothing to guard.
            w.lock = None;
        }
    }
}

/// The open append file in `slot`, opening `path` (0600) if needed. A file
/// whose last line was torn by a crash gets a newline first, so the next
/// line stays whole.
fn open_log<'a>(slot: &'a mut Option<File>, path: &std::path::Path) -> Option<&'a mut File> {
    if slot.is_none() {
        let torn = last_byte(path).is_some_and(|b| b != b'\n');
        match open_private_append(path) {
            Ok(mut file) => {
                if torn {
                    let _ = file.write_all(b"\n");
                }
                *slot = Some(file);
            }
            Err(err) => {
                tracing::warn!("cannot open {}: {err}", path.display());
                return None;
            }
        }
    }
    slot.as_mut()
}

/// The last byte of the file at `path`, if it has one.
fn last_byte(path: &std::path::Path) -> Option<u8> {
    let mut file = File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    if len == 0 {
        return None;
    }
    file.seek(SeekFrom::Start(len - 1)).ok()?;
    let mut b = [0u8; 1];
    file.read_exact(&mut b).ok()?;
    Some(b[0])
}
