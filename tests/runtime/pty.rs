//! The runtime against real processes: real PTYs, real signals, the fake
//! agents in `tests/fixtures/agents`. Every wait on an event has a generous
//! timeout that only guards against a hang; assertions are about what
//! arrived and what `/proc` shows, never about how long something took.

use std::path::{Path, PathBuf};
use std::time::Duration;

use corral::agent::{AgentKind, LaunchSpec, StdinMode};
use corral::core::event::AgentEvent;
use corral::core::{Effect, Event, ExitInfo, Limit, Limits, TaskId};
use corral::runtime::{KillWaits, Runtime, RuntimeConfig};
use tokio::sync::mpsc;

/// Only a guard against a hung test, never an assertion about speed.
const HANG_GUARD: Duration = Duration::from_secs(30);

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/agents")
        .join(name)
}

fn spec(program: &str, args: &[&str], stdin: StdinMode) -> LaunchSpec {
    LaunchSpec {
        program: fixture(program).to_string_lossy().into_owned(),
        args: args.iter().map(|a| a.to_string()).collect(),
        cwd: PathBuf::from(env!("CARGO_MANIFEST_DIR")),
        env: vec![("CORRAL_TEST".to_string(), "1".to_string())],
        stdin,
    }
}

fn spawn(task: TaskId, spec: LaunchSpec, limits: Limits) -> Effect {
    Effect::Spawn {
        task,
        agent: AgentKind::Claude,
        wire: corral::agent::Wire::ClaudeStdio,
        spec,
        limits,
    }
}

fn quick_kills() -> RuntimeConfig {
    RuntimeConfig {
        kill_waits: KillWaits {
            after_int_ms: 300,
            after_term_ms: 300,
            after_kill_ms: 1000,
        },
        ..RuntimeConfig::default()
    }
}

struct Harness {
    runtime: Runtime,
    events: mpsc::Receiver<Event>,
    /// The rest of a batch (`Event::Agents`), handed out one by one.
    batch: std::collections::VecDeque<Event>,
}

impl Harness {
    fn new(capacity: usize, config: RuntimeConfig) -> Harness {
        let (tx, events) = mpsc::channel(capacity);
        Harness {
            runtime: Runtime::new(tx, config),
            events,
            batch: Default::default(),
        }
    }

    /// The next event; a batch of one read's agent events comes as one
    /// `Event::Agent` each, in order.
    async fn next(&mut self) -> Event {
        if let Some(event) = self.batch.pop_front() {
            return event;
        }
        match tokio::time::timeout(HANG_GUARD, self.events.recv()).await {
            Ok(Some(Event::Agents { task, events })) => {
                self.batch = events
                    .into_iter()
                    .map(|event| Event::Agent { task, event })
                    .collect();
                Box::pin(self.next()).await
            }
            Ok(Some(event)) => event,
            Ok(None) => panic!("event channel closed"),
            Err(_) => panic!("no event within {HANG_GUARD:?}"),
        }
    }

    /// Events until (and including) `Exited` for `task`.
    async fn until_exited(&mut self, task: TaskId) -> Vec<Event> {
        let mut seen = Vec::new();
        loop {
            let event = self.next().await;
            let done = matches!(&event, Event::Exited { task: t, .. } if *t == task);
            seen.push(event);
            if done {
                return seen;
            }
        }
    }

