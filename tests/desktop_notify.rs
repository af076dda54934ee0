//! The desktop notification really goes out over D-Bus: a private session
//! bus (a real `dbus-daemon`), `dbus-monitor` watching it, and corral's
//! `notify` sending the `org.freedesktop.Notifications.Notify` call. There
//! is no notification daemon on a CI machine, so the call is seen on the
//! bus, not shown on a screen.
//!
//! Skipped loudly when dbus-daemon or dbus-monitor is missing (a failure
//! with `CORRAL_REQUIRE_E2E=1`).

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

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

#[test]
fn a_waiting_task_is_announced_on_the_session_bus() {
    if !have("dbus-daemon") || !have("dbus-monitor") {
        assert!(
            std::env::var("CORRAL_REQUIRE_E2E").as_deref() != Ok("1"),
            "dbus-daemon and dbus-monitor are required"
        );
        eprintln!("SKIPPED: dbus-daemon or dbus-monitor is not installed");
        return;
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
    let _daemon = Killed(daemon);
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
    let _monitor = Killed(monitor);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut seen = String::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = out.read(&mut buf) {
            if n == 0 {
                break;
            }
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
            if seen.contains("#7 fix the tests is waiting for you") {
                let _ = tx.send(seen.clone());
                break;
            }
        }
    });
    // The monitor needs a moment to register with the bus.
    std::thread::sleep(Duration::from_millis(300));

    // The notification goes to the bus named by this variable.
    unsafe { std::env::set_var("DBUS_SESSION_BUS_ADDRESS", &address) };
    corral::tui::attention::notify("#7 fix the tests is waiting for you".into());

    let seen = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the Notify call on the bus");
    assert!(seen.contains("member=Notify"), "{seen}");
    assert!(seen.contains("corral: a task is waiting for you"), "{seen}");
}
