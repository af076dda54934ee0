//! Crash consistency: a child process records tasks as fast as it can and
//! is `kill -9`ed at random moments, again and again, in the same store.
//! Afterwards every record parses, every task the child reported finished
//! is there and finished, event files are whole except at most a torn last
//! line, and the unfinished tasks of the dead writers read as interrupted.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use corral::agent::{AgentKind, AgentOptions};
use corral::core::event::{AgentEvent, Usage};
use corral::core::task::{Budget, TaskSpec, TaskStatus};
use corral::core::{Effect, Event, ExitInfo, Limits, Settings, State};
use corral::driver::Driver;
use corral::store::{Recorder, Store, parse_lines};

const STORE_ENV: &str = "CORRAL_CRASH_TEST_STORE";

fn spec(n: u64) -> TaskSpec {
    TaskSpec {
        agent: AgentKind::Claude,
        prompt: format!("task number {n}"),
        title: None,
        cwd: "/tmp".into(),
        options: AgentOptions::default(),
        limits: Limits::default(),
        profile: None,
        budget: Budget::default(),
        worktree: false,
    }
}

/// The writer run in the child process (not a test on its own: ignored
/// unless the parent starts it with the store's path).
#[test]
#[ignore = "the child half of store_survives_kill_9_at_any_moment"]
fn crash_writer() {
    let Some(dir) = std::env::var_os(STORE_ENV) else {
        return;
    };
    let store = Store::open(std::path::Path::new(&dir)).expect("store");
    let recorder = Recorder::start(store).expect("recorder");
    let mut d = Driver::new(State::new(Settings::default()), Some(recorder), Vec::new());
    for n in 0.. {
        let (task, _) = d.launch(n, spec(n));
        let agent = |d: &mut Driver<Vec<Effect>>, event: Event| {
            d.step(n, event);
            d.executor.clear();
        };
        for i in 0..20 {
            agent(
                &mut d,
                Event::Agent {
                    task,
                    event: AgentEvent::Text {
                        text: format!("line {i} of task {n} ").repeat(8),
                        delta: false,
                    },
                },
            );
        }
        agent(
            &mut d,
            Event::Agent {
                task,
                event: AgentEvent::Usage(Usage {
                    input_tokens: n,
                    output_tokens: 1,
                    ..Usage::default()
                }),
            },
        );
        agent(
            &mut d,
            Event::Agent {
                task,
                event: AgentEvent::TurnEnd {
                    is_error: false,
                    result: Some("ok".into()),
                    api_error_status: None,
                    num_turns: Some(1),
                    permission_denials: vec![],
                    terminal_reason: None,
                    api_error_type: None,
                },
            },
        );
        agent(
            &mut d,
            Event::Exited {
                task,
                exit: ExitInfo {
                    code: Some(0),
                    signal: None,
                    killed_outside_group: 0,
                },
            },
        );
        let rec = d.recorder().expect("recorder");
        rec.flush();
        // Only now is the task durably finished: say so.
        println!("done {}", rec.store_id(task).expect("recorded"));
    }
}

fn pseudo_random_ms(round: u64) -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0);
    20 + (nanos / 1000 + round * 37) % 180
}

#[test]
fn store_survives_kill_9_at_any_moment() {
    let dir = tempfile::tempdir().unwrap();
    let tasks = dir.path().join("tasks");
    let exe = std::env::current_exe().unwrap();
    let mut done: HashSet<String> = HashSet::new();
    for round in 0..10 {
        let mut child = Command::new(&exe)
            .args([
                "--ignored",
                "--exact",
                "crash::crash_writer",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(STORE_ENV, &tasks)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("writer child");
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .filter_map(|l| l.strip_prefix("done ").map(str::to_string))
                .collect::<Vec<String>>()
        });
        // Let it get going (the first round waits for the binary to load).
        std::thread::sleep(Duration::from_millis(
            pseudo_random_ms(round) + if round == 0 { 300 } else { 0 },
        ));
        unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
        child.wait().unwrap();
        done.extend(reader.join().unwrap());
    }
    assert!(!done.is_empty(), "the writer finished no task at all");

    let store = Store::open(&tasks).unwrap();
    let (records, problems) = store.list();
    assert!(problems.is_empty(), "damaged records: {problems:?}");
    for id in &done {
        let r = records
            .iter()
            .find(|r| &r.id == id)
            .unwrap_or_else(|| panic!("finished task {id} is lost"));
        assert_eq!(r.status, TaskStatus::Succeeded, "task {id}");
        let events = store.read_events(id, 1);
        assert!(
            matches!(events.last(), Some(AgentEvent::Finished(_))),
            "task {id}'s events end with its finish"
        );
    }
    for r in &records {
        let text = std::fs::read_to_string(store.events_path(&r.id, 1)).unwrap_or_default();
        let (_, skipped) = parse_lines::<AgentEvent>(&text);
        let torn_tail = !text.is_empty() && !text.ends_with('\n');
        assert!(
            skipped == 0 || (skipped == 1 && torn_tail),
            "task {}: {skipped} bad line(s), torn tail: {torn_tail}",
            r.id
        );
        // The writers are dead: nothing reads as running.
        assert!(
            matches!(
                r.effective_status(),
                TaskStatus::Succeeded | TaskStatus::Interrupted
            ),
            "task {} reads as {:?}",
            r.id,
            r.effective_status()
        );
    }
    eprintln!(
        "{} tasks recorded, {} reported finished, {} cut short",
        records.len(),
        done.len(),
        records.iter().filter(|r| !r.status.is_final()).count()
    );
    let recovery = store.recover();
    let (after, _) = store.list();
    assert!(after.iter().all(|r| r.status.is_final()));
    assert_eq!(
        recovery.interrupted.len(),
        records.iter().filter(|r| !r.status.is_final()).count()
    );
}
