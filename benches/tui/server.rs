//! The server scenario of the cockpit benchmark: a real `corral server`
//! (this build's binary, in a temporary home) runs N fake agents streaming
//! at full speed, and two cockpits attached to it over its socket (each on
//! its own thread with its own async runtime, as two `corral` processes
//! would be) mirror everything and draw the grid, with the real loop's
//! frame coalescing. The first cockpit launches the agents; the second only
//! watches. Reports, per cockpit, frames and frame time p50/p99 (wall clock
//! and the drawing thread's CPU), the batches of the server's changes it
//! applied (one `changed` line each), and the server's CPU time and peak
//! RSS.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Proc, Stdio};
use std::time::{Duration, Instant};

use corral::config::Config;
use corral::core::State;
use corral::driver::Driver;
use corral::paths::Paths;
use corral::server::client;
use corral::server::place::Place;
use corral::tui::app::App;
use corral::tui::event_loop::Cockpit;
use corral::tui::keymap::Action;
use corral::tui::remote::{self, Backend};
use corral::tui::theme::Theme;
use corral::tui::{launch, settings, view};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;

use super::{FRAME, percentile, thread_cpu};

/// What one cockpit measured.
struct Seen {
    frames: Vec<Duration>,
    frame_cpu: Vec<Duration>,
    events: u64,
}

/// The server process, killed with its agents when dropped.
struct Server {
    child: Child,
    env: Vec<(String, PathBuf)>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Proc::new(env!("CARGO_BIN_EXE_corral"))
            .args(["server", "stop", "--kill"])
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_os_str())))
            .output();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `(utime + stime, peak RSS kB)` of process `pid`.
fn proc_cpu_and_hwm(pid: u32) -> (Duration, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let tick = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<f64>().ok())
        .sum();
    let hwm = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    (Duration::from_secs_f64(ticks / tick), hwm)
}

/// One cockpit attached to the server at `place`: draws the grid until it
/// has seen `n` tasks and all of them ended. `launcher` launches them.
fn cockpit(place: &Place, n: usize, deltas: usize, launcher: bool) -> Seen {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let agent = root.join("tests/fixtures/agents/tui_flood.py");
    let cli = <corral::cli::Cli as clap::Parser>::try_parse_from([
        "corral".to_string(),
        "--agent-bin".into(),
        agent.to_string_lossy().into_owned(),
        "--agent-arg".into(),
        deltas.to_string(),
    ])
    .expect("bench flags");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio");
    let (w, h) = (160, 48);
    // As the cockpit: summaries, transcripts opened on demand.
    let conn = client::connect(place, 0, None).expect("the server answers");
    rt.block_on(async {
        let (tx, rx) = tokio::sync::mpsc::channel(1024);
        let (notes_tx, notes_rx) = tokio::sync::mpsc::channel(64);
        let link = remote::Remote::new(vec![corral::config::LOCAL_HOST.to_string()]);
        let mut driver = Driver::new(State::new(settings()), None, Backend::Server(link));
        corral::tui::attach_local(&mut driver, 0, conn, tx, notes_tx).expect("link");
        let config = Config::default();
        let defaults = launch::form_defaults(&cli.tui, &config, root);
        let mut c = Cockpit {
            driver,
            app: App::new(
                Theme { color: true },
                Rect::new(0, 0, w, h),
                defaults,
                (24, 80),
            ),
            events: rx,
            notes: Some(notes_rx),
            pending_launch: None,
            pending_select: None,
            elsewhere: None,
            gone: None,
            args: cli.tui.clone(),
            config,
            bindings: Default::default(),
            attention: corral::tui::attention::Attention::new(false, false),
        };
        c.app.detach = true;
        if launcher {
            c.intents(super::flood_launches(n, root));
        }
        let intents = c.app.handle(Action::ToggleGrid, c.driver.state());
        c.intents(intents);
        let mut term = Terminal::new(TestBackend::new(w, h)).expect("terminal");
        let mut seen = Seen {
            frames: Vec::new(),
            frame_cpu: Vec::new(),
            events: 0,
        };
        let mut last = Instant::now() - FRAME;
        let mut dirty = true;
        let give_up = Instant::now() + Duration::from_secs(600);
        loop {
            if dirty && last.elapsed() >= FRAME {
                let t = Instant::now();
                let cpu = thread_cpu();
                c.app.now_ms = corral::tui::event_loop::now_ms();
                c.app.sync(c.driver.state());
                let (app, state) = (&mut c.app, c.driver.state());
                term.draw(|f| view::draw(app, state, f.area(), f.buffer_mut()))
                    .expect("draw");
                seen.frames.push(t.elapsed());
                seen.frame_cpu.push(thread_cpu().saturating_sub(cpu));
                last = t;
                dirty = false;
            }
            let state = c.driver.state();
            if (state.tasks.len() >= n && !App::any_live(state))
                || c.gone.is_some()
                || Instant::now() > give_up
            {
                break;
            }
            let wait = if dirty {
                FRAME.saturating_sub(last.elapsed())
            } else {
                Duration::from_secs(1)
            };
            let notes = c.notes.as_mut().expect("notes");
            tokio::select! {
                Some(ev) = c.events.recv() => {
                    c.apply(ev);
                    seen.events += 1 + c.drain() as u64;
                    dirty = true;
                }
                Some(note) = notes.recv() => c.note(note),
                _ = tokio::time::sleep(wait) => {}
            }
        }
        if let Some(gone) = &c.gone {
            eprintln!("cockpit: {gone}");
        }
        seen
    })
}

