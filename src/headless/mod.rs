//! `corral run`: the headless front end. One task, driven by the same core
//! and runtime as the TUI, its events printed as a readable transcript or
//! as canonical JSON lines.
//!
//! Asks the person only when stdin is a terminal (and `--approve` is `ask`
//! or unset, see [`ask`]); otherwise the `--approve` policy answers every
//! question, so a run without a terminal can never hang waiting for input.

pub mod ask;
pub use crate::describe::printer;

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use tokio::sync::mpsc;

use crate::agent::AgentOptions;
use crate::cli::{AgentArgs, ApproveArg, RunArgs};
use crate::config::{Approve, Config};
use crate::core::event::{AgentEvent, FinishStatus};
use crate::core::task::{Budget, TaskSpec};
use crate::core::{ApprovalPolicy, Command, Event, Limits, Settings, State};
use crate::driver::Driver;
use crate::logging;
use crate::paths::Paths;
use crate::runtime::{KillWaits, Runtime, RuntimeConfig};
use crate::store::Recorder;
use ask::{Asker, Decision};
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

/// Builds the task the user described on the command line, with the
/// built-in profiles only (see [`task_spec_from`] for a config).
pub fn task_spec(args: &AgentArgs, prompt: String, limits: Limits) -> Result<TaskSpec> {
    task_spec_from(args, &Config::default(), prompt, limits, Budget::default())
}

