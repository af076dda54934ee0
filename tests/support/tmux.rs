//! A terminal program under test in a private tmux server: start it, type,
//! read the screen, wait (bounded) for something to appear. The server is
//! killed when the value is dropped, whatever happened.

use std::process::Command;
use std::time::{Duration, Instant};

/// How long `wait_for` waits before failing the test.
pub const WAIT: Duration = Duration::from_secs(15);

pub struct Tmux {
    pub socket: String,
}

impl Tmux {
    /// Starts `command` in a new session `t` of size `width` x `height` on
    /// a private server.
    pub fn start(command: &str, width: u16, height: u16) -> Tmux {
        let tmux = Tmux {
            socket: format!("corral-test-{}-{}", std::process::id(), width),
        };
        let (w, h) = (width.to_string(), height.to_string());
        let started = tmux.cmd(&["new-session", "-d", "-x", &w, "-y", &h, "-s", "t", command]);
        assert!(started.status.success(), "tmux: {started:?}");
        tmux
    }

    /// Whether tmux is installed; when it is not, says SKIPPED for `test`,
    /// or fails it when end-to-end tests are required
    /// (`CORRAL_REQUIRE_E2E=1`, as `scripts/test` sets after installing
    /// the agents).
    pub fn available_or_skip(test: &str) -> bool {
        let available = Command::new("tmux").arg("-V").output().is_ok();
        if !available {
            assert!(
                std::env::var("CORRAL_REQUIRE_E2E").as_deref() != Ok("1"),
                "{test}: tmux is required"
            );
            eprintln!("SKIPPED: {test}: tmux is not installed");
        }
        available
    }

    pub fn cmd(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run tmux")
    }

    pub fn capture(&self) -> String {
        String::from_utf8_lossy(&self.cmd(&["capture-pane", "-p", "-t", "t"]).stdout).into_owned()
    }

    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend_from_slice(keys);
        assert!(self.cmd(&args).status.success(), "send-keys {keys:?}");
    }

    pub fn text(&self, text: &str) {
        assert!(
            self.cmd(&["send-keys", "-t", "t", "-l", text])
                .status
                .success()
        );
    }

    pub fn wait_for(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        self.wait_up_to(WAIT, what, ok)
    }

    /// [`Tmux::wait_for`] with its own bound, for what waits on a slow
    /// agent's start (gemini needs seconds to start on a loaded machine).
    pub fn wait_up_to(&self, limit: Duration, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let end = Instant::now() + limit;
        loop {
            let screen = self.capture();
            if ok(&screen) {
                return screen;
            }
            if Instant::now() > end {
                panic!("timed out waiting for {what}; screen:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn alive(&self) -> bool {
        self.cmd(&["has-session", "-t", "t"]).status.success()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}