    /// The text of raw output lines until one satisfies `stop` (included).
    async fn raw_until(&mut self, stop: impl Fn(&str) -> bool) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            match self.next().await {
                Event::Agent {
                    event: AgentEvent::Raw { line },
                    ..
                } => {
                    let done = stop(&line);
                    lines.push(line);
                    if done {
                        return lines;
                    }
                }
                Event::Exited { exit, .. } => {
                    panic!("exited ({exit:?}) before the line; saw {lines:?}")
                }
                Event::SpawnFailed { message, .. } => panic!("spawn failed: {message}"),
                _ => {}
            }
        }
    }

    /// Drops the runtime, then proves no further event arrives: the channel
    /// closes once every runtime thread has finished.
    async fn assert_nothing_more(self) {
        let Harness {
            runtime,
            mut events,
            batch,
        } = self;
        assert!(batch.is_empty(), "unexpected events: {batch:?}");
        drop(runtime);
        match tokio::time::timeout(HANG_GUARD, events.recv()).await {
            Ok(None) => {}
            Ok(Some(event)) => panic!("unexpected event after the last one: {event:?}"),
            Err(_) => panic!("the runtime's threads did not finish"),
        }
    }
}

fn raw_texts(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::Agent {
                event: AgentEvent::Raw { line },
                ..
            } => Some(line.clone()),
            _ => None,
        })
        .collect()
}

fn exit_of(events: &[Event]) -> ExitInfo {
    match events.last() {
        Some(Event::Exited { exit, .. }) => exit.clone(),
        other => panic!("last event is not Exited: {other:?}"),
    }
}

/// `(pid, pgrp)` of every live (non-zombie) process, read from `/proc`.
fn live_processes() -> Vec<(i32, i32)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc") {
        let Ok(entry) = entry else { continue };
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        if fields.len() < 3 || fields[0] == "Z" || fields[0] == "X" {
            continue;
        }
        if let Ok(pgrp) = fields[2].parse() {
            out.push((pid, pgrp));
        }
    }
    out
}

fn live_in_group(pgid: i32) -> Vec<i32> {
    live_processes()
        .into_iter()
        .filter(|&(_, pgrp)| pgrp == pgid)
        .map(|(pid, _)| pid)
        .collect()
}

fn is_alive(pid: i32) -> bool {
    live_processes().iter().any(|&(p, _)| p == pid)
}

/// The pids announced as `child N` / `grandchild N` lines.
fn announced_pids(lines: &[String]) -> Vec<i32> {
    lines
        .iter()
        .filter_map(|line| {
            let (what, pid) = line.split_once(' ')?;
            matches!(what, "child" | "grandchild")
                .then(|| pid.trim().parse().ok())
                .flatten()
        })
        .collect()
}

#[tokio::test]
async fn replayed_transcript_arrives_in_order_and_exited_comes_last_with_the_code() {
    let mut h = Harness::new(4, RuntimeConfig::default());
    let transcript = fixture("claude_tool.jsonl");
    h.runtime.apply(spawn(
        1,
        spec(
            "replay.sh",
            &[transcript.to_str().expect("utf-8 path"), "3", "1"],
            StdinMode::Pipe {
                initial_lines: vec!["hello agent".to_string()],
            },
        ),
        Limits::default(),
    ));
    let events = h.until_exited(1).await;

    // What the agent wrote, line by line, through the agent's own parser;
    // what it wrote to stderr (its own pipe) is a notice, in no order
    // relative to stdout.
    let text = std::fs::read_to_string(&transcript).expect("fixture");
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines.push("\x1b[?25h\x1b[?1004l".to_string());
    let mut parser = AgentKind::Claude.parser(corral::agent::Wire::ClaudeStdio);
    let expected: Vec<Event> = lines
        .iter()
        .flat_map(|line| parser.parse_line(line))
        .map(|event| Event::Agent { task: 1, event })
        .collect();
    let notice = Event::Agent {
        task: 1,
        event: AgentEvent::Notice {
            line: "stdin: hello agent".into(),
        },
    };
    let (notices, stdout): (Vec<Event>, Vec<Event>) = events[..events.len() - 1]
        .iter()
        .cloned()
        .partition(|e| *e == notice);
    assert_eq!(notices.len(), 1, "{events:?}");
    assert_eq!(stdout, expected);
    assert_eq!(
        exit_of(&events),
        ExitInfo {
            code: Some(3),
            signal: None,
            killed_outside_group: 0,
        }
    );
    h.assert_nothing_more().await;
}