/// Builds the task the user described: the flags win over the agent
/// profile (`args.agent`, else the config's default), which wins over the
/// config's defaults.
pub fn task_spec_from(
    args: &AgentArgs,
    config: &Config,
    prompt: String,
    limits: Limits,
    budget: Budget,
) -> Result<TaskSpec> {
    let resolved = config
        .resolve(args.agent.as_deref())
        .map_err(anyhow::Error::msg)?;
    let cwd = match &args.cwd {
        Some(dir) => dir.clone(),
        None => std::env::current_dir().context("the current directory is not readable")?,
    };
    let profile = resolved.options;
    let mut extra_args = profile.extra_args;
    extra_args.extend(args.agent_args.iter().cloned());
    let mut env = profile.env;
    env.extend(args.env.iter().cloned());
    let (price_in, price_out) = match resolved.pricing {
        Some((i, o)) => (Some(i), Some(o)),
        None => (None, None),
    };
    Ok(TaskSpec {
        agent: resolved.kind,
        prompt,
        title: None,
        cwd: absolute(cwd),
        options: AgentOptions {
            binary: args.agent_bin.clone().or(profile.binary),
            model: args.model.clone().or(profile.model),
            permission_mode: args.permission_mode.clone().or(profile.permission_mode),
            allowed_tools: args.allowed_tools.clone(),
            disallowed_tools: args.disallowed_tools.clone(),
            append_system_prompt: args.append_system_prompt.clone(),
            add_dirs: args.add_dirs.clone(),
            max_budget_usd: args.max_budget_usd,
            session_id: args.session_id.clone(),
            resume: args.resume.clone(),
            extra_args,
            config_overrides: args.config_overrides.clone(),
            env,
            no_question_file: args.no_question_file,
            protocol: profile.protocol,
            ..AgentOptions::default()
        },
        limits,
        profile: Some(resolved.profile),
        budget: Budget {
            price_input_per_mtok: budget.price_input_per_mtok.or(price_in),
            price_output_per_mtok: budget.price_output_per_mtok.or(price_out),
            ..budget
        },
        worktree: config.defaults.worktree,
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

/// The task `corral run ARGS` describes, with the config's defaults; an
/// error is a usage error (a `--cwd` that is no directory, an empty prompt,
/// an unknown profile).
pub fn run_spec(args: &RunArgs, config: &Config) -> Result<TaskSpec> {
    if let Some(dir) = args.agent.cwd.as_ref().filter(|dir| !dir.is_dir()) {
        bail!("--cwd `{}` is not a directory", dir.display());
    }
    let d = &config.defaults;
    let prompt = read_prompt(&args.prompt)?;
    if prompt.trim().is_empty() {
        bail!("the prompt is empty");
    }
    let mut spec = task_spec_from(
        &args.agent,
        config,
        prompt,
        Limits {
            idle_timeout_ms: args.idle_timeout.or(d.idle_timeout_ms),
            wall_timeout_ms: args.timeout.or(d.timeout_ms),
        },
        Budget {
            max_cost_usd: args.max_cost_usd.or(d.max_cost_usd),
            max_turns: args.max_turns.or(d.max_turns),
            ..Budget::default()
        },
    )?;
    if args.worktree {
        spec.worktree = true;
    } else if args.no_worktree {
        spec.worktree = false;
    }
    Ok(spec)
}

/// How one headless run behaves, from the flags and the config.
struct RunSettings {
    /// Where a `--worktree` task's worktree goes.
    worktree_root: PathBuf,
    /// The command run in a new worktree.
    worktree_setup: Option<String>,
    approve: Option<Approve>,
    kill_grace_ms: u64,
    json: bool,
}

/// Runs `corral run` and returns the process exit code. `config_file` is
/// the global `--config` flag.
pub fn run(args: RunArgs, config_file: Option<&Path>) -> i32 {
    let Some((paths, config)) = crate::config::session(config_file) else {
        return EXIT_USAGE;
    };
    // The log goes to a file only: stdout is the transcript.
    let _log = logging::init(&paths.log_file())
        .map_err(|err| eprintln!("corral: no log file: {err:#}"))
        .ok();
    let d = &config.defaults;
    // A usage error, like a bad flag: no task is recorded for it.
    let spec = match run_spec(&args, &config) {
        Ok(spec) => spec,
        Err(err) => {
            eprintln!("corral: {err:#}");
            return EXIT_USAGE;
        }
    };
    let settings = RunSettings {
        worktree_root: d.worktree_root_or(&paths.data_dir),
        worktree_setup: d.worktree_setup.clone(),
        approve: match args.approve {
            Some(ApproveArg::Allow) => Some(Approve::Allow),
            Some(ApproveArg::Deny) => Some(Approve::Deny),
            None => d.approve,
        },
        kill_grace_ms: args.kill_grace.unwrap_or(d.kill_grace_ms),
        json: args.json,
    };
    let recorder = open_recorder(&paths);
    let Some(runtime) = crate::runtime::start_async() else {
        return 1;
    };
    let questions = crate::questions::create();
    let code = runtime.block_on(drive(spec, settings, questions.clone(), recorder));
    if let Some(dir) = questions {
        // Question files are removed as they are read; what is left is stale.
        crate::questions::remove(&dir);
    }
    code
}

/// Opens the task store, cleans up after dead corrals and starts recording
/// ([`crate::store::open_recording`]), saying on stderr what it did or why
/// the run will not be stored.
fn open_recorder(paths: &Paths) -> Option<Recorder> {
    let (recorder, _, notes, _) = crate::store::open_recording(&paths.tasks_dir());
    for note in notes {
        eprintln!("corral: {note}");
    }
    recorder
}

/// The event loop of one headless run.
async fn drive(
    spec: TaskSpec,
    args: RunSettings,
    question_dir: Option<PathBuf>,
    recorder: Option<Recorder>,
) -> i32 {
    let (tx, mut rx) = mpsc::channel(EVENT_QUEUE);
    let mut runtime = Runtime::new(
        tx,
        RuntimeConfig {
            kill_waits: KillWaits::with_grace(args.kill_grace_ms),
            ..RuntimeConfig::default()
        },
    );
    if let Some(recorder) = &recorder {
        runtime.set_observer(recorder.observer());
    }
    let state = State::new(Settings {
        approval: match args.approve {
            Some(Approve::Deny) => ApprovalPolicy::Deny,
            Some(Approve::Allow) => ApprovalPolicy::Allow,
            // Ask only when somebody is at the terminal.
            Some(Approve::Ask) | None if std::io::stdin().is_terminal() => ApprovalPolicy::Ask,
            Some(Approve::Ask) | None => ApprovalPolicy::Deny,
        },
        end_after_turn: true,
        question_dir,
        worktree_root: Some(args.worktree_root.clone()),
        worktree_setup: args.worktree_setup.clone(),
        ..Settings::default()
    });
    let mut driver = Driver::new(state, recorder, runtime);
    let color =
        !args.json && std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut out = Output {
        json: args.json,
        printer: Printer::new(color),
        skip_questions: false,
        pending: String::new(),
    };
    let mut lines = (driver.state().settings.approval == ApprovalPolicy::Ask).then(terminal_lines);
    // The prompt at the terminal shows the question in full.
    out.skip_questions = lines.is_some();
    let mut asker: Option<Asker> = None;
    // Ctrl-C, SIGTERM (`timeout`, a CI cancel) and SIGHUP (the terminal
    // closed) all stop the task the same way; the exit code is 128+signal.
    let mut stops = match StopSignals::new() {
        Ok(stops) => stops,
        Err(err) => {
            eprintln!("corral: cannot watch for signals: {err}");
            return 1;
        }
    };
    let mut interrupted: Option<i32> = None;
    let (task, first) = driver.launch(now_ms(), spec);
    if let Some(id) = driver.state().task(task).and_then(|t| t.short_id.clone()) {
        tracing::info!(task = id, "corral run started");
        if !args.json && std::io::stderr().is_terminal() {
            tell(&format!("corral: task {id} (see `corral logs {id}`)\n"));
        }
    }
    let mut published = Some(first.published);
    let mut next: Option<Event> = None;
    loop {
        if let Some(event) = next.take() {
            published = Some(driver.step(now_ms(), event).published);
        }
        if let Some(published) = published.take() {
            for (_, ev) in published {
                out.emit(&ev);
                if let AgentEvent::Finished(f) = &ev {
                    out.flush();
                    if let Some(recorder) = driver.recorder() {
                        recorder.flush();
                    }
                    if let Some(t) = driver.state().task(task)
                        && let Some(wt) = &t.worktree
                    {
                        tell(&worktree_hint(wt, t.short_id.as_deref()));
                    }
                    return match (interrupted, f.status) {
                        (Some(signal), _) => 128 + signal,
                        (None, FinishStatus::Succeeded) => 0,
                        (None, _) => 1,
                    };
                }
            }
            // A step's events (one read of the agent) reach stdout at once.
            out.flush();
            let pending = driver
                .state()
                .task(task)
                .and_then(|t| t.pending_question.clone());
            match pending {
                Some(q) if lines.is_some() => {
                    if asker.as_ref().is_none_or(|a| a.question_id() != q.id) {
                        let new = Asker::new(q);
                        tell(&new.prompt());
                        asker = Some(new);
                    }
                }
                _ => asker = None,
            }
        }
        let line = async {
            match lines.as_mut() {
                Some(rx) => rx.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            received = rx.recv() => match received {
                Some(event) => next = Some(event),
                None => return 1,
            },
            typed = line => {
                match (typed, asker.as_mut()) {
                    (None, _) => lines = None,
                    (Some(_), None) => {}
                    (Some(text), Some(a)) => match a.feed(&text) {
                        Err(complaint) => tell(&format!("  {complaint}\n{}", a.prompt())),
                        Ok(None) => tell(&a.prompt()),
                        Ok(Some(Decision::AllowAlways)) => {
                            asker = None;
                            next = Some(Event::Command(Command::AllowAlways { task }));
                        }
                        Ok(Some(Decision::Answer(answer))) => {
                            asker = None;
                            next = Some(Event::Command(Command::Answer { task, answer }));
                        }
                    },
                }
            }
            signal = stops.next() => {
                if let Some(first) = interrupted {
                    driver.executor.kill_all_blocking();
                    if let Some(recorder) = driver.recorder() {
                        recorder.flush();
                    }
                    return 128 + first;
                }
                tracing::info!(signal, "stopping the task on a signal");
                interrupted = Some(signal);
                next = Some(Event::Command(Command::Kill { task }));
            }
        }
    }
}

/// The signals that stop a run: SIGINT, SIGTERM and SIGHUP.
struct StopSignals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl StopSignals {
    fn new() -> std::io::Result<StopSignals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(StopSignals {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    /// The number of the next stop signal received.
    async fn next(&mut self) -> i32 {
        tokio::select! {
            _ = self.int.recv() => libc::SIGINT,
            _ = self.term.recv() => libc::SIGTERM,
            _ = self.hup.recv() => libc::SIGHUP,
        }
    }
}

/// What to do next with a finished task's worktree (on stderr).
fn worktree_hint(wt: &crate::worktree::Worktree, id: Option<&str>) -> String {
    let mut text = format!(
        "corral: the work is in {} on branch {}\n",
        wt.path.display(),
        wt.branch
    );
    if let Some(id) = id {
        text.push_str(&format!(
            "corral: review it with `corral diff {id}`, then `corral merge {id}` into {} or `corral discard {id}`\n",
            wt.base_branch
        ));
    }
    text
}

/// Lines typed at the terminal, read on a thread of their own.
fn terminal_lines() -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel(16);
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { break };
            if tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Shows a prompt on the terminal (stderr, so `--json` stdout stays clean).
fn tell(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
    let _ = err.flush();
}

/// Where a headless run's events go.
struct Output {
    json: bool,
    printer: Printer,
    /// Leave questions out of the readable transcript (they are asked).
    skip_questions: bool,
    /// What the current step printed, written by [`Output::flush`].
    pending: String,
}

impl Output {
    /// Words `event` for stdout; it is written at the step's end.
    fn emit(&mut self, event: &AgentEvent) {
        if self.skip_questions && !self.json && matches!(event, AgentEvent::Question(_)) {
            return;
        }
        if self.json {
            if let Ok(line) = serde_json::to_string(event) {
                self.pending
                    .push_str(&crate::agent::sanitize::escape_json_output(line));
                self.pending.push('\n');
            }
        } else {
            self.pending.push_str(&self.printer.render(event));
        }
    }

    /// Writes what the step printed with one write and one flush.
    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let mut stdout = std::io::stdout().lock();
        // A closed stdout (`| head`) must not panic; the run goes on.
        let _ = stdout.write_all(self.pending.as_bytes());
        let _ = stdout.flush();
        self.pending.clear();
    }
}
