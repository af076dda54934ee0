//! `config.toml`: defaults for every task and named agent profiles.
//!
//! Parsing refuses unknown keys and bad values with the file, the line and
//! the column. Built-in profiles (`claude`, `codex`, `gemini`, `openai`)
//! exist without a file; a user profile of the same name replaces one.
//! A profile resolves into the adapters' [`AgentKind`] + [`AgentOptions`].
//! Never writes files (see [`commands`] for `corral config init`) and never
//! reads the environment except through the caller.

pub mod commands;
mod raw;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::agent::{AgentKind, AgentOptions};
use raw::RawConfig;

/// The commented example written by `corral config init`.
pub const EXAMPLE: &str = include_str!("../../assets/config.toml");

/// The global concurrency limit when the config sets none.
pub const DEFAULT_CONCURRENCY: usize = 4;
/// The kill ladder's wait between signals when the config sets none.
pub const DEFAULT_KILL_GRACE_MS: u64 = 1_500;
/// How long a server with no client and no unfinished task waits before it
/// exits (10 minutes).
pub const DEFAULT_SERVER_IDLE_MS: u64 = 600_000;
/// How long a live agent session idles after its turn before it is closed
/// (10 minutes); a follow-up resumes it.
pub const DEFAULT_IDLE_SESSION_CLOSE_MS: u64 = 600_000;

/// A config file that cannot be used, with where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub path: PathBuf,
    /// 1-based line, when the problem has a place in the file.
    pub line: Option<usize>,
    /// 1-based column (in characters).
    pub column: Option<usize>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Who answers tool approvals when no one is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Approve {
    /// Ask the user (the TUI; a headless run treats it as `deny`).
    Ask,
    Allow,
    Deny,
}

/// The cockpit's look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ThemeName {
    /// Colours (the default; `NO_COLOR` still turns them off).
    Color,
    /// No colours at all: bold, dim and reverse only.
    Mono,
}

/// What kind of agent a profile runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProfileKind {
    Claude,
    Codex,
    Gemini,
    /// Any OpenAI-compatible chat completions endpoint.
    Openai,
    /// Any program, shown as a raw terminal.
    Command,
    /// Any program speaking the Agent Client Protocol over stdio.
    Acp,
}

impl ProfileKind {
    /// Every kind, in the order lists show them.
    pub const ALL: [ProfileKind; 6] = [
        ProfileKind::Claude,
        ProfileKind::Codex,
        ProfileKind::Gemini,
        ProfileKind::Openai,
        ProfileKind::Command,
        ProfileKind::Acp,
    ];

    /// The name used in the config file.
    pub fn name(self) -> &'static str {
        match self {
            ProfileKind::Claude => "claude",
            ProfileKind::Codex => "codex",
            ProfileKind::Gemini => "gemini",
            ProfileKind::Openai => "openai",
            ProfileKind::Command => "command",
            ProfileKind::Acp => "acp",
        }
    }

    /// Parses a kind name.
    pub fn from_name(name: &str) -> Option<ProfileKind> {
        ProfileKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The adapter kind, once this build has an adapter for it.
    pub fn agent_kind(self) -> Option<AgentKind> {
        AgentKind::from_name(self.name())
    }
}

/// `[defaults]`, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Defaults {
    /// The profile used when none is named.
    pub agent: String,
    pub model: Option<String>,
    pub permission_mode: Option<String>,
    /// Tasks running at once over all agents (at least 1).
    pub concurrency: usize,
    /// Tasks running at once per agent kind (kind name to limit).
    pub concurrency_per_agent: BTreeMap<String, usize>,
    pub idle_timeout_ms: Option<u64>,
    pub timeout_ms: Option<u64>,
    pub max_cost_usd: Option<f64>,
    pub max_turns: Option<u32>,
    pub kill_grace_ms: u64,
    /// A server with no client and no unfinished task exits after this
    /// long (0: never).
    pub server_idle_timeout_ms: u64,
    /// A live session (claude, codex app-server, ACP) idle this long after
    /// its turn is closed, and resumed by the next follow-up (0: kept open).
    pub idle_session_close_ms: u64,
    /// `None`: the front end's own default (the TUI asks, `run` denies).
    pub approve: Option<Approve>,
    pub notifications: bool,
    pub bell: bool,
    /// Action name to key, for the TUI (which validates them).
    pub keybindings: BTreeMap<String, String>,
    pub theme: Option<ThemeName>,
    /// Run every new task in a git worktree of its own.
    pub worktree: bool,
    /// Where worktrees go (absolute); `None`: `<data dir>/worktrees`.
    pub worktree_root: Option<PathBuf>,
    /// A shell command run in each new worktree (for example `npm ci`).
    pub worktree_setup: Option<String>,
    /// The `[hosts.NAME]` the cockpit attaches to besides the local server.
    pub hosts: Vec<String>,
}