#[tokio::test]
async fn stdout_is_the_terminal_stdin_and_stderr_are_pipes_and_the_agent_leads_its_group() {
    let mut h = Harness::new(16, RuntimeConfig::default());
    h.runtime.apply(spawn(
        1,
        spec(
            "echo_stdin.sh",
            &[],
            StdinMode::Pipe {
                initial_lines: vec![],
            },
        ),
        Limits::default(),
    ));
    let lines = h.raw_until(|line| line.starts_with("setup ")).await;
    let setup = lines.last().expect("setup line");
    let field = |name: &str| -> String {
        setup
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no {name} in {setup:?}"))
            .to_string()
    };
    assert_eq!(field("stdin_tty"), "no", "{setup}");
    assert_eq!(field("stdout_tty"), "yes", "{setup}");
    // A structured agent's stderr is a pipe of its own (notices).
    assert_eq!(field("stderr_tty"), "no", "{setup}");
    assert_eq!(
        field("pgrp"),
        field("pid"),
        "its own process group: {setup}"
    );
    assert_eq!(field("sid"), field("pid"), "its own session: {setup}");
    assert_ne!(field("tty_nr"), "0", "a controlling terminal: {setup}");
    let pid: i32 = field("pid").parse().expect("pid");
    assert_eq!(h.runtime.live_groups(), vec![pid]);

    h.runtime.apply(Effect::CloseStdin { task: 1 });
    let events = h.until_exited(1).await;
    assert_eq!(raw_texts(&events), vec!["stdin closed"]);
    assert_eq!(exit_of(&events).code, Some(7));
    assert!(h.runtime.live_groups().is_empty());
    h.assert_nothing_more().await;
}

#[tokio::test]
async fn stdin_lines_reach_the_agent_and_close_stdin_ends_it() {
    let mut h = Harness::new(16, RuntimeConfig::default());
    h.runtime.apply(spawn(
        5,
        spec(
            "echo_stdin.sh",
            &[],
            StdinMode::Pipe {
                initial_lines: vec!["first".to_string()],
            },
        ),
        Limits::default(),
    ));
    // Queued right after the spawn, before the process may even exist.
    h.runtime.apply(Effect::WriteStdin {
        task: 5,
        line: "second line".to_string(),
    });
    h.raw_until(|line| line == "echo: second line").await;
    h.runtime.apply(Effect::WriteStdin {
        task: 5,
        line: r#"{"type":"user","message":"ünïcode"}"#.to_string(),
    });
    h.runtime.apply(Effect::CloseStdin { task: 5 });
    // A line after CloseStdin goes nowhere (and must not break anything).
    h.runtime.apply(Effect::WriteStdin {
        task: 5,
        line: "too late".to_string(),
    });
    let events = h.until_exited(5).await;
    assert_eq!(
        raw_texts(&events),
        vec![
            r#"echo: {"type":"user","message":"ünïcode"}"#,
            "stdin closed"
        ]
    );
    assert_eq!(exit_of(&events).code, Some(7));
    h.assert_nothing_more().await;
}

#[tokio::test]
async fn null_stdin_reads_eof_at_once() {
    let mut h = Harness::new(16, RuntimeConfig::default());
    h.runtime.apply(spawn(
        2,
        spec("echo_stdin.sh", &[], StdinMode::Null),
        Limits::default(),
    ));
    let events = h.until_exited(2).await;
    let lines = raw_texts(&events);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].contains("stdin_tty=no stdout_tty=yes"),
        "{lines:?}"
    );
    assert_eq!(lines[1], "stdin closed");
    assert_eq!(exit_of(&events).code, Some(7));
}

