//! The recorder: keeps the store in step with a front end's [`State`].
//!
//! The driver ([`crate::driver`]) calls [`Recorder::observe`] after each
//! `update` with the [`Step`] it produced (before the effects run, so a task
//! is known before its agent starts). That call reads state, never writes
//! it: a task's store id came with its launch. It only compares a few
//! fields per touched task and sends messages on a bounded queue; all file
//! IO (creating task folders, atomic record writes with fsync, batched event
//! and raw-line appends) happens on one writer thread ([`super::writer`]),
//! so the loop waits for the disk only when the writer is a whole queue
//! behind. The runtime reports spawned process groups and raw output lines
//! through [`RecorderObserver`], on its own threads, by message too.
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
use std::sync::Arc;
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;

use super::proc::ProcessId;
use super::record::{AnswerEntry, QuestionEntry, RecordMeta, TaskRecord, record_of, task_redactor};
use super::writer::Writer;
use super::{Store, now_ms};
use crate::config::Config;
use crate::core::event::AgentEvent;
use crate::core::task::{Task, TaskStatus};
use crate::core::{State, Step, TaskId};
use crate::logging::Redactor;
use crate::runtime::Observer;

/// Messages the writer may be behind by before senders wait: bounded, so a
/// slow disk slows the agents down instead of filling memory.
const QUEUE: usize = 4096;

pub(super) enum Msg {
    /// The current record of a task (the writer adds the agent group), and
    /// what is secret in its events and raw output. `fresh`: the first
    /// record of a new task, whose folder the writer creates. `unchanged`:
    /// the store already has this record (an adopted task): learn it,
    /// do not write it.
    Upsert {
        task: TaskId,
        record: Box<TaskRecord>,
        secrets: Arc<Redactor>,
        fresh: bool,
        unchanged: bool,
    },
    /// Canonical events of the task's current run.
    Events(TaskId, Vec<AgentEvent>),
    /// Raw output lines of the task's current run, in order.
    Raw(TaskId, Vec<String>),
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
    tx: SyncSender<Msg>,
}

impl Observer for RecorderObserver {
    fn spawned(&self, task: TaskId, pgid: i32) {
        // The leader is not reaped yet, so this is its start time.
        if let Some(group) = ProcessId::of(pgid) {
            let _ = self.tx.send(Msg::Group(task, group));
        }
    }

    fn raw_lines(&self, task: TaskId, lines: Vec<String>) {
        let _ = self.tx.send(Msg::Raw(task, lines));
    }
}

/// Records the tasks of one front end in the store.
pub struct Recorder {
    store: Store,
    tx: SyncSender<Msg>,
    writer: Option<JoinHandle<()>>,
    tracked: HashMap<TaskId, Tracked>,
    /// Records read by [`Recorder::load`] whose tasks `update` has not
    /// adopted yet, by store id.
    loaded: HashMap<String, (RecordMeta, Box<TaskRecord>)>,
    owner: Option<ProcessId>,
    redactor: Redactor,
}

