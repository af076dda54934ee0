//! The cockpit: a full-screen terminal UI over the core and the runtime.
//!
//! `terminal` owns the terminal modes and the panic hook, `event_loop`
//! steps the one driver and draws, `app` holds UI state (its modes in the
//! `app_*` files), `keymap` and `bindings` map keys to actions (pure),
//! `view` draws (pure), `deadline` says when the clock changes the screen,
//! `lines`/`wrap` turn transcripts into screen lines that `line_cache`
//! keeps, `raw_view` emulates agents' terminals, `form` and `launch` build
//! new tasks. Runs no git on its thread: a worktree review is an effect
//! the runtime carries out (only the review's `s` shell takes the terminal
//! over, on purpose, until it exits). Never writes agent
//! bytes to the terminal: everything shown is sanitized text or a VT
//! emulation of it.

pub mod answer;
pub mod app;
pub mod attention;
pub mod bindings;
pub mod deadline;
pub mod elsewhere;
pub mod event_loop;
pub mod form;
pub mod host_link;
pub mod keymap;
pub mod launch;
pub mod layout;
pub mod line_cache;
pub mod lines;
pub mod raw_view;
pub mod remote;
pub mod subagents;
pub mod terminal;
pub mod theme;
pub mod tool_view;
pub mod view;
pub mod wrap;

use crate::agent::AgentKind;
use crate::cli::{AgentArgs, CockpitArgs};
use crate::config::Config;
use crate::core::{ApprovalPolicy, Settings, State};
use crate::driver::Driver;
use crate::logging;
use crate::paths::Paths;
use crate::runtime::{KillWaits, Runtime, RuntimeConfig};
use crate::server::hosts as server_hosts;
use crate::store::{Store, TaskRecord};
use app::App;
use event_loop::{Cockpit, run_loop};
use std::path::{Path, PathBuf};
use theme::Theme;

/// Capacity of the runtime's event channel.
const EVENT_CHANNEL: usize = 1024;
/// Capacity of the host links' note channel.
const NOTE_CHANNEL: usize = 256;

/// The settings of a cockpit session: questions block the task until the
/// user answers; a claude session stays open after its turn, so a
/// follow-up continues it live.
pub fn settings() -> Settings {
    Settings {
        approval: ApprovalPolicy::Ask,
        end_after_turn: false,
        ..Settings::default()
    }
}

/// The cockpit's settings with the config's concurrency limits and a
/// private directory for question files.
pub fn configured_settings(
    config: &Config,
    paths: &Paths,
    question_dir: Option<PathBuf>,
) -> Settings {
    let d = &config.defaults;
    Settings {
        worktree_root: Some(d.worktree_root_or(&paths.data_dir)),
        worktree_setup: d.worktree_setup.clone(),
        concurrency: Some(d.concurrency.max(1)),
        per_agent_concurrency: d
            .concurrency_per_agent
            .iter()
            .filter_map(|(kind, n)| AgentKind::from_name(kind).map(|k| (k, *n)))
            .collect(),
        question_dir,
        idle_close_ms: Some(d.idle_session_close_ms).filter(|ms| *ms > 0),
        ..settings()
    }
}

/// Opens the task store, cleans up after corrals that died, and starts
/// recording ([`crate::store::open_recording`]).
pub fn open_recorder(paths: &Paths) -> crate::store::Opened {
    crate::store::open_recording(&paths.tasks_dir())
}