#[tokio::test]
async fn kill_takes_the_whole_group_including_children_that_ignore_signals() {
    let mut h = Harness::new(16, quick_kills());
    h.runtime.apply(spawn(
        3,
        spec("fork_children.py", &[], StdinMode::Null),
        Limits::default(),
    ));
    let lines = h.raw_until(|line| line == "ready").await;
    let pids = announced_pids(&lines);
    assert_eq!(pids.len(), 3, "two children and a grandchild: {lines:?}");
    let groups = h.runtime.live_groups();
    assert_eq!(groups.len(), 1);
    let pgid = groups[0];
    let members = live_in_group(pgid);
    for pid in &pids {
        assert!(members.contains(pid), "{pid} in group {pgid}: {members:?}");
    }

    h.runtime.apply(Effect::Kill { task: 3 });
    let events = h.until_exited(3).await;
    let kill_done: Vec<usize> = events
        .iter()
        .filter_map(|event| match event {
            Event::KillDone { task: 3, survivors } => Some(*survivors),
            _ => None,
        })
        .collect();
    assert_eq!(kill_done, vec![0]);
    assert!(exit_of(&events).signal.is_some(), "{:?}", exit_of(&events));
    assert_eq!(live_in_group(pgid), Vec::<i32>::new());
    for pid in pids {
        assert!(!is_alive(pid), "child {pid} survived");
    }
    h.assert_nothing_more().await;
}

#[tokio::test]
async fn the_ladder_escalates_to_sigkill_for_an_agent_ignoring_sigint_and_sigterm() {
    let mut h = Harness::new(16, quick_kills());
    h.runtime.apply(spawn(
        4,
        spec("stubborn.sh", &[], StdinMode::Null),
        Limits::default(),
    ));
    h.raw_until(|line| line.starts_with("ignoring")).await;
    let pgid = h.runtime.live_groups()[0];
    h.runtime.apply(Effect::Kill { task: 4 });
    // A second kill while the ladder runs is the same kill.
    h.runtime.apply(Effect::Kill { task: 4 });
    let events = h.until_exited(4).await;
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(
                e,
                Event::KillDone {
                    task: 4,
                    survivors: 0
                }
            ))
            .count(),
        1,
        "{events:?}"
    );
    assert_eq!(
        exit_of(&events),
        ExitInfo {
            code: None,
            signal: Some("SIGKILL".to_string()),
            killed_outside_group: 0,
        }
    );
    assert!(live_in_group(pgid).is_empty());
    // A kill after Exited is a no-op: no event follows.
    h.runtime.apply(Effect::Kill { task: 4 });
    h.assert_nothing_more().await;
}

#[tokio::test]
async fn a_child_left_behind_by_an_agent_that_exits_is_gone_after_exited() {
    let mut h = Harness::new(16, RuntimeConfig::default());
    h.runtime.apply(spawn(
        6,
        spec("orphan.sh", &[], StdinMode::Null),
        Limits::default(),
    ));
    let events = h.until_exited(6).await;
    let pids = announced_pids(&raw_texts(&events));
    assert_eq!(pids.len(), 1, "{events:?}");
    assert_eq!(exit_of(&events).code, Some(0));
    assert!(
        !is_alive(pids[0]),
        "the orphaned child {} survived",
        pids[0]
    );
    h.assert_nothing_more().await;
}

#[tokio::test]
async fn idle_timeout_reports_the_limit_once_and_kill_follows() {
    let mut h = Harness::new(16, quick_kills());
    h.runtime.apply(spawn(
        7,
        spec("hang.sh", &[], StdinMode::Null),
        Limits {
            idle_timeout_ms: Some(300),
            wall_timeout_ms: None,
        },
    ));
    loop {
        match h.next().await {
            Event::LimitReached { task: 7, limit } => {
                assert_eq!(limit, Limit::Idle);
                break;
            }
            Event::Agent { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    h.runtime.apply(Effect::Kill { task: 7 });
    let events = h.until_exited(7).await;
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::LimitReached { .. })),
        "the limit is reported once: {events:?}"
    );
    assert!(events.contains(&Event::KillDone {
        task: 7,
        survivors: 0
    }));
    h.assert_nothing_more().await;
}

