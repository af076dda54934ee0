//! `corral run`: the headless front end. One task, driven by the same core
//! and runtime as the TUI, its events printed as a readable transcript or
//! as canonical JSON lines.
//!
//! Never asks a person (no terminal UI): questions are answered by the
//! `--approve` policy, so a run can never hang waiting for input.

pub mod printer;

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use tokio::sync::mpsc;

use crate::agent::{AgentKind, AgentOptions};
use crate::cli::{AgentArgs, ApproveArg, RunArgs};
use crate::core::event::{AgentEvent, FinishStatus};
use crate::core::task::TaskSpec;
use crate::core::{ApprovalPolicy, Command, Event, Limits, Settings, State, update};
use crate::runtime::{KillWaits, Runtime, RuntimeConfig};
use printer::Printer;

/// Exit code of a run that was interrupted with Ctrl-C.
pub const EXIT_INTERRUPTED: i32 = 130;
/// Exit code for usage or configuration errors.
pub const EXIT_USAGE: i32 = 2;

/// Capacity of the event channel from the runtime.
const EVENT_QUEUE: usize = 1024;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Builds the task the user described on the command line.
pub fn task_spec(args: &AgentArgs, prompt: String, limits: Limits) -> Result<TaskSpec> {
    let Some(agent) = AgentKind::from_name(&args.agent) else {
        bail!(
            "unknown agent `{}` (known: {})",
            args.agent,
            AgentKind::NAMES.join(", ")
        );
    };
    let cwd = match &args.cwd {
        Some(dir) => dir.clone(),
        None => std::env::current_dir().context("the current directory is not readable")?,
    };
    Ok(TaskSpec {
        agent,
        prompt,
        title: None,
        cwd: absolute(cwd),
        options: AgentOptions {
            binary: args.agent_bin.clone(),
            model: args.model.clone(),
            permission_mode: args.permission_mode.clone(),
            allowed_tools: args.allowed_tools.clone(),
            disallowed_tools: args.disallowed_tools.clone(),
            append_system_prompt: args.append_system_prompt.clone(),
            add_dirs: args.add_dirs.clone(),
            max_budget_usd: args.max_budget_usd,
            session_id: args.session_id.clone(),
            resume: args.resume.clone(),
            extra_args: args.agent_args.clone(),
            config_overrides: args.config_overrides.clone(),
            env: args.env.clone(),
            ..AgentOptions::default()
        },
        limits,
    })
}

fn absolute(dir: PathBuf) -> PathBuf {
    if dir.is_absolute() {
        return dir;
    }
    std::env::current_dir()
        .map(|cwd| cwd.join(&dir))
        .unwrap_or(dir)
}

fn read_prompt(words: &[String]) -> Result<String> {
    if words.len() == 1 && words[0] == "-" {
        let mut prompt = String::new();
        std::io::stdin()
            .read_to_string(&mut prompt)
            .context("could not read the prompt from stdin")?;
        return Ok(prompt);
    }
    Ok(words.join(" "))
}

/// Runs `corral run` and returns the process exit code.
pub fn run(args: RunArgs) -> i32 {
    let prepared = read_prompt(&args.prompt).and_then(|prompt| {
        if prompt.trim().is_empty() {
            bail!("the prompt is empty");
        }
        task_spec(
            &args.agent,
            prompt,
            Limits {
                idle_timeout_ms: args.idle_timeout,
                wall_timeout_ms: args.timeout,
            },
        )
    });
    let spec = match prepared {
        Ok(spec) => spec,
        Err(err) => {
            eprintln!("corral: {err:#}");
            return EXIT_USAGE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("corral: cannot start the async runtime: {err}");
            return 1;
        }
    };
    runtime.block_on(drive(spec, &args))
}

/// The event loop of one headless run.
async fn drive(spec: TaskSpec, args: &RunArgs) -> i32 {
    let (tx, mut rx) = mpsc::channel(EVENT_QUEUE);
    let mut runtime = Runtime::new(
        tx,
        RuntimeConfig {
            kill_waits: KillWaits {
                after_int_ms: args.kill_grace,
                after_term_ms: args.kill_grace,
                after_kill_ms: args.kill_grace.max(500),
            },
            ..RuntimeConfig::default()
        },
    );
    let mut state = State::new(Settings {
        approval: match args.approve {
            ApproveArg::Deny => ApprovalPolicy::Deny,
            ApproveArg::Allow => ApprovalPolicy::Allow,
        },
        end_after_turn: true,
        ..Settings::default()
    });
    let color =
        !args.json && std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut out = Output {
        json: args.json,
        printer: Printer::new(color),
    };
    let mut interrupted = false;
    let mut next = Some(Event::Command(Command::Launch(Box::new(spec))));
    loop {
        if let Some(event) = next.take() {
            for effect in update(&mut state, now_ms(), event) {
                runtime.apply(effect);
            }
            for (_, ev) in state.drain_published() {
                out.emit(&ev);
                if let AgentEvent::Finished(f) = &ev {
                    return match (interrupted, f.status) {
                        (true, _) => EXIT_INTERRUPTED,
                        (false, FinishStatus::Succeeded) => 0,
                        (false, _) => 1,
                    };
                }
            }
        }
        tokio::select! {
            received = rx.recv() => match received {
                Some(event) => next = Some(event),
                None => return 1,
            },
            _ = tokio::signal::ctrl_c() => {
                if interrupted {
                    runtime.kill_all_blocking();
                    return EXIT_INTERRUPTED;
                }
                interrupted = true;
                let task = state.tasks.first().map(|t| t.id).unwrap_or_default();
                next = Some(Event::Command(Command::Kill { task }));
            }
        }
    }
}

/// Where a headless run's events go.
struct Output {
    json: bool,
    printer: Printer,
}

impl Output {
    fn emit(&mut self, event: &AgentEvent) {
        let mut stdout = std::io::stdout().lock();
        let text = if self.json {
            match serde_json::to_string(event) {
                Ok(line) => line + "\n",
                Err(_) => return,
            }
        } else {
            self.printer.render(event)
        };
        // A closed stdout (`| head`) must not panic; the run goes on.
        let _ = stdout.write_all(text.as_bytes());
        let _ = stdout.flush();
    }
}
