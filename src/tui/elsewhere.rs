//! Tasks another live corral runs (a `corral run`, a `corral --local`
//! cockpit, or the server when this cockpit runs `--local`), as the store
//! shows them: the cockpit lists them below its own, read-only.
//!
//! A task is another corral's while its ownership lock is held by a
//! process that is neither this cockpit nor its server; only those records
//! are read (one read-only `flock` look per stored task and scan, no record
//! read for a finished task). The store is scanned again only when inotify
//! says something moved: a task folder made or removed in the store, or, in
//! the folder of a task another corral runs (or one still being made), its
//! record put in place or its lock file closed by its exiting owner. A
//! burst is waited out ([`QUIET`]) before one scan; the first waits for the
//! cockpit's first frame ([`FIRST_LOOK_AFTER`]). Nothing ticks while
//! nothing moves; where inotify is unavailable the store is polled every
//! [`POLL`] instead and the list's heading says so.
//!
//! Never writes the store (its looks open nothing for writing, so they wake
//! no watcher), never takes a task over, never touches core state: the rows
//! reach the event loop as a [`Seen`] and live in the UI state only, and no
//! key acts on them (`corral logs ID --follow` follows one, its own corral
//! stops it).

use std::collections::HashMap;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, InotifyEvent, WatchDescriptor};

use crate::core::task::TaskStatus;
use crate::store::{LOCK_FILE, RECORD_FILE, Store, TaskRecord};

/// How often the store is looked at when inotify is unavailable.
pub const POLL: Duration = Duration::from_secs(2);

/// How long the store must stay still after a change before it is scanned.
pub const QUIET: Duration = Duration::from_millis(100);

/// The longest a stream of changes delays a scan.
const QUIET_AT_MOST: Duration = Duration::from_secs(1);
/// The first look waits this long: it looks into every task folder, and
/// the cockpit's first frame, drawn meanwhile, must not wait for it on a
/// busy machine with thousands of stored tasks.
const FIRST_LOOK_AFTER: Duration = Duration::from_millis(300);

/// One task of another corral, as its record says.
#[derive(Debug, Clone, PartialEq)]
pub struct Elsewhere {
    /// The store id (`corral logs ID`).
    pub id: String,
    pub status: TaskStatus,
    pub agent: String,
    pub title: String,
    pub started_ms: Option<u64>,
    pub tokens: u64,
    pub cost_usd: Option<f64>,
    /// The pid of the corral that runs it.
    pub owner_pid: Option<i32>,
}

impl Elsewhere {
    fn of(record: &TaskRecord) -> Elsewhere {
        Elsewhere {
            id: record.id.clone(),
            status: record.status,
            agent: record.agent.clone(),
            title: record.title.clone(),
            started_ms: record.started_ms,
            tokens: record.tokens(),
            cost_usd: record.usage.cost_usd,
            owner_pid: record.owner.as_ref().map(|o| o.pid),
        }
    }
}

/// What the watcher sends the event loop whenever the list changes.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    pub tasks: Vec<Elsewhere>,
    /// The store is polled every [`POLL`]: inotify is unavailable.
    pub polled: bool,
}

/// The unfinished tasks of `store` whose lock another live corral holds,
/// leaving out those whose recorded owner is one of `ours` (this cockpit,
/// its server); oldest first.
pub fn scan(store: &Store, ours: &[i32]) -> Vec<Elsewhere> {
    survey(store, ours).0
}

/// [`scan`], and the task folders worth watching: those listed, and those
/// without a record yet (a corral is making them).
fn survey(store: &Store, ours: &[i32]) -> (Vec<Elsewhere>, Vec<String>) {
    let Ok(dir) = std::fs::read_dir(store.dir()) else {
        return (Vec::new(), Vec::new());
    };
    let mut found: Vec<(u64, Elsewhere)> = Vec::new();
    let mut making = Vec::new();
    for entry in dir.flatten() {
        let Some(id) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if id.starts_with('.') || !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let path = entry.path();
        // A corral takes the lock before it writes the first record.
        if !path.join(RECORD_FILE).exists() {
            making.push(id);
            continue;
        }
        if !path.join(LOCK_FILE).exists() {
            continue;
        }
        // A free lock: nobody runs it (finished, or its corral is gone).
        if !store.lock_held(&id) {
            continue;
        }
        let Ok(record) = store.load(&id) else {
            making.push(id);
            continue;
        };
        let owner = record.owner.as_ref().map(|o| o.pid);
        if record.status.is_final() || record.archived || owner.is_some_and(|p| ours.contains(&p)) {
            continue;
        }
        found.push((record.created_ms, Elsewhere::of(&record)));
    }
    found.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.id.cmp(&b.1.id)));
    let mut watch = making;
    watch.extend(found.iter().map(|(_, e)| e.id.clone()));
    (found.into_iter().map(|(_, e)| e).collect(), watch)
}

