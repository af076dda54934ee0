//! The cockpit: a full-screen terminal UI over the core and the runtime.
//!
//! `terminal` owns the terminal modes and the panic hook, `event_loop`
//! drives everything, `app` holds UI state, `keymap` maps keys to actions
//! (pure), `view` draws (pure), `lines`/`wrap` turn transcripts into cached
//! screen lines, `form` and `launch` build new tasks. Never writes agent
//! bytes to the terminal: everything shown is sanitized text or a VT
//! emulation of it.

pub mod app;
pub mod event_loop;
pub mod form;
pub mod keymap;
pub mod launch;
pub mod layout;
pub mod lines;
pub mod terminal;
pub mod theme;
pub mod view;
pub mod wrap;

use crate::agent::AgentKind;
use crate::cli::AgentArgs;
use crate::core::{ApprovalPolicy, Settings, State};
use crate::runtime::{Runtime, RuntimeConfig};
use app::App;
use event_loop::{Cockpit, run_loop};
use theme::Theme;

/// Capacity of the runtime's event channel.
const EVENT_CHANNEL: usize = 1024;

/// The settings of a cockpit session: questions block the task until the
/// user answers; a task's session ends after its first turn (follow-ups
/// come later).
pub fn settings() -> Settings {
    Settings {
        approval: ApprovalPolicy::Ask,
        end_after_turn: true,
        ..Settings::default()
    }
}

/// Opens the cockpit; `defaults` are the agent flags of the command line.
/// Returns the process exit code. Every agent is dead when it returns.
pub fn run(defaults: AgentArgs) -> i32 {
    if let Some(agent) = &defaults.agent
        && AgentKind::from_name(agent).is_none()
    {
        eprintln!("corral: unknown agent `{agent}`");
        return 2;
    }
    let cwd = match std::env::current_dir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("corral: cannot read the current directory: {e}");
            return 1;
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("corral: cannot start the async runtime: {e}");
            return 1;
        }
    };
    let theme = Theme::from_no_color(std::env::var("NO_COLOR").ok().as_deref());
    terminal::install_panic_hook();
    let mut term = match terminal::enter() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("corral: cannot set up the terminal: {e}");
            return 1;
        }
    };
    let size = term.size().unwrap_or_default();
    let config = RuntimeConfig::default();
    let result = rt.block_on(async {
        let (tx, rx) = tokio::sync::mpsc::channel(EVENT_CHANNEL);
        let runtime = Runtime::new(tx, config);
        let app = App::new(
            theme,
            ratatui::layout::Rect::new(0, 0, size.width, size.height),
            launch::form_defaults(&defaults, &cwd),
            config.pty_size,
        );
        let mut cockpit = Cockpit {
            state: State::new(settings()),
            app,
            runtime,
            events: rx,
            args: defaults,
        };
        let result = run_loop(&mut cockpit, &mut term).await;
        // Whatever ended the loop, no agent outlives the cockpit.
        tokio::task::block_in_place(|| cockpit.runtime.kill_all_blocking());
        terminal::set_live_groups(Vec::new());
        result
    });
    terminal::restore();
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("corral: terminal error: {e}");
            1
        }
    }
}
