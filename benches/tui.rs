//! Cockpit benchmark: N fake agents streaming claude stream-json at full
//! speed through the real cockpit loop step (`Cockpit::apply`/`drain`: the
//! one driver, `update`, the store recorder writing a temporary store, the
//! runtime) and the real view code, drawn into a 160x48 `TestBackend` with
//! the same frame coalescing as the real loop (at most one frame per 16 ms,
//! queued events applied in the loop's batches).
//!
//! Reports, per N: frames, frame time p50/p99 (view + buffer diff; wall
//! clock, then the drawing thread's own CPU time, which leaves out time the
//! fake agents took the cores away), events
//! applied, wall time, CPU time of corral's process (getrusage: runtime
//! threads, parsing, update, drawing; not the fake agents) and peak RSS.
//! Each N runs in a fresh child process so peak RSS is its own.
//!
//! Run: `cargo bench --bench tui` (or `scripts/bench`); `-- 1 16` picks
//! the N values; `CORRAL_BENCH_DELTAS` sets text deltas per agent.
//! `-- server 64` runs the agents in a real corral server with two
//! cockpits attached instead (see `tui/server.rs`).

use std::path::Path;
use std::process::Command as Proc;
use std::time::{Duration, Instant};

use clap::Parser;
use corral::cli::Cli;
use corral::core::State;
use corral::driver::Driver;
use corral::runtime::{Runtime, RuntimeConfig};
use corral::store::{Recorder, Store};
use corral::tui::app::{App, Intent};
use corral::tui::event_loop::Cockpit;
use corral::tui::form::FormOutput;
use corral::tui::keymap::Action;
use corral::tui::theme::Theme;
use corral::tui::{launch, settings, view};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;

#[path = "tui/server.rs"]
mod server;

const FRAME: Duration = Duration::from_millis(16);

/// The form's launch of `n` flooding claude tasks in `root` ("flood 0"...).
fn flood_launches(n: usize, root: &Path) -> Vec<Intent> {
    (0..n)
        .map(|i| {
            Intent::Launch(FormOutput {
                agent: "claude".into(),
                prompt: format!("flood {i}"),
                cwd: root.to_path_buf(),
                model: None,
                permission_mode: None,
                worktree: false,
                host: None,
            })
        })
        .collect()
}

fn cpu_and_rss() -> (Duration, u64) {
    // SAFETY: getrusage only writes the struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    (tv(ru.ru_utime) + tv(ru.ru_stime), ru.ru_maxrss as u64)
}

