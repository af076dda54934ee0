//! The task store: every task, its canonical events and its raw agent
//! output, kept in the data directory so nothing is lost across restarts.
//!
//! Layout, under `<data>/tasks/<id>/` (directories 0700, files 0600):
//! - `task.json`: the [`TaskRecord`], replaced atomically (temp file in the
//!   same directory, fsync, rename, fsync of the directory), so a reader or
//!   a crash only ever sees a whole record;
//! - `events-<run>.jsonl`: the canonical events of run N, one per line,
//!   exactly as `corral run --json` prints them (appended, one write per
//!   line; a torn last line after a crash is skipped by readers);
//! - `raw-<run>.log`: the agent's output lines that became no event (an
//!   unknown line, a protocol change), verbatim: the stream is stored once;
//! - `owner.lock`: flocked by the corral that owns the task (see [`lock`]).
//!
//! Several corral processes may use the store at once (a TUI, `corral run`,
//! `corral ls`): writers only touch tasks whose lock they hold, readers
//! tolerate half-created directories; recovery removes a folder without a
//! record or a temp file only when its lock is free and it is over a
//! minute old. Never panics on a damaged file; never writes a
//! secret (see [`crate::logging::Redactor`]).

pub mod commands;
pub mod lock;
pub mod proc;
pub mod record;
mod recorder;
mod writer;

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::core::event::AgentEvent;
use crate::paths::{create_private, ensure_private_dir};
pub use lock::{LOCK_FILE, OwnerLock};
pub use proc::{OrphanOutcome, ProcessId};
pub use record::{QuestionEntry, TaskRecord};
pub use recorder::{Recorder, RecorderObserver};

/// A new task's store id, made without IO: 8 random hex digits (32 bits,
/// so two tasks of one store share one with a chance of about n/4e9; the
/// writer then refuses to record the second, see `writer.rs`).
pub fn new_task_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_string()
}

/// The record file inside a task directory.
pub const RECORD_FILE: &str = "task.json";

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Writes `bytes` to `dir/name` atomically: a temp file in `dir` (0600),
/// fsync, rename over `name`, fsync `dir`. The directory must exist.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    let tmp = dir.join(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    let result = (|| {
        let mut file = create_private(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, dir.join(name))?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Parses JSON lines, skipping lines that do not parse (a torn last line
/// after a crash, or damage). Returns the values and how many were skipped.
pub fn parse_lines<T: serde::de::DeserializeOwned>(text: &str) -> (Vec<T>, usize) {
    let mut values = Vec::new();
    let mut skipped = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str(line) {
            Ok(v) => values.push(v),
            Err(_) => skipped += 1,
        }
    }
    (values, skipped)
}

/// Why a task could not be found by id.
#[derive(Debug, thiserror::Error)]
pub enum FindError {
    #[error("no task `{0}` (see `corral ls --all`)")]
    NotFound(String),
    #[error("`{0}` matches several tasks: {1}")]
    Ambiguous(String, String),
}

/// What [`Store::recover`] did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Recovery {
    /// Tasks whose corral was gone, now marked interrupted.
    pub interrupted: Vec<String>,
    /// Agent groups of dead corrals that were still alive and got SIGKILL:
    /// (task id, processes killed, survivors).
    pub killed: Vec<(String, usize, usize)>,
    /// Folders of killed runs that never got a record, now removed.
    pub removed_folders: Vec<String>,
    /// Leftover temp files of atomic writes, now removed.
    pub removed_temp_files: usize,
    /// Every record as [`Store::list`] gives it, the ones marked
    /// interrupted as they were saved: what a front end adopts, without
    /// reading the store a second time.
    pub records: Vec<TaskRecord>,
}

/// How old an unowned folder without a record, or a leftover temp file,
/// must be before recovery removes it: a run may sit between `mkdir` and
/// its first write (or between a temp file's creation and its rename).
pub const LEFTOVER_MIN_AGE: std::time::Duration = std::time::Duration::from_secs(60);

/// The task store in one data directory.
#[derive(Debug, Clone)]
pub struct Store {
    tasks_dir: PathBuf,
}

