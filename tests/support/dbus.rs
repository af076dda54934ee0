//! A private D-Bus session bus for notification tests: a real
//! `dbus-daemon`, and `dbus-monitor` watching the
//! `org.freedesktop.Notifications` calls on it. There is no notification
//! daemon on a CI machine, so a notification is seen as the `Notify` call
//! on the bus, not on a screen. Both processes are killed on drop.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// A running session bus and everything its monitor saw so far.
pub struct Bus {
    pub address: String,
    seen: Arc<Mutex<String>>,
    _daemon: Killed,
    _monitor: Killed,
}

impl Bus {
    /// Starts the bus and its monitor; `None` (with a SKIPPED line, or a
    /// failure under `CORRAL_REQUIRE_E2E=1`) when the tools are missing.
    pub fn start() -> Option<Bus> {
        if !have("dbus-daemon") || !have("dbus-monitor") {
            assert!(
                std::env::var("CORRAL_REQUIRE_E2E").as_deref() != Ok("1"),
                "dbus-daemon and dbus-monitor are required"
            );
            eprintln!("SKIPPED: dbus-daemon or dbus-monitor is not installed");
            return None;
        }
        let mut daemon = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dbus-daemon");
        let mut address = String::new();
        BufReader::new(daemon.stdout.take().unwrap())
            .read_line(&mut address)
            .expect("the bus address");
        let daemon = Killed(daemon);
        let address = address.trim().to_string();
        assert!(address.starts_with("unix:"), "{address}");
        let mut monitor = Command::new("dbus-monitor")
            .args([
                "--address",
                &address,
                "interface='org.freedesktop.Notifications'",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dbus-monitor");
        let mut out = monitor.stdout.take().unwrap();
        let seen = Arc::new(Mutex::new(String::new()));
        let into = seen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                into.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        // The monitor needs a moment to register with the bus.
        std::thread::sleep(Duration::from_millis(300));
        Some(Bus {
            address,
            seen,
            _daemon: daemon,
            _monitor: Killed(monitor),
        })
    }

    /// Everything the monitor printed so far.
    pub fn seen(&self) -> String {
        self.seen.lock().unwrap().clone()
    }

    /// Waits (at most `limit`) until the monitor has printed `text`;
    /// returns everything it printed.
    pub fn wait_for(&self, text: &str, limit: Duration) -> Option<String> {
        let end = Instant::now() + limit;
        loop {
            let seen = self.seen();
            if seen.contains(text) {
                return Some(seen);
            }
            if Instant::now() > end {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
