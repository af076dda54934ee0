//! Shared support for end-to-end tests with the real agent CLIs.
//!
//! Finds the real `claude`, `codex` and `gemini` binaries, builds an
//! isolated environment for each (its own HOME, config dir and TMPDIR,
//! pointed at a loopback mock model API, with the mock as the HTTP proxy so
//! nothing leaves the machine), and finds or kills processes left behind by
//! a test. It must never point an agent at anything but 127.0.0.1, and
//! never touch processes a test did not start (they are recognised by a
//! unique marker in their environment).

#![allow(dead_code)]

pub mod anthropic_mock;
pub mod gemini_mock;
pub mod http;
pub mod responses_mock;
pub mod run;
pub mod scripted;
pub mod served;
pub mod stdio_session;
pub mod walks;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// The line printed when the real claude is missing (CI greps for `SKIPPED`).
pub const SKIP_LINE: &str = "SKIPPED: real claude CLI not found (run scripts/install-agents)";

/// The skip line for the agent CLI `name`.
pub fn skip_line(name: &str) -> String {
    format!("SKIPPED: real {name} CLI not found (run scripts/install-agents)")
}

/// The real agent binary `name` (`claude`, `codex`, `gemini`):
/// `CORRAL_<NAME>_BIN`, then `<repo>/target/agents/node_modules/.bin/<name>`,
/// then `<name>` on `PATH`.
pub fn find_agent(name: &str) -> Option<PathBuf> {
    let var = format!("CORRAL_{}_BIN", name.to_ascii_uppercase());
    if let Some(bin) = std::env::var_os(&var).filter(|b| !b.is_empty()) {
        let bin = PathBuf::from(bin);
        if is_executable(&bin) {
            return Some(bin);
        }
        eprintln!("{var}={} is not an executable file", bin.display());
        return None;
    }
    let installed = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/agents/node_modules/.bin")
        .join(name);
    if is_executable(&installed) {
        return Some(installed);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

/// The real `claude` (see [`find_agent`]).
pub fn find_claude() -> Option<PathBuf> {
    find_agent("claude")
}

/// The real agent `name`, or `None` after printing its skip line to
/// stderr. With `CORRAL_REQUIRE_E2E=1` a missing binary is a test failure
/// instead.
pub fn agent_or_skip(name: &str, test: &str) -> Option<PathBuf> {
    if let Some(bin) = find_agent(name) {
        return Some(bin);
    }
    let line = skip_line(name);
    if std::env::var("CORRAL_REQUIRE_E2E").as_deref() == Ok("1") {
        panic!("{line}; CORRAL_REQUIRE_E2E=1 makes this a failure ({test})");
    }
    // Straight to stderr: libtest captures `eprintln!` of passing tests,
    // and a skip must be seen.
    let _ = writeln!(std::io::stderr(), "{line} [{test}]");
    None
}

/// The real `claude`, or `None` after printing [`SKIP_LINE`] (see
/// [`agent_or_skip`]).
pub fn claude_or_skip(test: &str) -> Option<PathBuf> {
    agent_or_skip("claude", test)
}

/// The real `codex`, or `None` after a loud skip (see [`agent_or_skip`]).
pub fn codex_or_skip(test: &str) -> Option<PathBuf> {
    agent_or_skip("codex", test)
}

/// The real `gemini`, or `None` after a loud skip (see [`agent_or_skip`]).
pub fn gemini_or_skip(test: &str) -> Option<PathBuf> {
    agent_or_skip("gemini", test)
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// An isolated place for one agent run: temp HOME, config dir, TMPDIR, a
/// working directory, and a `bin/` whose `<agent>` is the real binary.
/// Dropping it kills whatever still runs with its environment, then
/// deletes it.
pub struct Sandbox {
    root: TempDir,
    /// `$HOME` of the agent.
    pub home: PathBuf,
    /// The agent's config dir: `CLAUDE_CONFIG_DIR` (`~/.claude`),
    /// `CODEX_HOME` (`~/.codex`) or gemini's `~/.gemini`.
    pub config_dir: PathBuf,
    /// `TMPDIR`.
    pub tmp: PathBuf,
    /// A working directory to run the agent in (`--cwd`).
    pub work: PathBuf,
    /// Put first on `PATH`; holds the agent under its own name.
    pub bin: PathBuf,
    /// The agent's name (`claude`, `codex`, `gemini`).
    pub agent_name: String,
    /// The real binary `bin/<agent_name>` points to.
    pub agent: PathBuf,
}

impl Sandbox {
    /// A sandbox for the real claude: links `bin/claude` to `claude`.
    pub fn new(claude: &Path) -> Sandbox {
        Sandbox::for_agent("claude", claude)
    }

    /// Creates the directories and links `bin/<name>` to `binary`.
    pub fn for_agent(name: &str, binary: &Path) -> Sandbox {
        let root = tempfile::Builder::new()
            .prefix("corral-e2e-")
            .tempdir()
            .expect("create a temp dir");
        let home = root.path().join("home");
        let config_dir = home.join(format!(".{name}"));
        let tmp = root.path().join("tmp");
        let work = root.path().join("work");
        let bin = root.path().join("bin");
        for dir in [&home, &config_dir, &tmp, &work, &bin] {
            std::fs::create_dir_all(dir).expect("create a sandbox dir");
        }
        let agent = std::path::absolute(binary).unwrap_or_else(|_| binary.to_path_buf());
        std::os::unix::fs::symlink(&agent, bin.join(name)).expect("link the agent into bin/");
        Sandbox {
            root,
            home,
            config_dir,
            tmp,
            work,
            bin,
            agent_name: name.to_string(),
            agent,
        }
    }

    /// The sandbox's root directory (unique: used as the process marker).
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// The corral home inside the sandbox: its own config, data, state and
    /// runtime directories, so a test's corral (and its server) never sees
    /// the user's.
    pub fn corral_home(&self) -> PathBuf {
        self.root().join("corral")
    }

    /// `env` with the XDG directories of [`Sandbox::corral_home`] added
    /// (the runtime directory made 0700, as a login session's is).
    pub fn with_corral_dirs(&self, mut env: Vec<(String, String)>) -> Vec<(String, String)> {
        use std::os::unix::fs::PermissionsExt;
        let home = self.corral_home();
        let run = home.join("run");
        std::fs::create_dir_all(&run).expect("create the corral runtime dir");
        std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o700))
            .expect("make the runtime dir private");
        for (var, dir) in [
            ("XDG_CONFIG_HOME", "config"),
            ("XDG_DATA_HOME", "data"),
            ("XDG_STATE_HOME", "state"),
            ("XDG_RUNTIME_DIR", "run"),
        ] {
            env.push((var.into(), home.join(dir).display().to_string()));
        }
        env
    }

    /// What every agent gets: PATH with `bin/` first, HOME, TMPDIR, locale,
    /// a dumb terminal, the process marker, and no proxy for loopback.
    fn base_env(&self) -> Vec<(String, String)> {
        let inherited =
            std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into());
        let path = format!("{}:{inherited}", self.bin.display());
        let mut env: Vec<(String, String)> = vec![
            ("PATH".into(), path),
            ("HOME".into(), self.home.display().to_string()),
            ("TMPDIR".into(), self.tmp.display().to_string()),
            ("NO_PROXY".into(), "127.0.0.1,localhost".into()),
            ("no_proxy".into(), "127.0.0.1,localhost".into()),
            ("LANG".into(), "C.UTF-8".into()),
            ("TERM".into(), "dumb".into()),
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

    /// `HTTP(S)_PROXY` pointing at the mock on `port`: it refuses every
    /// proxy request, so an agent's calls to public hosts fail at once and
    /// stay on this machine.
    fn proxy_env(port: u16) -> Vec<(String, String)> {
        let proxy = format!("http://127.0.0.1:{port}");
        ["HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"]
            .iter()
            .map(|k| (k.to_string(), proxy.clone()))
            .collect()
    }

    /// The whole environment for claude (or corral driving it) talking to
    /// the mock on `port`. Use it after `env_clear()`: nothing of the
    /// caller's environment (API keys, proxies, a parent claude session)
    /// leaks in.
    pub fn env(&self, port: u16) -> Vec<(String, String)> {
        let mut env = self.base_env();
        env.extend([
            (
                "CLAUDE_CONFIG_DIR".to_string(),
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
            ("CORRAL_CLAUDE_BIN".into(), self.agent.display().to_string()),
        ]);
        env
    }

    /// The whole environment for codex (or corral driving it) talking to
    /// the Responses mock on `port`; pair it with
    /// [`Sandbox::write_codex_config`].
    pub fn codex_env(&self, port: u16) -> Vec<(String, String)> {
        let mut env = self.base_env();
        env.extend(Self::proxy_env(port));
        env.extend([
            (
                "CODEX_HOME".to_string(),
                self.config_dir.display().to_string(),
            ),
            ("MOCK_API_KEY".into(), "dummy".into()),
        ]);
        env
    }

    /// Writes `$CODEX_HOME/config.toml`: model `gpt-5.5` from a `mock`
    /// provider at `http://127.0.0.1:PORT/v1` (Responses wire API, key from
    /// `MOCK_API_KEY`), no update check, no analytics. `provider_extra` are
    /// further `key = value` lines for the provider table (TOML values,
    /// such as `("stream_max_retries", "2")`).
    pub fn write_codex_config(&self, port: u16, provider_extra: &[(&str, &str)]) {
        let mut config = format!(
            "model = \"gpt-5.5\"\nmodel_provider = \"mock\"\n\
             check_for_update_on_startup = false\n\n\
             [model_providers.mock]\nname = \"mock\"\n\
             base_url = \"http://127.0.0.1:{port}/v1\"\n\
             wire_api = \"responses\"\nenv_key = \"MOCK_API_KEY\"\n"
        );
        for (key, value) in provider_extra {
            config.push_str(&format!("{key} = {value}\n"));
        }
        config.push_str("\n[analytics]\nenabled = false\n");
        std::fs::write(self.config_dir.join("config.toml"), config)
            .expect("write the codex config");
    }

    /// The whole environment for gemini (or corral driving it) talking to
    /// the Gemini mock on `port`; pair it with
    /// [`Sandbox::write_gemini_settings`].
    pub fn gemini_env(&self, port: u16) -> Vec<(String, String)> {
        let mut env = self.base_env();
        env.extend(Self::proxy_env(port));
        env.extend([
            ("GEMINI_API_KEY".to_string(), "dummy".to_string()),
            (
                "GOOGLE_GEMINI_BASE_URL".into(),
                format!("http://127.0.0.1:{port}"),
            ),
        ]);
        env
    }

    /// Writes `~/.gemini/settings.json`: API-key auth (without it gemini
    /// exits 41), telemetry and auto-update off, and `max_attempts` as
    /// `general.maxAttempts` when given (gemini's own retry cap; the default
    /// of 10 with 5 s, 10 s, ... backoff takes about 5 minutes to give up).
    pub fn write_gemini_settings(&self, max_attempts: Option<u32>) {
        let mut general = serde_json::json!({"disableAutoUpdate": true});
        if let Some(n) = max_attempts {
            general["maxAttempts"] = serde_json::json!(n);
        }
        let settings = serde_json::json!({
            "security": {"auth": {"selectedType": "gemini-api-key"}},
            "telemetry": {"enabled": false},
            "general": general,
        });
        std::fs::write(
            self.config_dir.join("settings.json"),
            serde_json::to_string_pretty(&settings).unwrap_or_default(),
        )
        .expect("write the gemini settings");
    }

    /// The real claude itself, run in `work` with [`Sandbox::env`] only
    /// (for tests that drive it without corral).
    pub fn claude_command(&self, port: u16) -> std::process::Command {
        let mut cmd = std::process::Command::new(&self.agent);
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
/// Quotes `s` for `sh`.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A shell line that runs `program` with `args` in exactly `env` and
/// nothing of the caller's environment (`env -i`): what a test types into
/// tmux to start corral as a user would.
pub fn shell_line(env: &[(String, String)], program: &Path, args: &[&str]) -> String {
    let mut words: Vec<String> = vec!["env".into(), "-i".into()];
    words.extend(env.iter().map(|(k, v)| format!("{k}={}", sh_quote(v))));
    words.push(sh_quote(&program.display().to_string()));
    words.extend(args.iter().map(|a| sh_quote(a)));
    words.join(" ")
}

pub fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}