#[tokio::test]
async fn wall_timeout_fires_while_output_keeps_flowing_under_backpressure() {
    // A tiny channel: the spamming agent is slowed by the consumer.
    let mut h = Harness::new(2, quick_kills());
    h.runtime.apply(spawn(
        8,
        spec("spam.sh", &[], StdinMode::Null),
        Limits {
            idle_timeout_ms: Some(60_000),
            wall_timeout_ms: Some(300),
        },
    ));
    let mut spam_lines = 0usize;
    loop {
        match h.next().await {
            Event::LimitReached { task: 8, limit } => {
                assert_eq!(limit, Limit::Wall);
                break;
            }
            Event::Agent {
                event: AgentEvent::Raw { line },
                ..
            } => {
                assert!(line.contains("all work and no play"), "{line:?}");
                spam_lines += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(spam_lines > 0);
    h.runtime.apply(Effect::Kill { task: 8 });
    let events = h.until_exited(8).await;
    assert!(events.contains(&Event::KillDone {
        task: 8,
        survivors: 0
    }));
    assert!(exit_of(&events).signal.is_some());
    h.assert_nothing_more().await;
}

#[tokio::test]
async fn output_rearms_the_idle_timer() {
    let mut h = Harness::new(16, RuntimeConfig::default());
    // 12 ticks 0.1 s apart: 1.2 s in all, never 0.8 s without output.
    h.runtime.apply(spawn(
        9,
        spec("ticker.sh", &["12", "0.1"], StdinMode::Null),
        Limits {
            idle_timeout_ms: Some(800),
            wall_timeout_ms: None,
        },
    ));
    let events = h.until_exited(9).await;
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::LimitReached { .. })),
        "{events:?}"
    );
    assert_eq!(raw_texts(&events).len(), 12);
    assert_eq!(exit_of(&events).code, Some(0));
}

#[tokio::test]
async fn a_ten_megabyte_line_becomes_an_error_and_the_next_line_still_arrives() {
    let mut h = Harness::new(16, RuntimeConfig::default());
    h.runtime.apply(spawn(
        10,
        spec("big_line.sh", &[], StdinMode::Null),
        Limits::default(),
    ));
    let events = h.until_exited(10).await;
    let agent_events: Vec<&AgentEvent> = events
        .iter()
        .filter_map(|e| match e {
            Event::Agent { event, .. } => Some(event),
            _ => None,
        })
        .collect();
    assert_eq!(agent_events.len(), 2, "{:?}", agent_events.len());
    match agent_events[0] {
        AgentEvent::Error { message } => {
            assert!(message.contains("10485760 bytes"), "{}", &message[..200]);
            assert!(message.contains("xxxxxxxxxx"));
            assert!(message.len() < 1000, "the message quotes only the start");
        }
        other => panic!("expected an error, got {other:?}"),
    }
    assert_eq!(
        agent_events[1],
        &AgentEvent::Raw {
            line: "after the big line".to_string()
        }
    );
    assert_eq!(exit_of(&events).code, Some(0));
}

#[tokio::test]
async fn invalid_utf8_arrives_as_replacement_characters() {
    let mut h = Harness::new(16, RuntimeConfig::default());
    h.runtime.apply(spawn(
        11,
        spec("invalid_utf8.sh", &[], StdinMode::Null),
        Limits::default(),
    ));
    let events = h.until_exited(11).await;
    assert_eq!(
        raw_texts(&events),
        vec!["bad \u{fffd}\u{fffd} bytes \u{fffd} here", "clean line"]
    );
}

