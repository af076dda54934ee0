//! Shared support for end-to-end tests with the real agent CLIs.
//!
//! Finds the real `claude` binary, builds an isolated environment for it
//! (its own HOME, config dir and TMPDIR, pointed at a loopback mock model
//! API), and finds or kills processes left behind by a test. It must never
//! point an agent at anything but 127.0.0.1, and never touch processes a
//! test did not start (they are recognised by a unique marker in their
//! environment).

#![allow(dead_code)]

pub mod anthropic_mock;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// The line printed when the real CLI is missing (CI greps for `SKIPPED`).
pub const SKIP_LINE: &str = "SKIPPED: real claude CLI not found (run scripts/install-agents)";

/// The real `claude` binary: `CORRAL_CLAUDE_BIN`, then
/// `<repo>/target/agents/node_modules/.bin/claude`, then `claude` on `PATH`.
pub fn find_claude() -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os("CORRAL_CLAUDE_BIN").filter(|b| !b.is_empty()) {
        let bin = PathBuf::from(bin);
        if is_executable(&bin) {
            return Some(bin);
        }
        eprintln!(
            "CORRAL_CLAUDE_BIN={} is not an executable file",
            bin.display()
        );
        return None;
    }
    let installed =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("target/agents/node_modules/.bin/claude");
    if is_executable(&installed) {
        return Some(installed);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("claude"))
        .find(|candidate| is_executable(candidate))
}