impl Recorder {
    /// Starts the writer thread for `store`; this process owns what it records.
    pub fn start(store: Store) -> std::io::Result<Recorder> {
        let (tx, rx) = sync_channel(QUEUE);
        let writer_store = store.clone();
        let writer = std::thread::Builder::new()
            .name("corral-store".into())
            .spawn(move || Writer::new(writer_store).run(rx))?;
        Ok(Recorder {
            store,
            tx,
            writer: Some(writer),
            tracked: HashMap::new(),
            loaded: HashMap::new(),
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

    /// The record of core task `t` as the store writes it (the server's
    /// task header for its clients), once this recorder tracks the task.
    pub fn header(&self, t: &Task) -> Option<TaskRecord> {
        let tracked = self.tracked.get(&t.id)?;
        Some(record_of(t, &tracked.meta, now_ms(), &self.redactor))
    }

    /// Brings the store up to date with `state` after an `update` that
    /// produced `step`. Reads `state`, never writes it. Call it before
    /// carrying out the step's effects.
    ///
    /// `only`: the step came from output of this task and changed nothing
    /// else (no effect, no deletion), so only it and the tasks it published
    /// for are looked at, not every task (a stream costs per event what
    /// one task costs, however many tasks are stored).
    pub fn observe(&mut self, state: &State, step: &Step, only: Option<TaskId>) {
        let now = now_ms();
        for task in &step.deleted {
            if self.tracked.remove(task).is_some() {
                self.send(Msg::Delete(*task));
            }
        }
        let mut touched: Vec<TaskId> = Vec::new();
        let tasks: Box<dyn Iterator<Item = &Task>> = match only {
            None => Box::new(state.tasks.iter()),
            Some(task) => Box::new(
                std::iter::once(task)
                    .chain(step.published.iter().map(|(t, _)| *t))
                    .filter_map(|id| state.task(id)),
            ),
        };
        for t in tasks {
            if !self.tracked.contains_key(&t.id) {
                // Only tasks launched with a store id (or adopted) are stored.
                let Some(id) = t.short_id.as_ref() else {
                    continue;
                };
                let (meta, stored) = match self.loaded.remove(id) {
                    Some((meta, record)) => (meta, Some(record)),
                    None => (
                        RecordMeta {
                            id: id.clone(),
                            created_ms: now,
                            questions: Vec::new(),
                            owner: self.owner.clone(),
                        },
                        None,
                    ),
                };
                let seen = stored.is_some().then(|| fingerprint(t, &meta));
                if let Some(mut record) = stored {
                    // The writer learns the adopted task (and its run
                    // number) from its record, with the status it has now;
                    // a record that stays as it was is not written again.
                    let unchanged = record.status == t.status;
                    record.status = t.status;
                    let secrets = Arc::new(task_redactor(t, &self.redactor));
                    self.send(Msg::Upsert {
                        task: t.id,
                        record,
                        secrets,
                        fresh: false,
                        unchanged,
                    });
                }
                self.tracked.insert(t.id, Tracked { meta, seen });
            }
            if let Some(tracked) = self.tracked.get(&t.id)
                && tracked.seen.as_ref().is_none_or(|seen| {
                    seen.status != t.status || seen.runs != t.runs || seen.archived != t.archived
                })
                && !touched.contains(&t.id)
            {
                touched.push(t.id);
            }
        }
        // Questions and answers, from what was published.
        for (task, event) in &step.published {
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
        // Events after the records, since a new run's record opens its
        // files; but a final record after the events, since a reader that
        // sees it (`corral logs --follow`) reads the events one last time.
        let mut finals = Vec::new();
        for task in touched {
            let (Some(t), Some(tracked)) = (state.task(task), self.tracked.get_mut(&task)) else {
                continue;
            };
            let now_seen = fingerprint(t, &tracked.meta);
            if tracked.seen.as_ref() == Some(&now_seen) {
                continue;
            }
            let fresh = tracked.seen.is_none();
            tracked.seen = Some(now_seen);
            let record = record_of(t, &tracked.meta, now, &self.redactor);
            let secrets = Arc::new(task_redactor(t, &self.redactor));
            let msg = Msg::Upsert {
                task,
                record: Box::new(record),
                secrets,
                fresh,
                unchanged: false,
            };
            if t.status.is_final() && !fresh {
                finals.push(msg);
            } else {
                self.send(msg);
            }
        }
        let mut batch: Vec<(TaskId, Vec<AgentEvent>)> = Vec::new();
        for (task, event) in &step.published {
            if !self.tracked.contains_key(task) {
                continue;
            }
            match batch.last_mut() {
                Some((last, events)) if last == task => events.push(event.clone()),
                _ => batch.push((*task, vec![event.clone()])),
            }
        }
        for (task, events) in batch {
            self.send(Msg::Events(task, events));
        }
        for msg in finals {
            self.send(msg);
        }
    }

    /// Reads a stored task to bring it back after a restart (the caller
    /// adopts it through `update`, and [`Recorder::observe`] then keeps
    /// recording it under its store id). Redacted environment values are
    /// taken from its profile in `config`, else from this process's
    /// environment, else dropped. The last run's events are not read: the
    /// task says which run they are in ([`Task::transcript_stored`]) and a
    /// front end reads them with [`Recorder::stored_events`] when the task
    /// is opened, so a start costs one record per task. `None` when this build cannot run the record's agent
    /// kind, or when the task is unfinished and another live corral holds
    /// its lock (it is theirs: never relabelled, never rewritten).
    pub fn load(
        &mut self,
        record: &TaskRecord,
        config: Option<&Config>,
        transcript_cap: usize,
    ) -> Option<Task> {
        if !record.status.is_final() && self.store.owned_elsewhere(&record.id) {
            return None;
        }
        let profile_env = record
            .profile
            .as_ref()
            .and_then(|p| config?.profile(p))
            .map(|p| p.env.clone())
            .unwrap_or_default();
        let mut task = record.to_task(transcript_cap, |name| {
            profile_env
                .get(name)
                .cloned()
                .or_else(|| std::env::var(name).ok())
        })?;
        if record.runs > 0 {
            task.transcript_stored = Some(record.runs);
        }
        let meta = RecordMeta {
            id: record.id.clone(),
            created_ms: record.created_ms,
            questions: record.questions.clone(),
            owner: self.owner.clone(),
        };
        self.loaded
            .insert(record.id.clone(), (meta, Box::new(record.clone())));
        Some(task)
    }

    /// The stored events of run `run` of the task the store knows as `id`.
    pub fn stored_events(&self, id: &str, run: u32) -> Vec<AgentEvent> {
        self.store.read_events(id, run)
    }

    /// Queues a message for the writer; waits only while the writer is a
    /// whole queue behind.
    fn send(&self, msg: Msg) {
        let _ = self.tx.send(msg);
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
        let (dead_tx, _) = sync_channel(0);
        drop(std::mem::replace(&mut self.tx, dead_tx));
        if let Some(writer) = self.writer.take() {
            // The writer ends when every sender is gone; observers held by
            // a runtime may outlive us, so do not wait for it.
            drop(writer);
        }
    }
}