/// Opens the cockpit; `defaults` are the agent flags of the command line,
/// `config_file` the global `--config`, `switches` the cockpit's own flags,
/// `hosts` and `no_local` the global `--host` and `--no-local` (with the
/// config's `[defaults] hosts`: the servers it attaches to). Returns the
/// process exit code. Every agent of this process is dead when it returns.
pub fn run(
    defaults: AgentArgs,
    config_file: Option<&Path>,
    switches: &CockpitArgs,
    hosts: &[String],
    no_local: bool,
) -> i32 {
    let Some((paths, config)) = crate::config::session(config_file) else {
        return 2;
    };
    let bindings = match bindings::Bindings::from_config(&config.defaults.keybindings) {
        Ok(b) => b,
        Err(err) => {
            eprintln!("corral: {}: {err}", paths.config_file.display());
            return 2;
        }
    };
    // Logs go to a file, never to the terminal the cockpit draws on.
    let _log = logging::init(&paths.log_file()).ok();
    // The same profiles `corral run --agent` accepts, from the config.
    if let Some(agent) = &defaults.agent
        && let Err(err) = config.resolve(Some(agent))
    {
        eprintln!("corral: {err}");
        return 2;
    }
    // The servers to attach to: this machine's unless `--no-local`, and
    // every host named. `--local` runs the agents here, so it has none.
    let targets = if switches.local {
        if !hosts.is_empty() || no_local {
            eprintln!(
                "corral: `--local` runs the agents in this cockpit; `--host` and `--no-local` need the servers"
            );
            return 2;
        }
        Vec::new()
    } else {
        match server_hosts::targets(&config, hosts, no_local, true) {
            Ok(targets) => targets,
            Err(err) => {
                eprintln!("corral: {err:#}");
                return 2;
            }
        }
    };
    let cwd = match std::env::current_dir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("corral: cannot read the current directory: {e}");
            return 1;
        }
    };
    let Some(rt) = crate::runtime::start_async() else {
        return 1;
    };
    // The cockpit as a client: the server runs the agents (started here
    // when none runs), before the terminal is taken so errors print plainly.
    // Other hosts are reached after, each on a thread of its own: one that
    // is slow or down never holds the cockpit up.
    let server = if targets.contains(&server_hosts::Target::Local) {
        // Summaries only: a task's transcript comes when it is opened.
        match crate::server::client::connect_or_start(&paths, config_file, 0, None) {
            Ok(conn) => Some(conn),
            Err(err) => {
                eprintln!("corral: {err:#}");
                return 1;
            }
        }
    } else {
        None
    };
    let mut theme = Theme::from_no_color(std::env::var("NO_COLOR").ok().as_deref());
    if config.defaults.theme == Some(crate::config::ThemeName::Mono) {
        theme.color = false;
    }
    terminal::install_panic_hook();
    let mut term = match terminal::enter() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("corral: cannot set up the terminal: {e}");
            return 1;
        }
    };
    let size = term.size().unwrap_or_default();
    let runtime_config = RuntimeConfig {
        kill_waits: KillWaits::with_grace(config.defaults.kill_grace_ms),
        // The raw view (r) shows every agent's terminal output.
        raw_output: true,
        ..RuntimeConfig::default()
    };
    let detach = !switches.local;
    let (mut recorder, store, notes, stored) = match detach {
        true => (None, None, Vec::new(), Vec::new()),
        false => open_recorder(&paths),
    };
    let questions = (!detach).then(crate::questions::create).flatten();
    let host_names: Vec<String> = targets.iter().map(|t| t.name().to_string()).collect();
    let result = rt.block_on(async {
        let (tx, rx) = tokio::sync::mpsc::channel(EVENT_CHANNEL);
        let state = State::new(configured_settings(&config, &paths, questions.clone()));
        let mut link_notes = None;
        let mut server_pid = None;
        let mut driver = match detach {
            true => {
                let (notes_tx, notes_rx) = tokio::sync::mpsc::channel(NOTE_CHANNEL);
                link_notes = Some(notes_rx);
                let remote = remote::Remote::new(host_names.clone());
                let mut driver = Driver::new(state, None, remote::Backend::Server(remote));
                let mut server = server;
                for (index, target) in targets.iter().enumerate() {
                    match target {
                        server_hosts::Target::Local => {
                            let Some(conn) = server.take() else { continue };
                            server_pid = Some(conn.welcome.pid);
                            attach_local(&mut driver, index, conn, tx.clone(), notes_tx.clone())?;
                        }
                        server_hosts::Target::Remote(host) => {
                            driver.step(
                                event_loop::now_ms(),
                                crate::core::Event::Mirror(Box::new(crate::core::Mirror {
                                    host: Some(host.name.clone()),
                                    link: Some(crate::core::LinkStatus::Connecting),
                                    ..Default::default()
                                })),
                            );
                            host_link::spawn_remote(
                                index,
                                host.clone(),
                                0,
                                tx.clone(),
                                notes_tx.clone(),
                            )?;
                        }
                    }
                }
                drop(tx);
                driver
            }
            false => {
                let mut runtime = Runtime::new(tx, runtime_config);
                if let Some(recorder) = &recorder {
                    runtime.set_observer(recorder.observer());
                }
                Driver::new(state, recorder.take(), remote::Backend::Local(runtime))
            }
        };
        // Tasks from earlier sessions and from `corral run` come back,
        // unfinished ones of dead corrals as interrupted; archived ones stay
        // on disk. A task another live corral runs is theirs: never adopted.
        if let Some(store) = &store {
            // As the store's recovery listed them (read once, oldest first).
            let ours = |r: &&TaskRecord| {
                !r.archived && (r.status.is_final() || !store.owned_elsewhere(&r.id))
            };
            for record in stored.iter().filter(ours) {
                driver.adopt(event_loop::now_ms(), record, Some(&config));
            }
        }
        let mut form = launch::form_defaults(&defaults, &config, &cwd);
        form.hosts = host_names.clone();
        // Tasks other corrals run show below ours, read-only.
        let elsewhere = match Store::open(&paths.tasks_dir()) {
            Ok(store) => {
                let (tx, rx) = tokio::sync::mpsc::channel(4);
                let ours = std::iter::once(std::process::id())
                    .chain(server_pid)
                    .map(|pid| pid as i32)
                    .collect();
                elsewhere::watch(store, ours, tx);
                Some(rx)
            }
            Err(_) => None,
        };
        let app = App::new(
            theme,
            ratatui::layout::Rect::new(0, 0, size.width, size.height),
            form,
            runtime_config.pty_size,
        );
        let mut cockpit = Cockpit {
            driver,
            app,
            events: rx,
            notes: link_notes,
            pending_launch: None,
            pending_select: None,
            gone: None,
            elsewhere,
            args: defaults,
            bindings,
            attention: {
                let bell = config.defaults.bell && !switches.no_bell;
                let notify = config.defaults.notifications && !switches.no_notify;
                let mut a = attention::Attention::new(bell, notify);
                // A client of the server leaves D-Bus to the server, which
                // notifies whether or not a cockpit is attached (one
                // notification, not one per cockpit); the bell and OSC 9/777
                // still come from here.
                a.dbus = notify
                    && !detach
                    && attention::session_bus_exists(
                        std::env::var("DBUS_SESSION_BUS_ADDRESS").ok().as_deref(),
                    );
                a
            },
            config,
        };
        if !notes.is_empty() {
            cockpit.app.notice = Some(notes.join("; "));
        }
        if host_names.len() > 1 {
            cockpit.app.notice = Some(format!(
                "agents run in the corral servers of {}: q detaches, Q stops them all",
                host_names.join(", ")
            ));
        } else if let Some(pid) = server_pid {
            cockpit.app.notice = Some(format!(
                "agents run in the corral server (pid {pid}): q detaches, Q stops them all"
            ));
        }
        cockpit.app.detach = detach;
        let result = run_loop(&mut cockpit, &mut term).await;
        if detach {
            // The server's agents go on; only the link ends.
            let live = App::live_count(cockpit.state());
            return result.map(|()| (cockpit.gone.take(), live));
        }
        // Whatever ended the loop, no agent outlives the cockpit.
        tokio::task::block_in_place(|| cockpit.driver.executor.kill_all_blocking());
        terminal::set_live_groups(Vec::new());
        // The kills' last events go to the store too.
        cockpit.drain();
        if let Some(recorder) = cockpit.driver.recorder() {
            recorder.flush();
        }
        result.map(|()| (None, 0))
    });
    terminal::restore();
    if let Some(dir) = questions {
        crate::questions::remove(&dir);
    }
    match result {
        Ok((Some(gone), _)) => {
            eprintln!("corral: {gone}");
            1
        }
        Ok((None, live)) if detach && live > 0 => {
            eprintln!(
                "corral: detached; {live} task(s) go on in the corral server (`corral` shows them again)"
            );
            0
        }
        Ok(_) => 0,
        Err(e) => {
            eprintln!("corral: terminal error: {e}");
            1
        }
    }
}

