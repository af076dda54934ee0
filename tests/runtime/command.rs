//! The "any command" agent with real programs on a real PTY, through
//! `core::update` and the runtime: raw output bytes arrive, keystrokes reach
//! the program, resizing reaches its terminal, the exit code decides the
//! status. Plus `corral run --agent command` end to end.

use std::path::PathBuf;
use std::time::Duration;

use corral::agent::{AgentKind, AgentOptions};
use corral::core::event::{AgentEvent, FinishStatus, Finished};
use corral::core::task::TaskSpec;
use corral::core::{Command, Event, Limits, Settings, State, TaskId};
use corral::driver::Driver as CoreDriver;
use corral::runtime::{Runtime, RuntimeConfig};
use tokio::sync::mpsc;

const HANG_GUARD: Duration = Duration::from_secs(30);

fn now_ms() -> u64 {
    corral::headless::now_ms()
}

fn shell(script: &str, prompt: &str) -> TaskSpec {
    TaskSpec {
        agent: AgentKind::Command,
        prompt: prompt.into(),
        title: Some("shell".into()),
        cwd: PathBuf::from(env!("CARGO_MANIFEST_DIR")),
        options: AgentOptions {
            binary: Some("sh".into()),
            extra_args: vec!["-c".into(), script.into()],
            ..AgentOptions::default()
        },
        limits: Limits {
            idle_timeout_ms: None,
            wall_timeout_ms: Some(20_000),
        },
        profile: None,
        budget: Default::default(),
        worktree: false,
    }
}

struct Driver {
    core: CoreDriver<Runtime>,
    events: mpsc::Receiver<Event>,
    output: Vec<u8>,
    published: Vec<AgentEvent>,
}

impl Driver {
    fn new() -> Driver {
        let (tx, events) = mpsc::channel(256);
        Driver {
            core: CoreDriver::new(
                State::new(Settings::default()),
                None,
                Runtime::new(tx, RuntimeConfig::default()),
            ),
            events,
            output: Vec::new(),
            published: Vec::new(),
        }
    }

    fn step(&mut self, event: Event) -> Option<Finished> {
        if let Event::Output { bytes, .. } = &event {
            self.output.extend_from_slice(bytes);
        }
        let step = self.core.step(now_ms(), event);
        let mut finished = None;
        for (_, event) in step.published {
            if let AgentEvent::Finished(f) = &event {
                finished = Some(f.clone());
            }
            self.published.push(event);
        }
        finished
    }

    fn command(&mut self, command: Command) {
        assert!(self.step(Event::Command(command)).is_none());
    }

    async fn next(&mut self) -> Option<Finished> {
        let event = match tokio::time::timeout(HANG_GUARD, self.events.recv()).await {
            Ok(Some(event)) => event,
            other => panic!(
                "no event ({other:?}); output so far: {:?}",
                String::from_utf8_lossy(&self.output)
            ),
        };
        self.step(event)
    }

    /// Runs until the raw output contains `needle`.
    async fn until_output(&mut self, needle: &str) {
        while !String::from_utf8_lossy(&self.output).contains(needle) {
            if let Some(f) = self.next().await {
                panic!(
                    "finished ({f:?}) before {needle:?} appeared in {:?}",
                    String::from_utf8_lossy(&self.output)
                );
            }
        }
    }

    async fn until_finished(&mut self) -> Finished {
        loop {
            if let Some(f) = self.next().await {
                return f;
            }
        }
    }

    fn raw_lines(&self) -> Vec<String> {
        self.published
            .iter()
            .filter_map(|e| match e {
                AgentEvent::Raw { line } => Some(line.clone()),
                _ => None,
            })
            .collect()
    }
}

fn launch(d: &mut Driver, spec: TaskSpec) -> TaskId {
    let id = d.core.state().next_task_id();
    d.command(Command::launch(spec));
    id
}

#[tokio::test]
async fn keystrokes_reach_the_program_and_its_exit_code_decides() {
    let mut d = Driver::new();
    let task = launch(
        &mut d,
        shell("printf 'ready\\n'; read x; echo \"got:$x\"; exit 3", ""),
    );
    d.until_output("ready").await;
    assert!(
        d.core
            .state()
            .task(task)
            .is_some_and(|t| t.is_busy(now_ms())),
        "output just arrived: busy"
    );
    d.command(Command::Input {
        task,
        bytes: b"hello\r".to_vec(),
    });
    d.until_output("got:hello").await;
    let f = d.until_finished().await;
    assert_eq!(f.status, FinishStatus::Failed);
    assert_eq!(f.exit_code, Some(3));
    assert_eq!(f.reason.as_deref(), Some("the command exited with code 3"));
    assert!(
        d.raw_lines().iter().any(|l| l == "got:hello"),
        "{:?}",
        d.raw_lines()
    );
}

#[tokio::test]
async fn the_prompt_is_typed_first_and_exit_zero_succeeds() {
    let mut d = Driver::new();
    launch(&mut d, shell("read x; echo \"said:$x\"", "first"));
    // The prompt was typed into the terminal first; this one waits.
    d.until_output("said:first").await;
    let f = d.until_finished().await;
    assert_eq!(f.status, FinishStatus::Succeeded);
    assert_eq!(f.exit_code, Some(0));
}

#[tokio::test]
async fn send_message_types_into_a_running_command() {
    let mut d = Driver::new();
    let task = launch(&mut d, shell("printf 'go\\n'; read x; echo \"msg:$x\"", ""));
    d.until_output("go").await;
    d.command(Command::FollowUp {
        task,
        text: "typed".into(),
    });
    d.until_output("msg:typed").await;
    assert_eq!(d.until_finished().await.status, FinishStatus::Succeeded);
}

#[tokio::test]
async fn resizing_reaches_the_programs_terminal() {
    let mut d = Driver::new();
    let task = launch(
        &mut d,
        shell(
            "printf 'size:%s\\n' \"$(stty size)\"; read x; printf 'size:%s\\n' \"$(stty size)\"",
            "",
        ),
    );
    d.until_output("size:50 200").await;
    d.command(Command::Resize {
        task,
        rows: 33,
        cols: 77,
    });
    d.command(Command::Input {
        task,
        bytes: b"\r".to_vec(),
    });
    d.until_output("size:33 77").await;
    assert_eq!(d.until_finished().await.status, FinishStatus::Succeeded);
}

#[tokio::test]
async fn killing_a_command_ends_it_killed() {
    let mut d = Driver::new();
    let task = launch(&mut d, shell("printf 'up\\n'; exec sleep 60", ""));
    d.until_output("up").await;
    d.command(Command::Kill { task });
    let f = d.until_finished().await;
    assert_eq!(f.status, FinishStatus::Killed);
}

#[test]
fn corral_run_types_the_prompt_into_a_command() {
    let home = std::env::temp_dir().join(format!("corral-command-pty-{}", std::process::id()));
    let out = assert_cmd::Command::cargo_bin("corral")
        .expect("binary")
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_STATE_HOME", home.join("state"))
        .args([
            "run",
            "--agent",
            "command",
            "--agent-bin",
            "sh",
            "--agent-arg",
            "-c",
            "--agent-arg",
            "read x; echo \"echoed:$x\"; exit 0",
            "--json",
            "ping",
        ])
        .timeout(Duration::from_secs(30))
        .output()
        .expect("corral ran");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("\"line\":\"echoed:ping\""), "{stdout}");
    assert!(stdout.contains("\"status\":\"succeeded\""), "{stdout}");
}
