//! What each live agent's process tree costs: CPU, resident memory and
//! process count, read from `/proc` once a second for the task row and
//! the pane header.
//!
//! One sampler thread, started by the first `Effect::WatchCosts { on:
//! true }`. It reads `/proc` only while a front end watches *and* an agent
//! process is alive; otherwise it blocks on a condition variable that a
//! spawn or a new `WatchCosts` wakes, so nothing polls when nothing is
//! alive. A task's tree is its leader and every descendant (through the
//! parent links, across `setsid`), the members of its cgroup, and orphans
//! that reparented to corral (the subreaper) carrying its tag. The trees
//! are walked through each process's `children` files, so a sample reads
//! the trees' processes, not every process of the machine (a full scan of
//! `/proc` only where the kernel has no such files). Each sample is one
//! `Event::ProcCosts` holding only the tasks whose row would change, sent
//! with `try_send`: a full channel drops a sample rather than waiting; a
//! task's samples never follow its `Exited`.
//! Never signals or reaps anything, never
//! panics on what `/proc` holds.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::Sender;

use super::Registry;
use crate::core::task::ProcCost;
use crate::core::{Event, TaskId};

/// How often a watched, live tree is read.
pub(crate) const EVERY: Duration = Duration::from_secs(1);

#[derive(Default)]
struct Control {
    /// A front end watches.
    on: bool,
    /// The runtime is going away.
    stop: bool,
}