impl Store {
    /// Opens (creating, 0700) the store under `tasks_dir`.
    pub fn open(tasks_dir: &Path) -> Result<Store> {
        ensure_private_dir(tasks_dir)
            .with_context(|| format!("cannot create the task store {}", tasks_dir.display()))?;
        Ok(Store {
            tasks_dir: tasks_dir.to_path_buf(),
        })
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.tasks_dir
    }

    /// The directory of task `id`.
    pub fn task_dir(&self, id: &str) -> PathBuf {
        self.tasks_dir.join(id)
    }

    /// The canonical events file of run `run` of task `id`.
    pub fn events_path(&self, id: &str, run: u32) -> PathBuf {
        self.task_dir(id).join(format!("events-{run}.jsonl"))
    }

    /// The raw output file of run `run` of task `id`.
    pub fn raw_path(&self, id: &str, run: u32) -> PathBuf {
        self.task_dir(id).join(format!("raw-{run}.log"))
    }

    /// Claims a new unique task id and creates its directory (0700).
    pub fn create_task_dir(&self) -> Result<String> {
        for _ in 0..64 {
            let id = new_task_id();
            match std::fs::DirBuilder::new()
                .mode_private()
                .create(self.task_dir(&id))
            {
                Ok(()) => return Ok(id),
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(err) => {
                    return Err(err).with_context(|| {
                        format!(
                            "cannot create a task directory in {}",
                            self.tasks_dir.display()
                        )
                    });
                }
            }
        }
        bail!("cannot find a free task id in {}", self.tasks_dir.display())
    }

    /// Writes a record atomically. The task's directory must exist (a
    /// deleted task is not brought back).
    pub fn save(&self, record: &TaskRecord) -> Result<()> {
        let dir = self.task_dir(&record.id);
        if !dir.is_dir() {
            bail!("task {} was deleted", record.id);
        }
        let json = serde_json::to_vec_pretty(record).context("cannot encode the task record")?;
        write_atomic(&dir, RECORD_FILE, &json)
            .with_context(|| format!("cannot write {}", dir.join(RECORD_FILE).display()))
    }

    /// Reads the record of task `id`.
    pub fn load(&self, id: &str) -> Result<TaskRecord> {
        let path = self.task_dir(id).join(RECORD_FILE);
        let text =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let record: TaskRecord = serde_json::from_slice(&text)
            .with_context(|| format!("{} is damaged", path.display()))?;
        // The id names files to read and delete: one that is not the
        // folder's own name (`../../x`) would lead outside the store.
        if record.id != id {
            bail!(
                "{} is damaged: its id {:?} is not its folder's name",
                path.display(),
                record.id
            );
        }
        Ok(record)
    }

    /// Every readable record, oldest first, plus a message per unreadable
    /// one. A directory without a record yet (being created) is skipped.
    /// An unfinished record says whether its owner's lock was held
    /// ([`TaskRecord::owner_seen_live`]); when it was free, the record is
    /// read again under the lock, so a run that just finished shows its
    /// final status, not `interrupted`.
    pub fn list(&self) -> (Vec<TaskRecord>, Vec<String>) {
        let mut records = Vec::new();
        let mut problems = Vec::new();
        let Ok(dir) = std::fs::read_dir(&self.tasks_dir) else {
            return (records, problems);
        };
        for entry in dir.flatten() {
            let Some(id) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if id.starts_with('.') {
                continue;
            }
            match self.load(&id) {
                Ok(record) if record.status.is_final() => records.push(record),
                Ok(record) => records.push(self.with_owner_checked(record)),
                // A folder without a record yet (a corral is making it) is
                // not a problem; only then is it looked at again.
                Err(_) if !entry.path().join(RECORD_FILE).exists() => {}
                Err(err) => problems.push(format!("{err:#}")),
            }
        }
        records.sort_by(|a, b| a.created_ms.cmp(&b.created_ms).then(a.id.cmp(&b.id)));
        (records, problems)
    }

