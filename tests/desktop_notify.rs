//! The desktop notification really goes out over D-Bus: a private session
//! bus (a real `dbus-daemon`), `dbus-monitor` watching it, and corral's
//! `notify` sending the `org.freedesktop.Notifications.Notify` call. There
//! is no notification daemon on a CI machine, so the call is seen on the
//! bus, not shown on a screen. (The server's notifications while no
//! cockpit is attached: tests/server/notify.rs.)
//!
//! Skipped loudly when dbus-daemon or dbus-monitor is missing (a failure
//! with `CORRAL_REQUIRE_E2E=1`).

use std::time::Duration;

#[path = "support/dbus.rs"]
mod dbus;

#[test]
fn a_waiting_task_is_announced_on_the_session_bus() {
    let Some(bus) = dbus::Bus::start() else {
        return;
    };
    // The notification goes to the bus named by this variable.
    unsafe { std::env::set_var("DBUS_SESSION_BUS_ADDRESS", &bus.address) };
    corral::tui::attention::notify("#7 fix the tests is waiting for you".into());

    let seen = bus
        .wait_for(
            "#7 fix the tests is waiting for you",
            Duration::from_secs(10),
        )
        .expect("the Notify call on the bus");
    assert!(seen.contains("member=Notify"), "{seen}");
    assert!(seen.contains("corral: a task is waiting for you"), "{seen}");
}
