//! The store's writer thread: every file the recorder writes is written
//! here, off the loop.
//!
//! It creates a new task's folder on its first record, writes records
//! atomically (with fsync), and appends events and raw lines through
//! buffers that are flushed once per batch of messages (when the queue runs
//! dry, every [`BATCH`] messages, before a final record and on a flush
//! request), so a stream of small lines costs few writes. After a busy
//! batch it lets messages gather for [`GATHER`] before looking again, so
//! a stream costs a few wake-ups a second instead of one per event. A crash tears at
//! most the last batch; the next open repairs a torn last line.
//!
//! Holds a task's ownership lock ([`super::lock`]) while it is unfinished;
//! never writes an unfinished task another live corral holds. Never panics
//! on a store problem: it is logged and the task goes on.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::DirBuilderExt;
use std::sync::Arc;
use std::sync::mpsc::Receiver;

use super::Store;
use super::lock::{OwnerLock, lock_within};
use super::proc::ProcessId;
use super::record::TaskRecord;
use super::recorder::Msg;
use crate::core::TaskId;
use crate::logging::Redactor;
use crate::paths::open_private_append;

/// Lines kept for a task the writer does not know yet (should not happen
/// when `observe` runs before effects are applied); beyond this they are
/// dropped and counted in the log.
const PENDING_CAP: usize = 10_000;

/// How long the writer waits for a task's lock that somebody holds (a
/// recovery elsewhere holds a dead owner's lock while it kills its group).
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(4);

/// Messages handled at most between two flushes of the append buffers.
const BATCH: usize = 512;

/// How long the writer lets messages gather after a busy batch, so a
/// stream wakes it about a hundred times a second, not once per event.
/// Never longer than a frame: a flush request waits at most this.
const GATHER: std::time::Duration = std::time::Duration::from_millis(10);

/// Buffer of one append file.
const APPEND_BUFFER: usize = 64 * 1024;

type Append = BufWriter<File>;

/// What the writer thread keeps per task.
struct Written {
    record: TaskRecord,
    /// What is secret in this task's events and raw output.
    secrets: Arc<Redactor>,
    group: Option<ProcessId>,
    run: u32,
    events: Option<Append>,
    raw: Option<Append>,
    deleted: bool,
    /// Held while this process runs the task (until its final record).
    lock: Option<OwnerLock>,
    /// Another live corral holds the unfinished task: its output is not
    /// written here.
    foreign: bool,
}

pub(super) struct Writer {
    store: Store,
    tasks: HashMap<TaskId, Written>,
    pending: HashMap<TaskId, Vec<Msg>>,
    pending_lines: usize,
    closed: bool,
}

impl Writer {
    pub(super) fn new(store: Store) -> Writer {
        Writer {
            store,
            tasks: HashMap::new(),
            pending: HashMap::new(),
            pending_lines: 0,
            closed: false,
        }
    }

    pub(super) fn run(mut self, rx: Receiver<Msg>) {
        while let Ok(msg) = rx.recv() {
            let mut handled = 1;
            self.handle(msg);
            while handled < BATCH {
                match rx.try_recv() {
                    Ok(msg) => {
                        self.handle(msg);
                        handled += 1;
                    }
                    Err(_) => break,
                }
            }
            self.flush_all();
            if handled > 1 {
                // A stream is on: let the next messages gather instead of
                // being woken for each one (a wake costs the sender a
                // futex call and both threads a context switch).
                std::thread::sleep(GATHER);
            }
        }
    }

    /// Writes out every append buffer.
    fn flush_all(&mut self) {
        for (task, w) in &mut self.tasks {
            flush_files(*task, w);
        }
    }

    fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Flush(reply) => {
                self.flush_all();
                let _ = reply.send(());
            }
            Msg::Close => {
                self.closed = true;
                self.tasks.clear();
                self.pending.clear();
            }
            _ if self.closed => {}
            Msg::Upsert {
                task,
                record,
                secrets,
                fresh,
                unchanged,
            } => {
                self.upsert(task, *record, secrets, fresh, unchanged);
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
                        let line = w.secrets.line(&json);
                        if let Err(err) = file
                            .write_all(line.as_bytes())
                            .and_then(|()| file.write_all(b"\n"))
                        {
                            tracing::warn!(task, "cannot append to {}: {err}", path.display());
                            return;
                        }
                    }
                }
            }
            Msg::Raw(task, lines) => {
                let store = self.store.clone();
                let Some(w) = self.tasks.get_mut(&task) else {
                    return;
                };
                if w.deleted || w.foreign {
                    return;
                }
                let path = store.raw_path(&w.record.id, w.run.max(1));
                if let Some(file) = open_log(&mut w.raw, &path) {
                    for line in lines {
                        let line = w.secrets.line(&line);
                        if let Err(err) = file
                            .write_all(line.as_bytes())
                            .and_then(|()| file.write_all(b"\n"))
                        {
                            tracing::warn!(task, "cannot append to {}: {err}", path.display());
                            break;
                        }
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

    fn upsert(
        &mut self,
        task: TaskId,
        mut record: TaskRecord,
        secrets: Arc<Redactor>,
        fresh: bool,
        unchanged: bool,
    ) {
        // A new task's folder; its id was made without looking at the
        // disk, so an existing folder is somebody else's task.
        let collided = fresh
            && !self.tasks.contains_key(&task)
            && match std::fs::DirBuilder::new()
                .mode(0o700)
                .create(self.store.task_dir(&record.id))
            {
                Ok(()) => false,
                Err(err) => {
                    tracing::error!(task = %record.id, "cannot record the task: {err}");
                    true
                }
            };
        let w = self.tasks.entry(task).or_insert_with(|| Written {
            record: record.clone(),
            secrets: secrets.clone(),
            group: None,
            run: record.runs,
            events: None,
            raw: None,
            deleted: collided,
            lock: None,
            foreign: false,
        });
        if w.run != record.runs {
            // A new run: new files, and its group is not known yet.
            flush_files(task, w);
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
        if unchanged && record.status.is_final() {
            // Adopted as it is on disk: thousands of stored tasks cost no
            // write (and no fsync) at start.
            return;
        }
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
        if finished {
            // The record says the run is over: its events are all on disk.
            flush_files(task, w);
        }
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

/// Writes out the task's append buffers.
fn flush_files(task: TaskId, w: &mut Written) {
    for file in [w.events.as_mut(), w.raw.as_mut()].into_iter().flatten() {
        if let Err(err) = file.flush() {
            tracing::warn!(task, "cannot append to the task's log: {err}");
        }
    }
}

/// The open append file in `slot`, opening `path` (0600) if needed. A file
/// whose last line was torn by a crash gets a newline first, so the next
/// line stays whole.
fn open_log<'a>(slot: &'a mut Option<Append>, path: &std::path::Path) -> Option<&'a mut Append> {
    if slot.is_none() {
        let torn = last_byte(path).is_some_and(|b| b != b'\n');
        match open_private_append(path) {
            Ok(mut file) => {
                if torn {
                    let _ = file.write_all(b"\n");
                }
                *slot = Some(BufWriter::with_capacity(APPEND_BUFFER, file));
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