    /// `record` (unfinished) with [`TaskRecord::owner_seen_live`] set from
    /// its lock, re-read under the lock when that was free.
    fn with_owner_checked(&self, mut record: TaskRecord) -> TaskRecord {
        match self.try_lock(&record.id) {
            Ok(None) => record.owner_seen_live = Some(true),
            Ok(Some(_lock)) => {
                if let Ok(again) = self.load(&record.id) {
                    record = again;
                }
                record.owner_seen_live = Some(false);
                if !record.status.is_final() {
                    // How long it ran shows until its corral's last write.
                    record.updated_ms = self.last_write_ms(&record);
                }
            }
            // No lock to judge by: the owner pid decides.
            Err(_) => {}
        }
        record
    }

    /// The record whose id is or starts with `prefix`.
    pub fn find(&self, prefix: &str) -> std::result::Result<TaskRecord, FindError> {
        let (records, _) = self.list();
        let matches: Vec<TaskRecord> = records
            .into_iter()
            .filter(|r| r.id.starts_with(prefix) && !prefix.is_empty())
            .collect();
        match matches.len() {
            0 => Err(FindError::NotFound(prefix.to_string())),
            1 => Ok(matches.into_iter().next().expect("one match")),
            _ => {
                if let Some(exact) = matches.iter().find(|r| r.id == prefix) {
                    return Ok(exact.clone());
                }
                let ids: Vec<String> = matches.iter().map(|r| r.id.clone()).collect();
                Err(FindError::Ambiguous(prefix.to_string(), ids.join(", ")))
            }
        }
    }