/// The real `claude`, or `None` after printing [`SKIP_LINE`] to stderr.
/// With `CORRAL_REQUIRE_E2E=1` a missing binary is a test failure instead.
pub fn claude_or_skip(test: &str) -> Option<PathBuf> {
    if let Some(bin) = find_claude() {
        return Some(bin);
    }
    if std::env::var("CORRAL_REQUIRE_E2E").as_deref() == Ok("1") {
        panic!("{SKIP_LINE}; CORRAL_REQUIRE_E2E=1 makes this a failure ({test})");
    }
    // Straight to stderr: libtest captures `eprintln!` of passing tests,
    // and a skip must be seen.
    let _ = writeln!(std::io::stderr(), "{SKIP_LINE} [{test}]");
    None
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// An isolated place for one agent run: temp HOME, config dir, TMPDIR, a
/// working directory, and a `bin/` whose `claude` is the real binary.
/// Dropping it kills whatever still runs with its environment, then
/// deletes it.
pub struct Sandbox {
    root: TempDir,
    /// `$HOME` of the agent.
    pub home: PathBuf,
    /// `CLAUDE_CONFIG_DIR`.
    pub config_dir: PathBuf,
    /// `TMPDIR`.
    pub tmp: PathBuf,
    /// A working directory to run the agent in (`--cwd`).
    pub work: PathBuf,
    /// Put first on `PATH`; holds `claude`.
    pub bin: PathBuf,
    /// The real binary `bin/claude` points to.
    pub claude: PathBuf,
}

impl Sandbox {
    /// Creates the directories and links `bin/claude` to `claude`.
    pub fn new(claude: &Path) -> Sandbox {
        let root = tempfile::Builder::new()
            .prefix("corral-e2e-")
            .tempdir()
            .expect("create a temp dir");
        let home = root.path().join("home");
        let config_dir = home.join(".claude");
        let tmp = root.path().join("tmp");
        let work = root.path().join("work");
        let bin = root.path().join("bin");
        for dir in [&home, &config_dir, &tmp, &work, &bin] {
            std::fs::create_dir_all(dir).expect("create a sandbox dir");
        }
        let claude = std::path::absolute(claude).unwrap_or_else(|_| claude.to_path_buf());
        std::os::unix::fs::symlink(&claude, bin.join("claude")).expect("link bin/claude");
        Sandbox {
            root,
            home,
            config_dir,
            tmp,
            work,
            bin,
            claude,
        }
    }

    /// The sandbox's root directory (unique: used as the process marker).
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// The whole environment for an agent (or corral) talking to the mock on
    /// `port`. Use it after `env_clear()`: nothing of the caller's
    /// environment (API keys, proxies, a parent claude session) leaks in.
    pub fn env(&self, port: u16) -> Vec<(String, String)> {
        let inherited =
            std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into());
        let path = format!("{}:{inherited}", self.bin.display());
        let mut env: Vec<(String, String)> = vec![
            ("PATH".into(), path),
            ("HOME".into(), self.home.display().to_string()),
            ("TMPDIR".into(), self.tmp.display().to_string()),
            (
                "CLAUDE_CONFIG_DIR".into(),
                self.config_dir.display().to_string(),
            ),
            (
                "ANTHROPIC_BASE_URL".into(),
                format!("http://127.0.0.1:{port}"),
            ),
            ("ANTHROPIC_API_KEY".into(), "dummy".into()),
            (
                "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC".into(),
                "1".into(),
            ),
            ("DISABLE_TELEMETRY".into(), "1".into()),
            ("DISABLE_AUTOUPDATER".into(), "1".into()),
            ("DISABLE_ERROR_REPORTING".into(), "1".into()),
            ("NO_PROXY".into(), "127.0.0.1,localhost".into()),
            ("no_proxy".into(), "127.0.0.1,localhost".into()),
            ("LANG".into(), "C.UTF-8".into()),
            ("TERM".into(), "dumb".into()),
            (
                "CORRAL_CLAUDE_BIN".into(),
                self.claude.display().to_string(),
            ),
            // The marker that finds this sandbox's processes later.
            (
                "CORRAL_E2E_SANDBOX".into(),
                self.root().display().to_string(),
            ),
        ];
        if let Ok(backtrace) = std::env::var("RUST_BACKTRACE") {
            env.push(("RUST_BACKTRACE".into(), backtrace));
        }
        env
    }

    /// The real claude itself, run in `work` with [`Sandbox::env`] only
    /// (for tests that drive it without corral).
    pub fn claude_command(&self, port: u16) -> std::process::Command {
        let mut cmd = std::process::Command::new(&self.claude);
        cmd.env_clear().envs(self.env(port)).current_dir(&self.work);
        cmd
    }

    /// Processes (pid, command line) still running with this sandbox's
    /// environment: the agent and anything it started.
    pub fn leftover_processes(&self) -> Vec<(i32, String)> {
        let marker = format!("CORRAL_E2E_SANDBOX={}", self.root().display());
        let me = std::process::id() as i32;
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        let mut found = Vec::new();
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<i32>().ok())
            else {
                continue;
            };
            if pid == me || is_zombie(pid) {
                continue;
            }
            let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
                continue;
            };
            if environ
                .split(|b| *b == 0)
                .any(|var| var == marker.as_bytes())
            {
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                found.push((pid, cmdline.trim().to_string()));
            }
        }
        found
    }

    /// Waits up to `grace` for this sandbox's processes to go away; returns
    /// those still there.
    pub fn wait_no_leftovers(&self, grace: Duration) -> Vec<(i32, String)> {
        let deadline = Instant::now() + grace;
        loop {
            let left = self.leftover_processes();
            if left.is_empty() || Instant::now() >= deadline {
                return left;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGKILLs every process still running with this sandbox's environment.
    pub fn kill_leftovers(&self) {
        for (pid, _) in self.leftover_processes() {
            // SAFETY: kill(2) with a pid found above; no memory involved.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.kill_leftovers();
    }
}

fn is_zombie(pid: i32) -> bool {
    // /proc/PID/stat: "pid (comm) S ..."; comm may hold spaces and parens.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rfind(')')
                .and_then(|i| stat[i + 1..].split_whitespace().next().map(|s| s == "Z"))
        })
        .unwrap_or(false)
}

/// Whether the tests run as root (claude refuses bypassPermissions then).
pub fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}