impl Defaults {
    /// Where worktrees go: the configured place, else `<data_dir>/worktrees`.
    pub fn worktree_root_or(&self, data_dir: &Path) -> PathBuf {
        self.worktree_root
            .clone()
            .unwrap_or_else(|| data_dir.join("worktrees"))
    }
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            agent: "claude".into(),
            model: None,
            permission_mode: None,
            concurrency: DEFAULT_CONCURRENCY,
            concurrency_per_agent: BTreeMap::new(),
            idle_timeout_ms: None,
            timeout_ms: None,
            max_cost_usd: None,
            max_turns: None,
            kill_grace_ms: DEFAULT_KILL_GRACE_MS,
            server_idle_timeout_ms: DEFAULT_SERVER_IDLE_MS,
            idle_session_close_ms: DEFAULT_IDLE_SESSION_CLOSE_MS,
            approve: None,
            notifications: true,
            bell: true,
            keybindings: BTreeMap::new(),
            theme: None,
            worktree: false,
            hosts: Vec::new(),
            worktree_root: None,
            worktree_setup: None,
        }
    }
}

/// A named way to run an agent.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Profile {
    pub name: String,
    pub kind: Option<ProfileKind>,
    /// The program; `None` means the kind's usual name on PATH.
    pub binary: Option<String>,
    /// Extra arguments appended to the agent's argv.
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub model: Option<String>,
    pub permission_mode: Option<String>,
    /// openai: the API base, e.g. `http://127.0.0.1:8080/v1`.
    pub base_url: Option<String>,
    /// openai: the environment variable holding the API key.
    pub api_key_env: Option<String>,
    /// openai: the system prompt.
    pub system_prompt: Option<String>,
    pub temperature: Option<f64>,
    pub max_tokens: Option<u32>,
    /// command and acp: the whole argv.
    pub argv: Vec<String>,
    /// gemini: `"acp"` (the default) or `"stream-json"`; codex:
    /// `"app-server"` (the default) or `"exec"`.
    pub protocol: Option<String>,
    /// USD per million input tokens, for agents that report no cost.
    pub price_input_per_mtok: Option<f64>,
    /// USD per million output tokens.
    pub price_output_per_mtok: Option<f64>,
    /// True for the profiles that exist without a config file.
    pub builtin: bool,
}

impl Profile {
    /// The profile's kind (every resolved profile has one).
    pub fn kind(&self) -> ProfileKind {
        self.kind.unwrap_or(ProfileKind::Command)
    }

    /// The program that will run, if the kind runs one.
    pub fn program(&self) -> Option<String> {
        if let Some(binary) = &self.binary {
            return Some(binary.clone());
        }
        match self.kind() {
            ProfileKind::Claude | ProfileKind::Codex | ProfileKind::Gemini => {
                Some(self.kind().name().to_string())
            }
            ProfileKind::Command | ProfileKind::Acp => self.argv.first().cloned(),
            ProfileKind::Openai => None,
        }
    }

    /// The price per token (input, output) when both are configured.
    pub fn pricing(&self) -> Option<(f64, f64)> {
        Some((self.price_input_per_mtok?, self.price_output_per_mtok?))
    }
}

/// A profile turned into what the adapters take.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedAgent {
    pub profile: String,
    pub kind: AgentKind,
    pub options: AgentOptions,
    /// USD per million (input, output) tokens, when configured.
    pub pricing: Option<(f64, f64)>,
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The file it came from, when one was read.
    pub source: Option<PathBuf>,
    pub defaults: Defaults,
    /// Built-in and user profiles by name.
    pub agents: BTreeMap<String, Profile>,
    /// Other machines by name (`[hosts.NAME]`).
    pub hosts: BTreeMap<String, Host>,
}