#[tokio::test]
async fn a_missing_binary_is_a_spawn_failure_naming_it_and_nothing_else() {
    let mut h = Harness::new(16, RuntimeConfig::default());
    let mut on_path = spec("hang.sh", &[], StdinMode::Null);
    on_path.program = "corral-test-no-such-agent".to_string();
    h.runtime.apply(spawn(12, on_path, Limits::default()));
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("no-agent-here");
    let mut by_path = spec(
        "hang.sh",
        &[],
        StdinMode::Pipe {
            initial_lines: vec!["hi".to_string()],
        },
    );
    by_path.program = missing.to_string_lossy().into_owned();
    h.runtime.apply(spawn(13, by_path, Limits::default()));
    // Effects for a task whose spawn fails do nothing, even when they come
    // before the failure is known.
    h.runtime.apply(Effect::Kill { task: 13 });
    h.runtime.apply(Effect::WriteStdin {
        task: 13,
        line: "x".to_string(),
    });

    let mut messages = std::collections::BTreeMap::new();
    for _ in 0..2 {
        match h.next().await {
            Event::SpawnFailed { task, message } => {
                messages.insert(task, message);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        messages[&12],
        "agent binary `corral-test-no-such-agent` not found on PATH"
    );
    assert_eq!(
        messages[&13],
        format!("agent binary `{}` not found", missing.display())
    );
    h.runtime.apply(Effect::Kill { task: 12 });
    assert!(h.runtime.live_groups().is_empty());
    h.assert_nothing_more().await;
}

#[tokio::test]
async fn a_missing_working_directory_is_a_spawn_failure_naming_it() {
    let mut h = Harness::new(16, RuntimeConfig::default());
    let dir = tempfile::tempdir().expect("tempdir");
    let mut missing_cwd = spec("hang.sh", &[], StdinMode::Null);
    missing_cwd.cwd = dir.path().join("gone");
    h.runtime.apply(spawn(14, missing_cwd, Limits::default()));
    match h.next().await {
        Event::SpawnFailed { task: 14, message } => assert_eq!(
            message,
            format!(
                "working directory `{}` does not exist",
                dir.path().join("gone").display()
            )
        ),
        other => panic!("unexpected {other:?}"),
    }
    h.assert_nothing_more().await;
}

#[tokio::test]
async fn kill_all_blocking_leaves_nothing_alive() {
    let mut h = Harness::new(256, quick_kills());
    h.runtime.apply(spawn(
        20,
        spec("fork_children.py", &[], StdinMode::Null),
        Limits::default(),
    ));
    let pids = announced_pids(&h.raw_until(|line| line == "ready").await);
    h.runtime.apply(spawn(
        21,
        spec("stubborn.sh", &[], StdinMode::Null),
        Limits::default(),
    ));
    h.raw_until(|line| line.starts_with("ignoring")).await;
    h.runtime.apply(spawn(
        22,
        spec(
            "echo_stdin.sh",
            &[],
            StdinMode::Pipe {
                initial_lines: vec![],
            },
        ),
        Limits::default(),
    ));
    h.raw_until(|line| line.starts_with("setup")).await;
    let groups = h.runtime.live_groups();
    assert_eq!(groups.len(), 3);

    h.runtime.kill_all_blocking();

    for pgid in &groups {
        assert_eq!(live_in_group(*pgid), Vec::<i32>::new(), "group {pgid}");
    }
    for pid in &pids {
        assert!(!is_alive(*pid), "child {pid} survived");
    }
    assert!(h.runtime.live_groups().is_empty());

    let mut kill_done = Vec::new();
    let mut exited = Vec::new();
    while exited.len() < 3 {
        match h.next().await {
            Event::KillDone { task, survivors } => kill_done.push((task, survivors)),
            Event::Exited { task, .. } => exited.push(task),
            _ => {}
        }
    }
    kill_done.sort();
    exited.sort();
    assert_eq!(kill_done, vec![(20, 0), (21, 0), (22, 0)]);
    assert_eq!(exited, vec![20, 21, 22]);
    h.assert_nothing_more().await;
}

#[tokio::test]
async fn a_task_id_can_run_again_as_soon_as_it_exited() {
    let mut h = Harness::new(16, RuntimeConfig::default());
    h.runtime.apply(spawn(
        30,
        spec("invalid_utf8.sh", &[], StdinMode::Null),
        Limits::default(),
    ));
    let first = h.until_exited(30).await;
    assert_eq!(raw_texts(&first).len(), 2);
    // Like a resumed session: the same task, a new process, right away.
    h.runtime.apply(spawn(
        30,
        spec("ticker.sh", &["2", "0"], StdinMode::Null),
        Limits::default(),
    ));
    let second = h.until_exited(30).await;
    assert_eq!(raw_texts(&second), vec!["tick 1", "tick 2"]);
    assert_eq!(exit_of(&second).code, Some(0));
    h.assert_nothing_more().await;
}

#[test]
fn the_runtime_can_move_into_a_task_or_thread() {
    fn is_send<T: Send + 'static>() {}
    is_send::<Runtime>();
}

/// The cost of `task` in a `ProcCosts` sample, if it has one.
fn cost_of(event: &Event, task: TaskId) -> Option<corral::core::task::ProcCost> {
    match event {
        Event::ProcCosts(costs) => costs.iter().find(|(t, _)| *t == task).map(|(_, c)| *c),
        _ => None,
    }
}

#[tokio::test]
async fn the_cost_sampler_shows_a_busy_child_in_the_agents_tree_until_it_is_killed() {
    let mut h = Harness::new(64, quick_kills());
    h.runtime.apply(Effect::WatchCosts { on: true });
    h.runtime.apply(spawn(
        9,
        spec("burn_child.py", &[], StdinMode::Null),
        Limits::default(),
    ));
    let lines = h.raw_until(|line| line == "ready").await;
    let burner: i32 = lines
        .iter()
        .find_map(|l| l.strip_prefix("burner "))
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("no burner pid in {lines:?}"));
    // Samples come once a second; the child spins a core (on a busy machine
    // it gets less of one, so the bar is low) in a tree of two processes.
    let mut seen = Vec::new();
    let busy = loop {
        let event = h.next().await;
        if let Event::Exited { exit, .. } = &event {
            panic!("exited ({exit:?}) before a busy sample; saw {seen:?}");
        }
        if let Some(cost) = cost_of(&event, 9) {
            seen.push(cost);
            if cost.cpu_percent >= 15 && cost.processes == 2 {
                break cost;
            }
            assert!(seen.len() < 20, "never busy: {seen:?}");
        }
    };
    assert!(busy.rss_kib > 1024, "{busy:?}");
    // The runaway child is killed: the agent exits after it, and no sample
    // of the task follows its exit.
    // SAFETY: kill(2) on the child the fixture announced.
    assert_eq!(unsafe { libc::kill(burner, libc::SIGKILL) }, 0);
    let events = h.until_exited(9).await;
    assert_eq!(exit_of(&events).code, Some(0));
    assert!(
        raw_texts(&events).contains(&"the burner is gone".to_string()),
        "{events:?}"
    );
    h.assert_nothing_more().await;
}

#[tokio::test]
async fn an_interactive_programs_stderr_stays_on_its_terminal() {
    let mut h = Harness::new(16, RuntimeConfig::default());
    h.runtime.apply(Effect::Spawn {
        task: 1,
        agent: AgentKind::Command,
        wire: corral::agent::Wire::OneShot,
        spec: spec(
            "echo_stdin.sh",
            &[],
            StdinMode::Terminal {
                initial_input: Vec::new(),
            },
        ),
        limits: Limits::default(),
    });
    let lines = h.raw_until(|line| line.starts_with("setup ")).await;
    let setup = lines.last().expect("setup line");
    for fd in ["stdin_tty=yes", "stdout_tty=yes", "stderr_tty=yes"] {
        assert!(setup.contains(fd), "{setup}");
    }
    h.runtime.apply(Effect::Kill { task: 1 });
    h.until_exited(1).await;
    h.assert_nothing_more().await;
}