/// CPU time of the calling thread (excludes time preempted by others).
fn thread_cpu() -> Duration {
    // SAFETY: clock_gettime only writes the struct it is given.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

/// One run with `n` agents; prints one tab-separated result line.
fn one(n: usize, deltas: usize, view_name: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let agent = root.join("tests/fixtures/agents/tui_flood.py");
    let cli = Cli::try_parse_from([
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
    let store_dir = tempfile::tempdir().expect("a temporary store");
    let start_cpu = cpu_and_rss().0;
    let started = Instant::now();
    let (frames, frame_cpu, events) = rt.block_on(async {
        let (tx, rx) = tokio::sync::mpsc::channel(1024);
        let config = RuntimeConfig::default();
        let mut runtime = Runtime::new(tx, config);
        let store = Store::open(&store_dir.path().join("tasks")).expect("store");
        let recorder = Recorder::start(store).expect("recorder");
        runtime.set_observer(recorder.observer());
        let defaults = launch::form_defaults(&cli.tui, &corral::config::Config::default(), root);
        let app = App::new(
            Theme { color: true },
            Rect::new(0, 0, w, h),
            defaults,
            config.pty_size,
        );
        let mut c = Cockpit {
            driver: Driver::new(
                State::new(settings()),
                Some(recorder),
                corral::tui::remote::Backend::Local(runtime),
            ),
            app,
            events: rx,
            notes: None,
            pending_launch: None,
            pending_select: None,
            gone: None,
            elsewhere: None,
            args: cli.tui.clone(),
            config: corral::config::Config::default(),
            bindings: Default::default(),
            attention: corral::tui::attention::Attention::new(false, false),
        };
        let mut term = Terminal::new(TestBackend::new(w, h)).expect("terminal");
        let now = || corral::tui::event_loop::now_ms();
        c.intents(flood_launches(n, root));
        if view_name == "grid" {
            let intents = c.app.handle(Action::ToggleGrid, c.driver.state());
            c.intents(intents);
        }
        let mut frames: Vec<Duration> = Vec::new();
        let mut frame_cpu: Vec<Duration> = Vec::new();
        let mut events = 0u64;
        let mut last = Instant::now() - FRAME;
        let mut dirty = true;
        loop {
            if dirty && last.elapsed() >= FRAME {
                let t = Instant::now();
                let cpu = thread_cpu();
                c.app.now_ms = now();
                c.app.sync(c.driver.state());
                let (app, state) = (&mut c.app, c.driver.state());
                term.draw(|f| view::draw(app, state, f.area(), f.buffer_mut()))
                    .expect("draw");
                frames.push(t.elapsed());
                frame_cpu.push(thread_cpu().saturating_sub(cpu));
                last = t;
                dirty = false;
            }
            if !App::any_live(c.driver.state()) {
                break;
            }
            let wait = if dirty {
                FRAME.saturating_sub(last.elapsed())
            } else {
                Duration::from_secs(30)
            };
            tokio::select! {
                Some(ev) = c.events.recv() => {
                    // As the real loop: one event, one batch, then input
                    // and the frame get their turn.
                    c.apply(ev);
                    events += 1 + c.drain() as u64;
                    dirty = true;
                }
                _ = tokio::time::sleep(wait) => {}
            }
        }
        if let Some(recorder) = c.driver.recorder() {
            recorder.flush();
        }
        let runtime = &mut c.driver.executor;
        tokio::task::block_in_place(|| runtime.kill_all_blocking());
        (frames, frame_cpu, events)
    });
    let wall = started.elapsed();
    let (cpu, rss_kb) = cpu_and_rss();
    let cpu = cpu.saturating_sub(start_cpu);
    let mut sorted = frames.clone();
    sorted.sort();
    let mut sorted_cpu = frame_cpu.clone();
    sorted_cpu.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{n}\t{}\t{:.2}\t{:.2}\t{:.2}\t{:.2}\t{events}\t{:.2}\t{:.2}\t{:.1}",
        frames.len(),
        ms(percentile(&sorted, 0.5)),
        ms(percentile(&sorted, 0.99)),
        ms(percentile(&sorted_cpu, 0.5)),
        ms(percentile(&sorted_cpu, 0.99)),
        wall.as_secs_f64(),
        cpu.as_secs_f64(),
        rss_kb as f64 / 1024.0
    );
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this
    // without it, as a smoke test of the loop: small, and failing loudly.
    let measuring = std::env::args().any(|a| a == "--bench");
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let deltas: usize = std::env::var("CORRAL_BENCH_DELTAS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if measuring { 5_000 } else { 200 });
    let view_name = std::env::var("CORRAL_BENCH_VIEW").unwrap_or_else(|_| "grid".into());
    if args.first().map(String::as_str) == Some("--one") {
        let n = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1);
        one(n, deltas, &view_name);
        return;
    }
    if args.first().map(String::as_str) == Some("--server-one") {
        let n = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1);
        server::run(n, deltas);
        return;
    }
    let me = std::env::current_exe().expect("current exe");
    if args.first().map(String::as_str) == Some("server") {
        let ns: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
        let ns = if ns.is_empty() { vec![16, 64] } else { ns };
        server_table(&me, &ns, deltas, measuring);
        return;
    }
    let ns: Vec<usize> = {
        let v: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
        match (v.is_empty(), measuring) {
            (false, _) => v,
            (true, true) => vec![1, 16, 64],
            (true, false) => vec![1, 4],
        }
    };
    println!(
        "corral cockpit bench: {deltas} text deltas (+ a tool call and result every 40) per agent, {view_name} view, 160x48"
    );
    println!(
        "{:>4} {:>7} {:>8} {:>8} {:>9} {:>9} {:>8} {:>7} {:>7} {:>8}",
        "N",
        "frames",
        "p50 ms",
        "p99 ms",
        "p50 cpu",
        "p99 cpu",
        "events",
        "wall s",
        "cpu s",
        "rss MiB"
    );
    for n in ns {
        let out = Proc::new(&me)
            .args(["--one", &n.to_string()])
            .output()
            .expect("run bench child");
        let line = String::from_utf8_lossy(&out.stdout);
        let f: Vec<&str> = line.trim().split('\t').collect();
        if f.len() != 10 {
            eprintln!(
                "N={n}: bench run failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            if !measuring {
                std::process::exit(1);
            }
            continue;
        }
        println!(
            "{:>4} {:>7} {:>8} {:>8} {:>9} {:>9} {:>8} {:>7} {:>7} {:>8}",
            f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9]
        );
    }
    // The smoke run covers the server scenario too.
    if !measuring {
        server_table(&me, &[2], deltas, measuring);
    }
}

/// The server scenario for each of `ns` (see `tui/server.rs`), one child
/// process per N; prints a table.
fn server_table(me: &Path, ns: &[usize], deltas: usize, measuring: bool) {
    println!(
        "corral server bench: {deltas} text deltas (+ a tool call and result every 40) per agent, \
         a real server, two cockpits attached (grid view, 160x48)"
    );
    println!(
        "{:>4} {:>9} {:>7} {:>8} {:>8} {:>9} {:>9} {:>8}",
        "N", "cockpit", "frames", "p50 ms", "p99 ms", "p50 cpu", "p99 cpu", "batches"
    );
    for n in ns {
        let out = Proc::new(me)
            .args(["--server-one", &n.to_string()])
            .output()
            .expect("run bench child");
        let text = String::from_utf8_lossy(&out.stdout);
        let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
        if lines.len() != 3 || lines[0].len() != 8 || lines[2].len() != 5 {
            eprintln!(
                "N={n}: bench run failed: {}{}",
                text,
                String::from_utf8_lossy(&out.stderr)
            );
            if !measuring {
                std::process::exit(1);
            }
            continue;
        }
        for f in &lines[..2] {
            println!(
                "{:>4} {:>9} {:>7} {:>8} {:>8} {:>9} {:>9} {:>8}",
                f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7]
            );
        }
        let f = &lines[2];
        println!(
            "{:>4}    server: wall {} s, CPU {} s, peak RSS {} MiB",
            f[0], f[2], f[3], f[4]
        );
    }
}
