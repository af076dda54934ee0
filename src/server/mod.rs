//! The corral server: one process per user and data directory that owns
//! the runtime, the core (through a [`Driver`]), the store and every agent,
//! so agents outlive the terminal that started them. Front ends are its
//! clients over a private Unix socket ([`protocol`]).
//!
//! `place` says where it lives and who may connect, `serve` is its loop,
//! `client` connects (starting a server on demand), `commands` are the
//! command-line front ends that talk to it. This module starts and ends
//! the server process; it never runs without its lock, and every agent is
//! dead when [`run_foreground`] returns.

pub mod attach;
pub mod bridge;
pub mod client;
mod clients;
pub mod commands;
pub mod hosts;
pub mod place;
pub mod protocol;
pub mod serve;
pub mod transport;

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use crate::core::State;
use crate::driver::Driver;
use crate::runtime::{KillWaits, Runtime, RuntimeConfig};
use crate::store::TaskRecord;
use place::Place;
use serve::Server;

pub use clients::wire_id;

/// Exit code when another server already serves this data directory.
pub const EXIT_ALREADY_RUNNING: i32 = 3;

/// Capacity of the runtime's event channel.
const EVENT_CHANNEL: usize = 1024;

/// The line a server prints on stdout once clients can connect; a client
/// that started it waits for it.
pub const READY_PREFIX: &str = "corral server listening on ";

/// Runs the server in this process until it is stopped, signalled or idle
/// (`idle_override_ms`, else the config's `server_idle_timeout`; 0: never).
/// Returns the exit code.
pub fn run_foreground(config_file: Option<&Path>, idle_override_ms: Option<u64>) -> i32 {
    let Some((paths, config)) = crate::config::session(config_file) else {
        return 2;
    };
    let place = Place::of(&paths);
    let _log = crate::logging::init(&place.log).ok();
    let lock = match place::try_lock(&place) {
        Ok(Some(lock)) => lock,
        Ok(None) => {
            let pid = place::holder(&place)
                .map(|p| format!(" (pid {p})"))
                .unwrap_or_default();
            eprintln!("corral: a server already runs for this data directory{pid}");
            return EXIT_ALREADY_RUNNING;
        }
        Err(err) => {
            eprintln!("corral: cannot take {}: {err}", place.lock.display());
            return 1;
        }
    };
    let listener = match place::bind(&place).and_then(|l| {
        l.set_nonblocking(true)?;
        Ok(l)
    }) {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("corral: cannot listen on {}: {err}", place.socket.display());
            return 1;
        }
    };
    let idle_ms = idle_override_ms.unwrap_or(config.defaults.server_idle_timeout_ms);
    let idle = (idle_ms > 0).then(|| Duration::from_millis(idle_ms));
    let Some(rt) = crate::runtime::start_async() else {
        return 1;
    };
    let (mut recorder, store, notes, stored) = crate::tui::open_recorder(&paths);
    for note in notes {
        tracing::warn!("{note}");
    }
    let questions = crate::questions::create();
    let runtime_config = RuntimeConfig {
        kill_waits: KillWaits::with_grace(config.defaults.kill_grace_ms),
        raw_output: true,
        ..RuntimeConfig::default()
    };
    let socket = place.socket.clone();
    let result = rt.block_on(async {
        let listener = tokio::net::UnixListener::from_std(listener)?;
        let (tx, rx) = tokio::sync::mpsc::channel(EVENT_CHANNEL);
        let mut runtime = Runtime::new(tx, runtime_config);
        if let Some(recorder) = &recorder {
            runtime.set_observer(recorder.observer());
        }
        let state = State::new(crate::tui::configured_settings(
            &config,
            &paths,
            questions.clone(),
        ));
        let mut driver = Driver::new(state, recorder.take(), runtime);
        // What the cockpit adopts at its start, the server adopts at its.
        if let Some(store) = &store {
            // As the store's recovery listed them (read once, oldest first).
            let records = stored;
            let ours = |r: &&TaskRecord| {
                !r.archived && (r.status.is_final() || !store.owned_elsewhere(&r.id))
            };
            // From the records alone: a task's events are read when a
            // client opens it (`open`, or a command's `focus`).
            for record in records.iter().filter(ours) {
                driver.adopt(crate::headless::now_ms(), record, Some(&config));
            }
        }
        let mut server = Server::new(driver, rx, idle, config.defaults.notifications);
        tracing::info!(socket = %socket.display(), pid = std::process::id(), "server listening");
        let mut out = std::io::stdout();
        let _ = writeln!(
            out,
            "{READY_PREFIX}{} (pid {})",
            socket.display(),
            std::process::id()
        );
        let _ = out.flush();
        server.run(listener).await
    });
    // Still under the lock: the socket is ours to remove.
    let _ = std::fs::remove_file(&place.socket);
    if let Some(dir) = questions {
        crate::questions::remove(&dir);
    }
    drop(lock);
    match result {
        Ok(ending) => {
            tracing::info!(?ending, "server stopped");
            0
        }
        Err(err) => {
            eprintln!("corral: the server failed: {err}");
            1
        }
    }
}