struct Shared {
    control: Mutex<Control>,
    wake: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Control> {
        self.control
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The sampler thread and its switch.
pub(crate) struct Sampler {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Sampler {
    /// Starts the thread (asleep until [`Sampler::watch`] turns it on).
    pub(crate) fn start(events: Sender<Event>, registry: Registry) -> Option<Sampler> {
        let shared = Arc::new(Shared {
            control: Mutex::new(Control::default()),
            wake: Condvar::new(),
        });
        let for_thread = shared.clone();
        let thread = std::thread::Builder::new()
            .name("corral-costs".into())
            .spawn(move || run(&for_thread, &events, &registry))
            .map_err(|err| tracing::warn!(%err, "could not start the cost sampler"))
            .ok()?;
        Some(Sampler {
            shared,
            thread: Some(thread),
        })
    }

    /// A front end starts (`on`) or stops watching.
    pub(crate) fn watch(&self, on: bool) {
        self.shared.lock().on = on;
        self.shared.wake.notify_all();
    }

    /// An agent was spawned: a sleeping sampler looks again.
    pub(crate) fn wake(&self) {
        self.shared.wake.notify_all();
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// What identifies one live task's tree.
pub(crate) struct Target {
    task: TaskId,
    leader: i32,
    cgroup: Vec<i32>,
    tag: String,
}

fn targets(registry: &Registry) -> Option<Vec<Target>> {
    let slots = registry
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if slots.is_empty() {
        return None;
    }
    Some(
        slots
            .iter()
            .filter_map(|(&task, slot)| {
                Some(Target {
                    task,
                    leader: slot.group.live_pgid()?,
                    cgroup: slot.group.cgroup().map(|c| c.members()).unwrap_or_default(),
                    tag: slot.group.tag().to_string(),
                })
            })
            .collect(),
    )
}

fn run(shared: &Shared, events: &Sender<Event>, registry: &Registry) {
    let mut meter = Meter::new();
    let mut sent: HashMap<TaskId, ProcCost> = HashMap::new();
    loop {
        // Asleep until watched with an agent alive (or stopped).
        let live = {
            let mut control = shared.lock();
            loop {
                if control.stop {
                    return;
                }
                if control.on
                    && let Some(live) = targets(registry)
                {
                    break live;
                }
                meter.forget();
                sent.clear();
                control = shared
                    .wake
                    .wait(control)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
            }
        };
        let procs = if meter.children_files {
            let roots: Vec<i32> = live
                .iter()
                .flat_map(|t| std::iter::once(t.leader).chain(t.cgroup.iter().copied()))
                .collect();
            read_trees(meter.me, &roots)
        } else {
            read_procs()
        };
        let mut costs = meter.sample(&live, &procs, Instant::now());
        // Only what changed: a sample that would draw the same row wakes
        // no front end.
        costs.retain(|(task, cost)| !same_on_screen(sent.get(task), cost));
        sent.retain(|task, _| live.iter().any(|t| t.task == *task));
        sent.extend(costs.iter().copied());
        {
            // Sent under the registry's lock, and only for tasks still in
            // it: a supervisor forgets its task there before it sends
            // `Exited`, so no sample follows a task's `Exited`.
            let slots = registry
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            costs.retain(|(task, _)| slots.contains_key(task));
            if !costs.is_empty() && events.try_send(Event::ProcCosts(costs)).is_err() {
                tracing::debug!("event channel full or closed; a cost sample was dropped");
            }
        }
        let control = shared.lock();
        if control.stop {
            return;
        }
        // Woken early only to stop or to be switched off.
        let _ = shared
            .wake
            .wait_timeout_while(control, EVERY, |c| c.on && !c.stop);
    }
}

/// One process as `/proc/PID/stat` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Proc {
    pub(crate) pid: i32,
    pub(crate) ppid: i32,
    /// utime + stime, in clock ticks.
    pub(crate) ticks: u64,
    /// Start time since boot, in clock ticks (with the pid, a process's identity).
    pub(crate) start: u64,
    pub(crate) rss_pages: u64,
}

/// Whether `now` would show as `before` does: the same CPU and process
/// count, and memory within 1/64 (under what the row's `78M` or `1.2G`
/// can show).
fn same_on_screen(before: Option<&ProcCost>, now: &ProcCost) -> bool {
    before.is_some_and(|b| {
        b.cpu_percent == now.cpu_percent
            && b.processes == now.processes
            && b.rss_kib.abs_diff(now.rss_kib) <= b.rss_kib / 64
    })
}

/// The children of process `pid`, from `/proc/PID/task/TID/children` of
/// each of its threads (empty when it is gone).
fn children_of(pid: i32) -> Vec<i32> {
    let Ok(threads) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    threads
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|text| {
            text.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<i32>>()
        })
        .collect()
}

/// The processes of the watched trees only: `roots`, corral's own children
/// (where orphans reparent, corral being the subreaper) and all their
/// descendants, each read once. An idle cockpit on a busy machine reads a
/// few files a second instead of every process's.
fn read_trees(me: i32, roots: &[i32]) -> Vec<Proc> {
    // Orphans reparent to the subreaper's first live thread, its main one
    // (the agents themselves, forked by other threads, are in `roots`):
    // corral's many threads need not be read each time.
    let mut stack: Vec<i32> = std::fs::read_to_string(format!("/proc/{me}/task/{me}/children"))
        .map(|text| {
            text.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    stack.extend(roots);
    let mut done = HashSet::new();
    let mut out = Vec::new();
    while let Some(pid) = stack.pop() {
        if pid == me || !done.insert(pid) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        if let Some(p) = parse_stat(pid, &stat) {
            out.push(p);
            stack.extend(children_of(pid));
        }
    }
    out
}

/// Every live (non-zombie) process, from one scan of `/proc` (where the
/// kernel has no `children` files).
fn read_procs() -> Vec<Proc> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|entry| {
        let entry = entry.ok()?;
        let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
        // The process may vanish between the listing and the read.
        let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
        parse_stat(pid, &stat)
    })
    .collect()
}

/// The fields of a `/proc/PID/stat` line the sampler needs; `None` for a
/// zombie or a line it cannot read. The command name may hold spaces and
/// parentheses, so fields are counted after the last `)`.
pub(crate) fn parse_stat(pid: i32, stat: &str) -> Option<Proc> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    if matches!(state, 'Z' | 'X' | 'x') {
        return None;
    }
    let num = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    Some(Proc {
        pid,
        ppid: fields.get(1)?.parse().ok()?,
        // Fields 14 and 15 (utime, stime), 22 (starttime), 24 (rss).
        ticks: num(11)?.saturating_add(num(12)?),
        start: num(19)?,
        rss_pages: num(21)?,
    })
}

/// Turns successive scans into CPU percentages: it remembers each
/// process's ticks at the previous sample.
pub(crate) struct Meter {
    /// (pid, start) -> ticks at the last sample.
    seen: HashMap<(i32, u64), u64>,
    /// Tasks sampled before, and when.
    last: HashMap<TaskId, Instant>,
    tick_hz: f64,
    page_kib: u64,
    me: i32,
    /// The kernel lists each thread's children (`CONFIG_PROC_CHILDREN`):
    /// the trees can be walked without scanning all of `/proc`.
    children_files: bool,
}

impl Meter {
    pub(crate) fn new() -> Meter {
        // SAFETY: sysconf takes a constant and returns a number.
        let (hz, page) = unsafe {
            (
                libc::sysconf(libc::_SC_CLK_TCK),
                libc::sysconf(libc::_SC_PAGESIZE),
            )
        };
        Meter {
            seen: HashMap::new(),
            last: HashMap::new(),
            tick_hz: if hz > 0 { hz as f64 } else { 100.0 },
            page_kib: if page > 0 { page as u64 / 1024 } else { 4 },
            me: std::process::id() as i32,
            children_files: std::path::Path::new("/proc/thread-self/children").exists(),
        }
    }

    /// Nothing is watched: the next sample starts afresh.
    fn forget(&mut self) {
        self.seen.clear();
        self.last.clear();
    }

    /// The cost of each target's tree in `procs` at `now`. A task seen for
    /// the first time shows its memory and processes at once and its CPU
    /// from the next sample on.
    pub(crate) fn sample(
        &mut self,
        targets: &[Target],
        procs: &[Proc],
        now: Instant,
    ) -> Vec<(TaskId, ProcCost)> {
        let by_pid: HashMap<i32, &Proc> = procs.iter().map(|p| (p.pid, p)).collect();
        let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
        for p in procs {
            children.entry(p.ppid).or_default().push(p.pid);
        }
        let leaders: HashSet<i32> = targets.iter().map(|t| t.leader).collect();
        // Orphans that reparented to corral (the subreaper), by tag.
        let mut orphans: HashMap<&str, Vec<i32>> = HashMap::new();
        let strays: Vec<i32> = children
            .get(&self.me)
            .map(|pids| {
                pids.iter()
                    .copied()
                    .filter(|p| !leaders.contains(p))
                    .collect()
            })
            .unwrap_or_default();
        if !strays.is_empty() {
            for target in targets {
                let wanted = format!("{}={}", super::contain::TAG_VAR, target.tag);
                for &pid in &strays {
                    if carries(pid, wanted.as_bytes()) {
                        orphans.entry(target.tag.as_str()).or_default().push(pid);
                    }
                }
            }
        }
        let mut seen = HashMap::new();
        let mut out = Vec::new();
        for target in targets {
            let mut roots = vec![target.leader];
            roots.extend(&target.cgroup);
            roots.extend(orphans.get(target.tag.as_str()).into_iter().flatten());
            let tree = descendants(&roots, &by_pid, &children);
            if tree.is_empty() {
                continue;
            }
            let previous = self.last.insert(target.task, now);
            let mut ticks = 0u64;
            let mut rss_pages = 0u64;
            for p in &tree {
                let key = (p.pid, p.start);
                let before = self.seen.get(&key).copied();
                // A process new since the last sample did all its work since.
                ticks += p.ticks.saturating_sub(before.unwrap_or(0));
                rss_pages = rss_pages.saturating_add(p.rss_pages);
                seen.insert(key, p.ticks);
            }
            let cpu_percent = match previous {
                Some(at) => {
                    let secs = now.saturating_duration_since(at).as_secs_f64();
                    if secs > 0.0 {
                        (ticks as f64 / self.tick_hz / secs * 100.0).round() as u32
                    } else {
                        0
                    }
                }
                None => 0,
            };
            out.push((
                target.task,
                ProcCost {
                    cpu_percent,
                    rss_kib: rss_pages.saturating_mul(self.page_kib),
                    processes: u32::try_from(tree.len()).unwrap_or(u32::MAX),
                },
            ));
        }
        let live: HashSet<TaskId> = targets.iter().map(|t| t.task).collect();
        self.last.retain(|task, _| live.contains(task));
        self.seen = seen;
        out
    }
}

/// `roots` (those alive) and all their descendants, each once.
fn descendants<'a>(
    roots: &[i32],
    by_pid: &HashMap<i32, &'a Proc>,
    children: &HashMap<i32, Vec<i32>>,
) -> Vec<&'a Proc> {
    let mut done = HashSet::new();
    let mut stack: Vec<i32> = roots.to_vec();
    let mut out = Vec::new();
    while let Some(pid) = stack.pop() {
        if !done.insert(pid) {
            continue;
        }
        let Some(p) = by_pid.get(&pid) else { continue };
        out.push(*p);
        if let Some(kids) = children.get(&pid) {
            stack.extend(kids);
        }
    }
    out
}