/// Mirrors this machine's server from `conn` (its snapshot now, its
/// changes from a reader thread) as host `index` of the cockpit (public
/// for the server benchmark, which attaches cockpits the same way).
pub fn attach_local(
    driver: &mut Driver<remote::Backend>,
    index: usize,
    mut conn: crate::server::client::Connection,
    events: tokio::sync::mpsc::Sender<crate::core::Event>,
    notes: tokio::sync::mpsc::Sender<remote::Note>,
) -> std::io::Result<()> {
    let mut ids = std::collections::HashMap::new();
    let tasks = std::mem::take(&mut conn.welcome.tasks);
    let offset = conn.welcome.clock_offset_ms();
    let first = host_link::snapshot(crate::config::LOCAL_HOST, tasks, offset, &mut ids);
    driver.step(
        event_loop::now_ms(),
        crate::core::Event::Mirror(Box::new(first)),
    );
    conn.set_write_timeout(Some(remote::WRITE_TIMEOUT))?;
    let (reader, writer, next_seq) = conn.into_parts();
    if let Some(remote) = driver.executor.remote() {
        remote.linked(index, writer, next_seq);
    }
    match reader {
        Some(reader) => host_link::spawn_local(index, reader, ids, events, notes),
        None => Ok(()),
    }
}