/// Watches `store` on a thread of its own and sends the list whenever it
/// changes (so an idle cockpit is not woken for nothing): by inotify, or by
/// polling where that is unavailable. Ends when the receiver is gone and
/// the store next moves (or with the process).
pub fn watch(store: Store, ours: Vec<i32>, tx: tokio::sync::mpsc::Sender<Seen>) {
    let spawned = std::thread::Builder::new()
        .name("corral-elsewhere".into())
        .spawn(move || {
            std::thread::sleep(FIRST_LOOK_AFTER);
            let mut last = Vec::new();
            if let Err(err) = follow(&store, &ours, &tx, &mut last) {
                tracing::warn!(%err, "cannot watch the store with inotify: polling it");
                poll_store(&store, &ours, &tx, last);
            }
        });
    if let Err(err) = spawned {
        tracing::warn!(%err, "cannot watch the store for other corrals' tasks");
    }
}

/// Sends `now` if it differs from `last`; false once nobody listens.
fn send(
    tx: &tokio::sync::mpsc::Sender<Seen>,
    last: &mut Vec<Elsewhere>,
    now: Vec<Elsewhere>,
    polled: bool,
) -> bool {
    if now == *last {
        return !tx.is_closed();
    }
    let ok = tx
        .blocking_send(Seen {
            tasks: now.clone(),
            polled,
        })
        .is_ok();
    *last = now;
    ok
}

/// The fallback: a scan every [`POLL`].
fn poll_store(
    store: &Store,
    ours: &[i32],
    tx: &tokio::sync::mpsc::Sender<Seen>,
    mut last: Vec<Elsewhere>,
) {
    // The heading must say the list is polled, even for an unchanged list.
    let mut first = true;
    loop {
        let now = scan(store, ours);
        if first && !now.is_empty() {
            last.clear();
        }
        first = false;
        if !send(tx, &mut last, now, true) {
            return;
        }
        std::thread::sleep(POLL);
    }
}

/// The watched folders: task id by watch, watch by task id.
#[derive(Default)]
struct Watches {
    ids: HashMap<WatchDescriptor, String>,
    wds: HashMap<String, WatchDescriptor>,
}

/// What in a task folder is worth a scan: the record put in place (renamed
/// or written), the lock file closed after a write (its owner exited).
const IN_TASK: AddWatchFlags = AddWatchFlags::IN_MOVED_TO
    .union(AddWatchFlags::IN_CLOSE_WRITE)
    .union(AddWatchFlags::IN_ONLYDIR);

/// What in the store is: a task folder made, removed or renamed away.
const IN_STORE: AddWatchFlags = AddWatchFlags::IN_CREATE
    .union(AddWatchFlags::IN_DELETE)
    .union(AddWatchFlags::IN_MOVED_FROM)
    .union(AddWatchFlags::IN_MOVED_TO)
    .union(AddWatchFlags::IN_ONLYDIR);

impl Watches {
    /// Watches exactly the folders of `want`; true when one was added (the
    /// caller scans again: a change before the watch was missed).
    fn set(&mut self, inotify: &Inotify, store: &Store, want: &[String]) -> nix::Result<bool> {
        let stale: Vec<String> = self
            .wds
            .keys()
            .filter(|id| !want.contains(id))
            .cloned()
            .collect();
        for id in stale {
            if let Some(wd) = self.wds.remove(&id) {
                self.ids.remove(&wd);
                // Gone with its folder already, perhaps.
                let _ = inotify.rm_watch(wd);
            }
        }
        let mut added = false;
        for id in want {
            if self.wds.contains_key(id) {
                continue;
            }
            match inotify.add_watch(&store.task_dir(id), IN_TASK) {
                Ok(wd) => {
                    self.wds.insert(id.clone(), wd);
                    self.ids.insert(wd, id.clone());
                    added = true;
                }
                // Removed meanwhile: the store's watch says so.
                Err(nix::errno::Errno::ENOENT | nix::errno::Errno::ENOTDIR) => {}
                Err(err) => return Err(err),
            }
        }
        Ok(added)
    }

    /// Whether `event` may change the list.
    fn matters(&self, store: WatchDescriptor, event: &InotifyEvent) -> bool {
        if event.mask.contains(AddWatchFlags::IN_Q_OVERFLOW) {
            return true;
        }
        let name = event.name.as_ref().and_then(|n| n.to_str()).unwrap_or("");
        if event.wd == store {
            return !name.is_empty() && !name.starts_with('.');
        }
        self.ids.contains_key(&event.wd) && (name == RECORD_FILE || name == LOCK_FILE)
    }
}

/// Reads what inotify has, waiting for it; an interrupted read is retried.
fn read(inotify: &Inotify) -> nix::Result<Vec<InotifyEvent>> {
    loop {
        match inotify.read_events() {
            Err(nix::errno::Errno::EINTR) => continue,
            other => return other,
        }
    }
}