/// One run: the server, `n` agents, two cockpits; prints one result line
/// per cockpit (tab-separated) and one for the server.
pub fn run(n: usize, deltas: usize) {
    let home = tempfile::tempdir().expect("a temporary home");
    let env: Vec<(String, PathBuf)> = [
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_STATE_HOME", "state"),
        ("XDG_RUNTIME_DIR", "run"),
    ]
    .iter()
    .map(|(k, d)| (k.to_string(), home.path().join(d)))
    .collect();
    std::fs::create_dir_all(home.path().join("config/corral")).expect("config dir");
    std::fs::create_dir_all(home.path().join("run")).expect("run dir");
    std::fs::write(
        home.path().join("config/corral/config.toml"),
        "[defaults]\nconcurrency = 1000\nnotifications = false\n",
    )
    .expect("config");
    let mut child = Proc::new(env!("CARGO_BIN_EXE_corral"))
        .arg("server")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_os_str())))
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the server");
    let mut ready = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut ready)
        .expect("the server's first line");
    let server = Server { child, env };
    assert!(ready.starts_with("corral server listening"), "{ready}");
    let lookup = |name: &str| {
        server
            .env
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone().into_os_string())
    };
    let paths = Paths::from_env(lookup, None).expect("paths");
    let place = Place::from_env(&paths, lookup("XDG_RUNTIME_DIR"));
    let (cpu0, _) = proc_cpu_and_hwm(server.child.id());
    let started = Instant::now();
    let watcher = {
        let place = place.clone();
        std::thread::spawn(move || cockpit(&place, n, deltas, false))
    };
    let launcher = cockpit(&place, n, deltas, true);
    let watcher = watcher.join().expect("the second cockpit");
    let wall = started.elapsed();
    let (cpu1, hwm) = proc_cpu_and_hwm(server.child.id());
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    for (name, seen) in [("launcher", launcher), ("watcher", watcher)] {
        let mut sorted = seen.frames.clone();
        sorted.sort();
        let mut sorted_cpu = seen.frame_cpu.clone();
        sorted_cpu.sort();
        println!(
            "{n}\t{name}\t{}\t{:.2}\t{:.2}\t{:.2}\t{:.2}\t{}",
            seen.frames.len(),
            ms(percentile(&sorted, 0.5)),
            ms(percentile(&sorted, 0.99)),
            ms(percentile(&sorted_cpu, 0.5)),
            ms(percentile(&sorted_cpu, 0.99)),
            seen.events,
        );
    }
    println!(
        "{n}\tserver\t{:.2}\t{:.2}\t{:.1}",
        wall.as_secs_f64(),
        (cpu1.saturating_sub(cpu0)).as_secs_f64(),
        hwm as f64 / 1024.0
    );
    drop(server);
}