/// `[hosts.NAME]`: a machine whose corral server is reached through
/// `ssh -T <ssh_args> <ssh> <corral> server --stdio`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    pub name: String,
    /// The ssh destination (`user@box`, or a `Host` of `~/.ssh/config`).
    pub ssh: String,
    /// More ssh arguments (`-p`, `-i`, `-J`, `-o ...`), before corral's own.
    pub ssh_args: Vec<String>,
    /// The remote corral command as the remote shell reads it.
    pub corral: String,
}

/// The name that always means this machine's own server.
pub const LOCAL_HOST: &str = "local";

/// Whether `name` can name a host (letters, digits, `-`, `_`, `.`; not
/// `local`).
pub fn valid_host_name(name: &str) -> bool {
    !name.is_empty()
        && name != LOCAL_HOST
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl Default for Config {
    fn default() -> Self {
        Config {
            source: None,
            defaults: Defaults::default(),
            agents: builtin_profiles(),
            hosts: BTreeMap::new(),
        }
    }
}

fn builtin_profiles() -> BTreeMap<String, Profile> {
    let mut map = BTreeMap::new();
    for kind in [ProfileKind::Claude, ProfileKind::Codex, ProfileKind::Gemini] {
        map.insert(
            kind.name().to_string(),
            Profile {
                name: kind.name().into(),
                kind: Some(kind),
                builtin: true,
                ..Profile::default()
            },
        );
    }
    map.insert(
        "openai".into(),
        Profile {
            name: "openai".into(),
            kind: Some(ProfileKind::Openai),
            // Unset: the adapter reads OPENAI_BASE_URL (default
            // https://api.openai.com/v1) and OPENAI_API_KEY, as the
            // ecosystem does.
            builtin: true,
            ..Profile::default()
        },
    );
    for (name, kind) in [("command", ProfileKind::Command), ("acp", ProfileKind::Acp)] {
        map.insert(
            name.into(),
            Profile {
                name: name.into(),
                kind: Some(kind),
                // Unset: `--agent-bin` and `--agent-arg` say what to run
                // (a command: a shell by default).
                builtin: true,
                ..Profile::default()
            },
        );
    }
    map
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    // Back off to a char boundary so slicing cannot panic.
    let offset = (0..=offset)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// The largest config file corral reads: 1 MiB.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// The text of `file`, refused beyond [`MAX_CONFIG_BYTES`] (so that
/// `--config /dev/zero` fails at once instead of filling memory).
fn read_capped(file: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(file)?
        .take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(std::io::Error::other("it is larger than 1 MiB"));
    }
    String::from_utf8(bytes).map_err(|_| std::io::Error::other("it is not UTF-8 text"))
}

/// Where this session's files are and its config, as every front end
/// starts: `None` after saying on stderr what is wrong (the caller exits
/// with status 2, a usage or configuration error).
pub fn session(config_file: Option<&Path>) -> Option<(crate::paths::Paths, Config)> {
    let paths = crate::paths::Paths::resolve(config_file)
        .map_err(|err| eprintln!("corral: {err:#}"))
        .ok()?;
    let config = Config::load(&paths.config_file, paths.config_explicit)
        .map_err(|err| eprintln!("corral: {err}"))
        .ok()?;
    Some((paths, config))
}

impl Config {
    /// Reads the config of `paths`: the built-in defaults when the file is
    /// absent (unless it was named with `--config`, which must exist).
    pub fn load(file: &Path, must_exist: bool) -> Result<Config, ConfigError> {
        match read_capped(file) {
            Ok(text) => Config::parse(&text, file),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound && !must_exist => {
                Ok(Config::default())
            }
            Err(err) => Err(ConfigError {
                path: file.to_path_buf(),
                line: None,
                column: None,
                message: format!("cannot read the config file: {err}"),
            }),
        }
    }

    /// Parses config text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let at = |span: Option<std::ops::Range<usize>>, message: String| {
            let (line, column) = match span {
                Some(span) => {
                    let (l, c) = line_col(text, span.start);
                    (Some(l), Some(c))
                }
                None => (None, None),
            };
            ConfigError {
                path: path.to_path_buf(),
                line,
                column,
                message,
            }
        };
        let raw: RawConfig =
            toml::from_str(text).map_err(|err| at(err.span(), err.message().to_string()))?;

        let mut agents = builtin_profiles();
        for (name, spanned) in raw.agents {
            let span = spanned.span();
            let p = spanned.into_inner();
            let kind = match p.kind.or_else(|| ProfileKind::from_name(&name)) {
                Some(kind) => kind,
                None => {
                    return Err(at(
                        Some(span),
                        format!(
                            "agent profile `{name}` needs `kind` (one of: claude, codex, gemini, openai, command)"
                        ),
                    ));
                }
            };
            let only_for = |field: &str,
                            set: Option<std::ops::Range<usize>>,
                            kinds: &[ProfileKind]| {
                match set {
                    Some(span) if !kinds.contains(&kind) => Err(at(
                        Some(span),
                        format!(
                            "`{field}` is not used by agent profile `{name}` of kind `{}` (only by kind {})",
                            kind.name(),
                            kinds
                                .iter()
                                .map(|k| format!("`{}`", k.name()))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    )),
                    _ => Ok(()),
                }
            };
            use ProfileKind::Openai;
            only_for("base_url", p.base_url.as_ref().map(|s| s.span()), &[Openai])?;
            only_for(
                "api_key_env",
                p.api_key_env.as_ref().map(|s| s.span()),
                &[Openai],
            )?;
            only_for(
                "system_prompt",
                p.system_prompt.as_ref().map(|s| s.span()),
                &[Openai],
            )?;
            only_for(
                "temperature",
                p.temperature.as_ref().map(|s| s.span()),
                &[Openai],
            )?;
            only_for(
                "max_tokens",
                p.max_tokens.as_ref().map(|s| s.span()),
                &[Openai],
            )?;
            only_for(
                "argv",
                p.argv.as_ref().map(|s| s.span()),
                &[ProfileKind::Command, ProfileKind::Acp],
            )?;
            only_for(
                "protocol",
                p.protocol.as_ref().map(|s| s.span()),
                &[ProfileKind::Gemini, ProfileKind::Codex],
            )?;
            let protocols: &[&str] = if kind == ProfileKind::Codex {
                &["app-server", "exec"]
            } else {
                &["acp", "stream-json"]
            };
            if let Some(protocol) = &p.protocol
                && !protocols.contains(&protocol.get_ref().as_str())
            {
                return Err(at(
                    Some(protocol.span()),
                    format!(
                        "`protocol` of a {} profile must be {}, got {:?}",
                        kind.name(),
                        protocols
                            .iter()
                            .map(|p| format!("\"{p}\""))
                            .collect::<Vec<_>>()
                            .join(" or "),
                        protocol.get_ref()
                    ),
                ));
            }
            if let Some(t) = &p.temperature
                && !(0.0..=2.0).contains(t.get_ref())
            {
                return Err(at(
                    Some(t.span()),
                    format!("`temperature` must be between 0 and 2, got {}", t.get_ref()),
                ));
            }
            let argv: Vec<String> = p.argv.map(|a| a.into_inner()).unwrap_or_default();
            if matches!(kind, ProfileKind::Command | ProfileKind::Acp)
                && argv.is_empty()
                && p.binary.is_none()
            {
                return Err(at(
                    Some(span),
                    format!(
                        "agent profile `{name}` of kind `{}` needs `argv` (the program and its arguments)",
                        kind.name()
                    ),
                ));
            }
            let builtin_openai = agents.get("openai").cloned().unwrap_or_default();
            let (default_url, default_key) = if kind == Openai && name == "openai" {
                (builtin_openai.base_url, builtin_openai.api_key_env)
            } else {
                (None, None)
            };
            agents.insert(
                name.clone(),
                Profile {
                    name,
                    kind: Some(kind),
                    binary: p.binary,
                    args: p.args,
                    env: p.env,
                    model: p.model,
                    permission_mode: p.permission_mode,
                    base_url: p.base_url.map(|s| s.into_inner()).or(default_url),
                    api_key_env: p.api_key_env.map(|s| s.into_inner()).or(default_key),
                    system_prompt: p.system_prompt.map(|s| s.into_inner()),
                    temperature: p.temperature.map(|s| s.into_inner()),
                    max_tokens: p.max_tokens.map(|s| s.into_inner().0),
                    argv,
                    protocol: p.protocol.map(|s| s.into_inner()),
                    price_input_per_mtok: p.price_input_per_mtok.map(|d| d.0),
                    price_output_per_mtok: p.price_output_per_mtok.map(|d| d.0),
                    builtin: false,
                },
            );
        }

        let d = raw.defaults;
        let agent = match d.agent {
            Some(agent) => {
                if !agents.contains_key(agent.get_ref()) {
                    return Err(at(
                        Some(agent.span()),
                        format!(
                            "`agent` names no profile: `{}` (known: {})",
                            agent.get_ref(),
                            agents.keys().cloned().collect::<Vec<_>>().join(", ")
                        ),
                    ));
                }
                agent.into_inner()
            }
            None => Defaults::default().agent,
        };
        let mut per_agent = BTreeMap::new();
        for (kind, limit) in d.concurrency_per_agent {
            if ProfileKind::from_name(&kind).is_none() {
                return Err(at(
                    Some(limit.span()),
                    format!(
                        "`concurrency_per_agent` names an unknown agent kind `{kind}` (known: claude, codex, gemini, openai, command)"
                    ),
                ));
            }
            per_agent.insert(kind, limit.into_inner().0 as usize);
        }
        let worktree_root = match d.worktree_root {
            Some(root) if !Path::new(root.get_ref()).is_absolute() => {
                return Err(at(
                    Some(root.span()),
                    format!(
                        "`worktree_root` must be an absolute path, got `{}`",
                        root.get_ref()
                    ),
                ));
            }
            Some(root) => Some(PathBuf::from(root.into_inner())),
            None => None,
        };
        let mut hosts = BTreeMap::new();
        for (name, spanned) in raw.hosts {
            let span = spanned.span();
            let h = spanned.into_inner();
            if !valid_host_name(&name) {
                return Err(at(
                    Some(span),
                    format!(
                        "`[hosts.{name}]`: a host name is letters, digits, `-`, `_` and `.`, and not `{LOCAL_HOST}`"
                    ),
                ));
            }
            let Some(ssh) = h.ssh.filter(|s| !s.trim().is_empty()) else {
                return Err(at(
                    Some(span),
                    format!("`[hosts.{name}]` needs `ssh` (the destination, like \"user@box\")"),
                ));
            };
            let corral = h
                .corral
                .filter(|c| !c.trim().is_empty())
                .unwrap_or_else(|| "corral".into());
            hosts.insert(
                name.clone(),
                Host {
                    name,
                    ssh,
                    ssh_args: h.ssh_args,
                    corral,
                },
            );
        }
        let default_hosts = match d.hosts {
            Some(list) => {
                if let Some(unknown) = list.get_ref().iter().find(|n| !hosts.contains_key(*n)) {
                    return Err(at(
                        Some(list.span()),
                        format!(
                            "`hosts` names no `[hosts.{unknown}]` (known: {})",
                            if hosts.is_empty() {
                                "none".to_string()
                            } else {
                                hosts.keys().cloned().collect::<Vec<_>>().join(", ")
                            }
                        ),
                    ));
                }
                list.into_inner()
            }
            None => Vec::new(),
        };
        let defaults = Defaults {
            agent,
            model: d.model,
            permission_mode: d.permission_mode,
            concurrency: d
                .concurrency
                .map(|c| c.0 as usize)
                .unwrap_or(DEFAULT_CONCURRENCY),
            concurrency_per_agent: per_agent,
            idle_timeout_ms: d.idle_timeout.map(|s| s.0),
            timeout_ms: d.timeout.map(|s| s.0),
            max_cost_usd: d.max_cost_usd.map(|d| d.0),
            max_turns: d.max_turns.map(|t| t.0),
            kill_grace_ms: d.kill_grace.map(|s| s.0).unwrap_or(DEFAULT_KILL_GRACE_MS),
            server_idle_timeout_ms: d
                .server_idle_timeout
                .map(|s| s.0)
                .unwrap_or(DEFAULT_SERVER_IDLE_MS),
            idle_session_close_ms: d
                .idle_session_close
                .map(|s| s.0)
                .unwrap_or(DEFAULT_IDLE_SESSION_CLOSE_MS),
            approve: d.approve,
            notifications: d.notifications.unwrap_or(true),
            bell: d.bell.unwrap_or(true),
            keybindings: d.keybindings,
            theme: d.theme,
            worktree: d.worktree.unwrap_or(false),
            worktree_root,
            worktree_setup: d.worktree_setup.filter(|c| !c.trim().is_empty()),
            hosts: default_hosts,
        };
        Ok(Config {
            source: Some(path.to_path_buf()),
            defaults,
            agents,
            hosts,
        })
    }

    /// The profile of this name.
    pub fn profile(&self, name: &str) -> Option<&Profile> {
        self.agents.get(name)
    }

    /// The profile `name` (or the default one) as adapter kind and options,
    /// with the config's default model and permission mode filled in. The
    /// error is a message for the user.
    pub fn resolve(&self, name: Option<&str>) -> Result<ResolvedAgent, String> {
        let name = name.unwrap_or(&self.defaults.agent);
        let Some(profile) = self.profile(name) else {
            return Err(format!(
                "unknown agent `{name}` (profiles: {})",
                self.agents.keys().cloned().collect::<Vec<_>>().join(", ")
            ));
        };
        let Some(kind) = profile.kind().agent_kind() else {
            return Err(format!(
                "agent profile `{name}` is of kind `{}`, which this version of corral cannot run yet",
                profile.kind().name()
            ));
        };
        // A command profile's argv is its binary and first arguments.
        let (binary, mut extra_args) = match profile.argv.split_first() {
            Some((program, args)) if matches!(kind, AgentKind::Command | AgentKind::Acp) => {
                (Some(program.clone()), args.to_vec())
            }
            _ => (profile.binary.clone(), Vec::new()),
        };
        extra_args.extend(profile.args.iter().cloned());
        let pricing = profile.pricing();
        let options = AgentOptions {
            binary,
            base_url: profile.base_url.clone(),
            api_key_env: profile.api_key_env.clone(),
            system_prompt: profile.system_prompt.clone(),
            temperature: profile.temperature,
            max_tokens: profile.max_tokens,
            input_price_per_mtok: pricing.map(|(input, _)| input),
            output_price_per_mtok: pricing.map(|(_, output)| output),
            model: profile
                .model
                .clone()
                .or_else(|| self.defaults.model.clone()),
            permission_mode: profile
                .permission_mode
                .clone()
                .or_else(|| self.defaults.permission_mode.clone()),
            extra_args,
            protocol: profile.protocol.clone(),
            env: profile
                .env
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            ..AgentOptions::default()
        };
        Ok(ResolvedAgent {
            profile: name.to_string(),
            kind,
            options,
            pricing,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_lines_and_characters() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 6), (2, 1));
        // After the two-byte é: column 3.
        assert_eq!(line_col(text, 9), (2, 3));
        assert_eq!(line_col(text, 999), (3, 1));
    }

    #[test]
    fn a_config_file_over_one_mib_is_refused_with_a_clear_message() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.toml");
        std::fs::write(
            &big,
            format!("# {}\n", "x".repeat(MAX_CONFIG_BYTES as usize)),
        )
        .unwrap();
        let err = Config::load(&big, true).unwrap_err();
        assert!(err.message.contains("larger than 1 MiB"), "{}", err.message);
        if Path::new("/dev/zero").exists() {
            let err = Config::load(Path::new("/dev/zero"), true).unwrap_err();
            assert!(err.message.contains("larger than 1 MiB"), "{}", err.message);
        }
        let small = dir.path().join("ok.toml");
        std::fs::write(&small, "").unwrap();
        assert!(Config::load(&small, true).is_ok());
    }

    #[test]
    fn builtins_exist_without_a_file() {
        let c = Config::default();
        for name in ["claude", "codex", "gemini", "openai", "command", "acp"] {
            assert!(c.profile(name).is_some_and(|p| p.builtin), "{name}");
        }
        let r = c.resolve(None).unwrap();
        assert_eq!(r.kind, AgentKind::Claude);
        assert_eq!(r.profile, "claude");
    }

    #[test]
    fn kinds_without_an_adapter_say_so() {
        let c = Config::default();
        let openai = c.resolve(Some("openai")).unwrap();
        assert_eq!(openai.kind, AgentKind::OpenAi);
        let err = c.resolve(Some("nope")).unwrap_err();
        assert!(err.contains("unknown agent `nope`"), "{err}");
    }
}
