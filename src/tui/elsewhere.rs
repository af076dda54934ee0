//! Tasks another live corral runs (a `corral run`, a `corral --local`
//! cockpit, or the server when this cockpit runs `--local`), as the store
//! shows them: the cockpit lists them below its own, read-only, refreshed
//! from the store every [`POLL`].
//!
//! A task is another corral's while its ownership lock is held by a
//! process that is neither this cockpit nor its server; only those records
//! are read (one `flock` attempt per stored task and poll, no record read
//! for a finished task). Never writes the store, never takes a task over,
//! never touches core state: the rows live in the UI state only, and no key
//! acts on them (`corral logs ID --follow` follows one, its own corral
//! stops it).

use std::time::Duration;

use crate::core::task::TaskStatus;
use crate::store::{Store, TaskRecord};

/// How often the store is looked at.
pub const POLL: Duration = Duration::from_secs(2);

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

/// The unfinished tasks of `store` whose lock another live corral holds,
/// leaving out those whose recorded owner is one of `ours` (this cockpit,
/// its server); oldest first.
pub fn scan(store: &Store, ours: &[i32]) -> Vec<Elsewhere> {
    let Ok(dir) = std::fs::read_dir(store.dir()) else {
        return Vec::new();
    };
    let mut found: Vec<(u64, Elsewhere)> = Vec::new();
    for entry in dir.flatten() {
        let Some(id) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if id.starts_with('.') || !entry.path().join(crate::store::LOCK_FILE).exists() {
            continue;
        }
        // A free lock: nobody runs it (finished, or its corral is gone).
        if !store.owned_elsewhere(&id) {
            continue;
        }
        let Ok(record) = store.load(&id) else {
            continue;
        };
        let owner = record.owner.as_ref().map(|o| o.pid);
        if record.status.is_final() || record.archived || owner.is_some_and(|p| ours.contains(&p)) {
            continue;
        }
        found.push((record.created_ms, Elsewhere::of(&record)));
    }
    found.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.id.cmp(&b.1.id)));
    found.into_iter().map(|(_, e)| e).collect()
}

/// Scans `store` every [`POLL`] on a thread of its own and sends the list
/// whenever it changes (so an idle cockpit is not woken for nothing). Ends
/// when the receiver is gone.
pub fn watch(store: Store, ours: Vec<i32>, tx: tokio::sync::mpsc::Sender<Vec<Elsewhere>>) {
    let spawned = std::thread::Builder::new()
        .name("corral-elsewhere".into())
        .spawn(move || {
            let mut last: Vec<Elsewhere> = Vec::new();
            loop {
                let now = scan(&store, &ours);
                if now != last {
                    if tx.blocking_send(now.clone()).is_err() {
                        return;
                    }
                    last = now;
                } else if tx.is_closed() {
                    return;
                }
                std::thread::sleep(POLL);
            }
        });
    if let Err(err) = spawned {
        tracing::warn!(%err, "cannot watch the store for other corrals' tasks");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record of `status` owned by `pid` in a new task directory.
    fn record(store: &Store, status: &str, pid: i32, created: u64) -> String {
        let id = store.create_task_dir().unwrap();
        let record = serde_json::json!({
            "version": 1, "id": id, "title": format!("task {created}"), "prompt": "p",
            "agent": "claude", "cwd": "/", "options": {
                "binary": null, "model": null, "permission_mode": null,
                "allowed_tools": [], "disallowed_tools": [], "append_system_prompt": null,
                "add_dirs": [], "max_budget_usd": null, "session_id": null, "resume": null,
                "extra_args": [], "env": []
            },
            "status": status, "created_ms": created, "started_ms": created, "updated_ms": created,
            "owner": {"pid": pid, "start_time": 1}
        });
        std::fs::write(store.task_dir(&id).join("task.json"), record.to_string()).unwrap();
        id
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