/// Whether process `pid`'s environment holds `var` (`NAME=value`).
fn carries(pid: i32, var: &[u8]) -> bool {
    std::fs::read(format!("/proc/{pid}/environ"))
        .is_ok_and(|env| env.split(|&b| b == 0).any(|v| v == var))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proc(pid: i32, ppid: i32, ticks: u64, rss_pages: u64) -> Proc {
        Proc {
            pid,
            ppid,
            ticks,
            start: pid as u64,
            rss_pages,
        }
    }

    fn target(task: TaskId, leader: i32) -> Target {
        Target {
            task,
            leader,
            cgroup: Vec::new(),
            tag: format!("tag{task}"),
        }
    }

    #[test]
    fn parses_stat_after_odd_command_names() {
        let line = "42 (a) b (c)) S 7 42 42 0 -1 0 0 0 0 0 150 50 0 0 20 0 1 0 999 1000 321 0";
        let p = parse_stat(42, line).unwrap();
        assert_eq!((p.ppid, p.ticks, p.start, p.rss_pages), (7, 200, 999, 321));
        let zombie = "43 (x) Z 7 42 42 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 999 1000 0 0";
        assert_eq!(parse_stat(43, zombie), None);
        assert_eq!(parse_stat(44, "garbage"), None);
    }

    #[test]
    fn a_tree_sums_its_descendants_and_a_busy_child_shows() {
        let mut meter = Meter::new();
        meter.tick_hz = 100.0;
        meter.page_kib = 4;
        let t0 = Instant::now();
        let tasks = [target(1, 100), target(2, 200)];
        // Task 1: leader 100, child 101 in a new session, grandchild 102.
        // Task 2: leader 200. 300 belongs to nobody.
        let first = [
            proc(100, 1, 10, 100),
            proc(101, 100, 0, 50),
            proc(102, 101, 5, 10),
            proc(200, 1, 0, 20),
            proc(300, 1, 0, 999),
        ];
        let costs = meter.sample(&tasks, &first, t0);
        assert_eq!(
            costs
                .iter()
                .find(|(t, _)| *t == 1)
                .map(|(_, c)| *c)
                .unwrap(),
            ProcCost {
                cpu_percent: 0,
                rss_kib: 160 * 4,
                processes: 3
            }
        );
        // One second later 102 spun a whole core and a new process appeared.
        let second = [
            proc(100, 1, 10, 100),
            proc(101, 100, 0, 50),
            proc(102, 101, 105, 10),
            proc(103, 100, 20, 1),
            proc(200, 1, 1, 20),
        ];
        let costs: HashMap<TaskId, ProcCost> = meter
            .sample(&tasks, &second, t0 + Duration::from_secs(1))
            .into_iter()
            .collect();
        assert_eq!(costs[&1].cpu_percent, 120);
        assert_eq!(costs[&1].processes, 4);
        assert_eq!(costs[&2].cpu_percent, 1);
        // The busy child is killed: the tree is back to its leader.
        let third = [proc(100, 1, 10, 100), proc(200, 1, 1, 20)];
        let costs: HashMap<TaskId, ProcCost> = meter
            .sample(&tasks, &third, t0 + Duration::from_secs(2))
            .into_iter()
            .collect();
        assert_eq!(
            costs[&1],
            ProcCost {
                cpu_percent: 0,
                rss_kib: 400,
                processes: 1
            }
        );
        // A leader that is gone gives no sample at all.
        assert!(
            meter
                .sample(&tasks[..1], &[], t0 + Duration::from_secs(3))
                .is_empty()
        );
    }

    #[test]
    fn a_sample_that_would_draw_the_same_row_is_not_sent() {
        let was = ProcCost {
            cpu_percent: 0,
            rss_kib: 64_000,
            processes: 2,
        };
        assert!(!same_on_screen(None, &was), "the first is always sent");
        assert!(same_on_screen(Some(&was), &was));
        let drift = ProcCost {
            rss_kib: 64_900,
            ..was
        };
        assert!(same_on_screen(Some(&was), &drift), "under 1/64 of memory");
        for changed in [
            ProcCost {
                rss_kib: 66_000,
                ..was
            },
            ProcCost {
                cpu_percent: 1,
                ..was
            },
            ProcCost {
                processes: 3,
                ..was
            },
        ] {
            assert!(!same_on_screen(Some(&was), &changed), "{changed:?}");
        }
    }

    /// Walking the trees through the `children` files finds what a scan of
    /// all of `/proc` finds: a real shell with a child, a child in a new
    /// session and a grandchild.
    #[test]
    fn walking_a_real_tree_finds_what_a_whole_scan_finds() {
        if !std::path::Path::new("/proc/thread-self/children").exists() {
            return;
        }
        let mut shell = std::process::Command::new("sh")
            .args([
                "-c",
                "sleep 30 & setsid sh -c 'sleep 30 & wait' & echo ready; wait",
            ])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("sh runs");
        let mut ready = [0u8; 6];
        std::io::Read::read_exact(shell.stdout.as_mut().unwrap(), &mut ready).unwrap();
        let leader = shell.id() as i32;
        let tree_of = |procs: &[Proc]| -> Vec<i32> {
            let by_pid: HashMap<i32, &Proc> = procs.iter().map(|p| (p.pid, p)).collect();
            let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
            for p in procs {
                children.entry(p.ppid).or_default().push(p.pid);
            }
            let mut pids: Vec<i32> = descendants(&[leader], &by_pid, &children)
                .iter()
                .map(|p| p.pid)
                .collect();
            pids.sort();
            pids
        };
        let me = std::process::id() as i32;
        let mut walked = tree_of(&read_trees(me, &[leader]));
        for _ in 0..50 {
            if walked.len() >= 4 {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
            walked = tree_of(&read_trees(me, &[leader]));
        }
        let scanned = tree_of(&read_procs());
        let _ = shell.kill();
        let _ = shell.wait();
        for pid in &walked {
            unsafe { libc::kill(*pid, libc::SIGKILL) };
        }
        assert_eq!(
            walked.len(),
            4,
            "sh, sleep, sh in its session, sleep: {walked:?}"
        );
        assert_eq!(walked, scanned);
    }
}