    /// Removes task `id` and all its files. The directory is first renamed
    /// out of the way (atomically), so a corral still writing the task finds
    /// it gone and stops instead of recreating it.
    pub fn delete(&self, id: &str) -> Result<()> {
        if id.is_empty() || id.contains('/') || id.starts_with('.') {
            bail!("`{id}` is not a task id");
        }
        let dir = self.task_dir(id);
        let trash = self
            .tasks_dir
            .join(format!(".deleted-{id}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::rename(&dir, &trash)
            .with_context(|| format!("cannot remove {}", dir.display()))?;
        // A writer that had a file open may still add to it for a moment.
        let mut last = None;
        for _ in 0..20 {
            match std::fs::remove_dir_all(&trash) {
                Ok(()) => return Ok(()),
                Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
                Err(err) => last = Some(err),
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        match last {
            Some(err) => Err(err).with_context(|| format!("cannot remove {}", trash.display())),
            None => Ok(()),
        }
    }

    /// Marks task `id` archived (hidden from `corral ls` without `--all`).
    pub fn set_archived(&self, id: &str, archived: bool) -> Result<()> {
        let mut record = self.load(id)?;
        record.archived = archived;
        record.updated_ms = now_ms();
        self.save(&record)
    }

    /// The canonical events of run `run` of task `id` (a torn or damaged
    /// line is skipped).
    pub fn read_events(&self, id: &str, run: u32) -> Vec<AgentEvent> {
        std::fs::read_to_string(self.events_path(id, run))
            .map(|text| parse_lines(&text).0)
            .unwrap_or_default()
    }

    /// Takes the ownership lock of task `id` if no live corral holds it
    /// (`Ok(None)` when one does).
    pub fn try_lock(&self, id: &str) -> io::Result<Option<OwnerLock>> {
        lock::try_lock(&self.task_dir(id))
    }

    /// Whether a live corral (another one, or another owner in this
    /// process) holds task `id`: its record is theirs to write.
    pub fn owned_elsewhere(&self, id: &str) -> bool {
        matches!(self.try_lock(id), Ok(None))
    }

    /// Whether a live corral holds task `id`, looked at read-only (see
    /// [`lock::held`]): for a watcher that must not see its own looks.
    pub fn lock_held(&self, id: &str) -> bool {
        matches!(lock::held(&self.task_dir(id)), Ok(true))
    }

    /// When the corral of `record` last wrote it or its current run's
    /// events or raw output (ms since the epoch): a record is rewritten only
    /// when its status or run changes, the logs with every line.
    fn last_write_ms(&self, record: &TaskRecord) -> u64 {
        let run = record.runs.max(1);
        [
            self.events_path(&record.id, run),
            self.raw_path(&record.id, run),
        ]
        .iter()
        .filter_map(|path| std::fs::metadata(path).and_then(|m| m.modified()).ok())
        .filter_map(|at| at.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|at| at.as_millis() as u64)
        .fold(record.updated_ms, u64::max)
    }

    /// Marks tasks of dead corrals `interrupted` and SIGKILLs their agent
    /// groups that are still alive (verified by start time, see
    /// [`proc::kill_orphan_group`]). An owner is dead only when its lock can
    /// be taken; the record is read again under that lock, so a final status
    /// written just before the owner exited is never overwritten. Safe to
    /// run from several corrals at once.
    pub fn recover(&self) -> Recovery {
        let mut recovery = self.recover_tasks();
        self.remove_leftovers(&mut recovery);
        recovery
    }

    /// [`Store::recover`] without the leftovers' clean-up (a look into
    /// every task folder), which [`Store::remove_leftovers_later`] does
    /// off the caller's thread: what a front end needs before it draws.
    pub fn recover_tasks(&self) -> Recovery {
        let mut recovery = Recovery::default();
        let (mut records, _) = self.list();
        for listed in records.iter_mut() {
            if listed.status.is_final() {
                continue;
            }
            let _lock = match self.try_lock(&listed.id) {
                Ok(Some(lock)) => lock,
                // Its owner lives (or another recovery holds it right now).
                Ok(None) => continue,
                Err(err) => {
                    tracing::warn!(task = %listed.id, "cannot lock: {err}");
                    continue;
                }
            };
            let Ok(mut record) = self.load(&listed.id) else {
                continue;
            };
            if record.status.is_final() {
                *listed = record;
                continue;
            }
            if let Some(group) = &record.agent_group {
                match proc::kill_orphan_group(group) {
                    OrphanOutcome::Killed { count, survivors } => {
                        tracing::warn!(task = %record.id, pgid = group.pid, count, survivors, "killed the agent group of a dead corral");
                        recovery.killed.push((record.id.clone(), count, survivors));
                    }
                    OrphanOutcome::NotOurs => {
                        tracing::info!(task = %record.id, pgid = group.pid, "group id now belongs to other processes; left alone");
                    }
                    OrphanOutcome::Gone => {}
                }
            }
            record.status = crate::core::task::TaskStatus::Interrupted;
            record.finish_reason = Some("corral stopped while the task ran".into());
            // Its corral's last write is the best guess of when it stopped.
            if record.started_ms.is_some() {
                record.finished_ms = Some(self.last_write_ms(&record));
            }
            record.updated_ms = now_ms();
            match self.save(&record) {
                Ok(()) => {
                    recovery.interrupted.push(record.id.clone());
                    record.owner_seen_live = Some(false);
                    *listed = record;
                }
                Err(err) => tracing::warn!(task = %record.id, "cannot mark interrupted: {err:#}"),
            }
        }
        recovery.records = records;
        recovery
    }

    /// Removes what killed runs left behind ([`Store::recover`]'s
    /// clean-up) on a thread of its own, a moment from now: a start with
    /// thousands of stored tasks does not wait for it.
    pub fn remove_leftovers_later(&self) {
        let store = self.clone();
        let spawned = std::thread::Builder::new()
            .name("corral-tidy".into())
            .spawn(move || {
                std::thread::sleep(TIDY_AFTER);
                store.remove_leftovers(&mut Recovery::default());
            });
        if let Err(err) = spawned {
            tracing::warn!(%err, "cannot tidy the store");
        }
    }

    /// Removes what killed runs left behind: task folders with no record
    /// and `*.tmp` files of atomic writes, each only when the folder's
    /// owner lock can be taken (no live corral owns it) and the leftover is
    /// older than [`LEFTOVER_MIN_AGE`]. A folder a live corral owns is
    /// never touched.
    fn remove_leftovers(&self, recovery: &mut Recovery) {
        let Ok(dir) = std::fs::read_dir(&self.tasks_dir) else {
            return;
        };
        for entry in dir.flatten() {
            let Some(id) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            let path = entry.path();
            let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
            if id.starts_with('.') || !is_dir {
                continue;
            }
            // Judged before the lock file is created (which touches the
            // folder): a run may sit between `mkdir` and its first write.
            let recordless_and_old =
                !path.join(RECORD_FILE).exists() && older_than_leftover_age(&path);
            let Ok(Some(_lock)) = self.try_lock(&id) else {
                continue;
            };
            if recordless_and_old && !path.join(RECORD_FILE).exists() {
                match self.delete(&id) {
                    Ok(()) => {
                        tracing::info!(task = %id, "removed a task folder with no record");
                        recovery.removed_folders.push(id);
                    }
                    Err(err) => tracing::warn!(task = %id, "cannot remove: {err:#}"),
                }
                continue;
            }
            recovery.removed_temp_files += remove_old_temp_files(&path);
        }
    }
}

/// Whether `path` was last modified more than [`LEFTOVER_MIN_AGE`] ago.
fn older_than_leftover_age(path: &Path) -> bool {
    std::fs::symlink_metadata(path)
        .and_then(|meta| meta.modified())
        .ok()
        .and_then(|modified| modified.elapsed().ok())
        .is_some_and(|age| age > LEFTOVER_MIN_AGE)
}

/// Removes the old `.*.tmp` files of atomic writes in `dir`; how many.
fn remove_old_temp_files(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let is_file = entry.file_type().map(|t| t.is_file()).unwrap_or(false);
        if is_file
            && name.starts_with('.')
            && name.ends_with(".tmp")
            && older_than_leftover_age(&entry.path())
            && std::fs::remove_file(entry.path()).is_ok()
        {
            removed += 1;
        }
    }
    removed
}

/// `DirBuilder` with mode 0700.
trait PrivateDir {
    fn mode_private(&mut self) -> &mut Self;
}

impl PrivateDir for std::fs::DirBuilder {
    fn mode_private(&mut self) -> &mut Self {
        use std::os::unix::fs::DirBuilderExt;
        self.mode(0o700)
    }
}

/// What [`open_recording`] gives: the recorder, the store, notes for the
/// user, and every stored record (as [`Recovery::records`]).
pub type Opened = (
    Option<Recorder>,
    Option<Store>,
    Vec<String>,
    Vec<TaskRecord>,
);

/// How long the clean-up of leftovers waits after a front end started.
const TIDY_AFTER: std::time::Duration = std::time::Duration::from_secs(2);

/// Opens the task store in `dir`, cleans up after corrals that died, and
/// starts recording: what every front end does at its start. A store that
/// cannot be used costs the records, not the session: the recorder (and
/// the store) are then `None`, and the notes say why, with what the clean-up
/// killed, for the front end to show.
pub fn open_recording(dir: &Path) -> Opened {
    let mut notes = Vec::new();
    let store = match Store::open(dir) {
        Ok(store) => store,
        Err(err) => {
            notes.push(format!("tasks will not be stored: {err:#}"));
            return (None, None, notes, Vec::new());
        }
    };
    let recovery = store.recover_tasks();
    store.remove_leftovers_later();
    for (id, count, survivors) in &recovery.killed {
        let survived = if *survivors > 0 {
            format!(" ({survivors} survived SIGKILL)")
        } else {
            String::new()
        };
        notes.push(format!(
            "killed {count} leftover process(es) of interrupted task {id}{survived}"
        ));
    }
    match Recorder::start(store.clone()) {
        Ok(recorder) => (Some(recorder), Some(store), notes, recovery.records),
        Err(err) => {
            notes.push(format!("tasks will not be stored: {err}"));
            (None, Some(store), notes, recovery.records)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::task::TaskStatus;

    /// A store in a fresh temp dir with one record of `status` whose owner
    /// pid is this (live) process.
    fn store_with(status: &str) -> (tempfile::TempDir, Store, String) {
        let home = tempfile::tempdir().unwrap();
        let store = Store::open(&home.path().join("tasks")).unwrap();
        let id = store.create_task_dir().unwrap();
        let me = ProcessId::current().unwrap();
        let record = serde_json::json!({
            "version": 1, "id": id, "title": "t", "prompt": "t",
            "agent": "claude", "cwd": "/", "options": {
                "binary": null, "model": null, "permission_mode": null,
                "allowed_tools": [], "disallowed_tools": [], "append_system_prompt": null,
                "add_dirs": [], "max_budget_usd": null, "session_id": null, "resume": null,
                "extra_args": [], "env": []
            },
            "status": status, "created_ms": 1, "started_ms": 1, "updated_ms": 2,
            "owner": {"pid": me.pid, "start_time": me.start_time}
        });
        std::fs::write(store.task_dir(&id).join(RECORD_FILE), record.to_string()).unwrap();
        (home, store, id)
    }

    #[test]
    fn an_interrupted_task_ran_until_its_corrals_last_write() {
        let (_home, store, id) = store_with("running");
        // The record was last written at 2 ms; its output went on later.
        std::fs::write(store.events_path(&id, 1), "{}\n").unwrap();
        let written = std::fs::metadata(store.events_path(&id, 1))
            .and_then(|m| m.modified())
            .unwrap()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let (listed, _) = store.list();
        assert_eq!(listed[0].effective_status(), TaskStatus::Interrupted);
        assert_eq!(listed[0].duration_ms(u64::MAX), Some(written - 1));
        store.recover();
        let record = store.load(&id).unwrap();
        assert_eq!(record.finished_ms, Some(written));
        assert_eq!(record.duration_ms(u64::MAX), Some(written - 1));
    }

    #[test]
    fn another_hosts_record_is_listed_on_this_clock() {
        const HOUR: u64 = 3_600_000;
        let now = 10 * HOUR;
        let (_home, store, id) = store_with("running");
        let mut record = store.load(&id).unwrap();
        // Its host's clock is an hour ahead: created 9 s, started 8 s ago.
        record.created_ms = now + HOUR - 9_000;
        record.updated_ms = now + HOUR - 1_000;
        record.started_ms = Some(now + HOUR - 8_000);
        record.onto_this_clock(HOUR as i64);
        assert_eq!(record.duration_ms(now), Some(8_000));
        let table = commands::ls_table(&[record], false, now);
        assert!(table.contains("9.0s") && table.contains("8.0s"), "{table}");
    }

    #[test]
    fn recovery_leaves_a_locked_task_alone_and_interrupts_it_once_unlocked() {
        let (_home, store, id) = store_with("running");
        let owner = store.try_lock(&id).unwrap().expect("free");
        assert!(store.owned_elsewhere(&id));
        assert!(store.recover().interrupted.is_empty());
        assert_eq!(store.load(&id).unwrap().status, TaskStatus::Running);
        // The owner exits: its lock is gone even though its pid lives on.
        drop(owner);
        assert!(!store.owned_elsewhere(&id));
        assert_eq!(store.recover().interrupted, vec![id.clone()]);
        assert_eq!(store.load(&id).unwrap().status, TaskStatus::Interrupted);
    }

    #[test]
    fn a_record_whose_id_leads_outside_the_store_is_refused() {
        let (_home, store, id) = store_with("succeeded");
        let path = store.task_dir(&id).join(RECORD_FILE);
        let text = std::fs::read_to_string(&path).unwrap();
        let evil = text.replace(&format!("\"id\":\"{id}\""), "\"id\":\"../../x\"");
        assert_ne!(text, evil);
        std::fs::write(&path, evil).unwrap();
        assert!(store.load(&id).is_err());
        let (records, problems) = store.list();
        assert!(records.is_empty());
        assert_eq!(problems.len(), 1, "{problems:?}");
    }

    #[test]
    fn recovery_never_rewrites_a_final_status() {
        let (_home, store, id) = store_with("succeeded");
        let before = std::fs::read(store.task_dir(&id).join(RECORD_FILE)).unwrap();
        assert!(store.recover().interrupted.is_empty());
        let after = std::fs::read(store.task_dir(&id).join(RECORD_FILE)).unwrap();
        assert_eq!(before, after);
    }
}