/// Whether inotify has something within `wait`.
fn ready(inotify: &Inotify, wait: Duration) -> nix::Result<bool> {
    let ms = u16::try_from(wait.as_millis()).unwrap_or(u16::MAX);
    loop {
        let mut fds = [PollFd::new(inotify.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(n) => return Ok(n > 0),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(err) => return Err(err),
        }
    }
}

/// Scans, then waits for the store to move and scans again, for as long as
/// the receiver listens. An error is inotify's: the caller polls instead.
fn follow(
    store: &Store,
    ours: &[i32],
    tx: &tokio::sync::mpsc::Sender<Seen>,
    last: &mut Vec<Elsewhere>,
) -> nix::Result<()> {
    let inotify = Inotify::init(InitFlags::IN_CLOEXEC)?;
    let root = inotify.add_watch(store.dir(), IN_STORE)?;
    let mut watches = Watches::default();
    loop {
        loop {
            let (now, want) = survey(store, ours);
            let added = watches.set(&inotify, store, &want)?;
            if !send(tx, last, now, false) {
                return Ok(());
            }
            if !added {
                break;
            }
        }
        // Asleep until something that matters moves.
        while !read(&inotify)?.iter().any(|e| watches.matters(root, e)) {}
        // Then until it has been still for a moment.
        let burst = Instant::now();
        while burst.elapsed() < QUIET_AT_MOST && ready(&inotify, QUIET)? {
            read(&inotify)?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// A record of `status` owned by `pid` in a new task directory.
    fn record(store: &Store, status: &str, pid: i32, created: u64) -> String {
        let id = store.create_task_dir().unwrap();
        let record = json(&id, status, pid, created);
        std::fs::write(store.task_dir(&id).join("task.json"), record.to_string()).unwrap();
        id
    }

    fn json(id: &str, status: &str, pid: i32, created: u64) -> serde_json::Value {
        serde_json::json!({
            "version": 1, "id": id, "title": format!("task {created}"), "prompt": "p",
            "agent": "claude", "cwd": "/", "options": {
                "binary": null, "model": null, "permission_mode": null,
                "allowed_tools": [], "disallowed_tools": [], "append_system_prompt": null,
                "add_dirs": [], "max_budget_usd": null, "session_id": null, "resume": null,
                "extra_args": [], "env": []
            },
            "status": status, "created_ms": created, "started_ms": created, "updated_ms": created,
            "owner": {"pid": pid, "start_time": 1}
        })
    }

    /// What the watcher sends next (a stuck watcher fails the test).
    fn next(rx: &mut tokio::sync::mpsc::Receiver<Seen>) -> Seen {
        let end = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(seen) = rx.try_recv() {
                return seen;
            }
            assert!(Instant::now() < end, "the watcher sent nothing");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn the_watcher_follows_a_task_from_its_start_to_its_owners_exit() {
        let home = tempfile::tempdir().unwrap();
        let store = Store::open(&home.path().join("tasks")).unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::channel(4);
        watch(store.clone(), vec![7], tx);
        // Another corral makes a task: folder, lock, record put in place.
        let id = store.create_task_dir().unwrap();
        let lock = store.try_lock(&id).unwrap().expect("free");
        let put = |status: &str| {
            let record = json(&id, status, 4242, 1).to_string();
            crate::store::write_atomic(&store.task_dir(&id), "task.json", record.as_bytes())
                .unwrap();
        };
        put("running");
        let seen = next(&mut rx);
        assert!(!seen.polled, "inotify is there");
        assert_eq!(seen.tasks.len(), 1, "{seen:?}");
        assert_eq!(seen.tasks[0].status, TaskStatus::Running);
        // Its status changes: the record is replaced.
        put("blocked");
        assert_eq!(next(&mut rx).tasks[0].status, TaskStatus::Blocked);
        // Its corral dies without a last write: the kernel drops the lock.
        drop(lock);
        assert_eq!(next(&mut rx).tasks, []);
    }

    #[test]
    fn only_unfinished_tasks_locked_by_another_owner_are_listed() {
        let home = tempfile::tempdir().unwrap();
        let store = Store::open(&home.path().join("tasks")).unwrap();
        let theirs = record(&store, "running", 4242, 2);
        let gone = record(&store, "running", 4242, 1);
        let finished = record(&store, "succeeded", 4242, 3);
        let ours = record(&store, "blocked", 7, 4);
        let older = record(&store, "blocked", 4243, 0);
        // Held: another corral's two, the finished one (its last write),
        // ours. The lock of `gone` is free: its corral died.
        let _held: Vec<_> = [&theirs, &finished, &ours, &older]
            .iter()
            .map(|id| store.try_lock(id).unwrap().expect("free"))
            .collect();
        drop(store.try_lock(&gone).unwrap());
        let found = scan(&store, &[7]);
        let ids: Vec<&str> = found.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, [older.as_str(), theirs.as_str()], "oldest first");
        assert_eq!(found[1].owner_pid, Some(4242));
        assert_eq!(found[1].status, TaskStatus::Running);
        assert_eq!(found[1].title, "task 2");
    }
}
