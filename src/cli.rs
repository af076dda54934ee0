//! The command line: every subcommand and flag, parsed by clap.
//!
//! Only describes; front ends act on the parsed values.

use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

/// Run several AI coding agents at once: launch, watch, answer, kill.
///
/// Without a subcommand, opens the cockpit (a full-screen terminal UI);
/// the agent flags then set the defaults of its new-task form and apply to
/// every task started from it.
#[derive(Debug, Parser)]
#[command(name = "corral", version, about, long_about = None)]
pub struct Cli {
    /// Read the configuration from FILE instead of the default place.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Also the corral server of this `[hosts.NAME]` of the config,
    /// reached by ssh (repeatable; the cockpit adds the config's `hosts`).
    #[arg(long = "host", global = true, value_name = "NAME")]
    pub hosts: Vec<String>,
    /// Leave this machine's own server out (with `--host`).
    #[arg(long, global = true)]
    pub no_local: bool,
    #[command(subcommand)]
    pub command: Option<CliCommand>,
    /// Defaults of the cockpit's new-task form.
    #[command(flatten)]
    pub tui: AgentArgs,
    /// How the cockpit gets your attention.
    #[command(flatten)]
    pub cockpit: CockpitArgs,
}

impl Cli {
    /// Parses the process's arguments; on a usage error prints it and exits 2.
    pub fn parse_command_line() -> Cli {
        Cli::try_parse_checked(std::env::args_os()).unwrap_or_else(|err| err.exit())
    }

    /// Parses like clap does, and refuses the cockpit's own flags next to a
    /// subcommand (`corral --model x run ...`): they would silently do
    /// nothing. The global `--config` goes anywhere. (clap's
    /// `args_conflicts_with_subcommands` would also refuse `--config`.)
    pub fn try_parse_checked<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let mut command = Cli::command();
        let matches = command.try_get_matches_from_mut(args)?;
        if let Some((sub, _)) = matches.subcommand()
            && let Some(flag) = cockpit_flag_given(&command, &matches)
        {
            return Err(command.error(
                clap::error::ErrorKind::ArgumentConflict,
                format!(
                    "`--{flag}` sets the cockpit's defaults and cannot be used with `{sub}`; \
                     put it after the subcommand"
                ),
            ));
        }
        Cli::from_arg_matches(&matches).map_err(|err| err.format(&mut command))
    }
}

/// The first top-level flag (other than the global `--config`) given on the
/// command line, by its long name.
fn cockpit_flag_given(command: &clap::Command, matches: &ArgMatches) -> Option<String> {
    command
        .get_arguments()
        .filter(|arg| !arg.is_global_set())
        .find(|arg| matches.value_source(arg.get_id().as_str()) == Some(ValueSource::CommandLine))
        .map(|arg| {
            arg.get_long()
                .map(str::to_string)
                .unwrap_or_else(|| arg.get_id().to_string())
        })
}

/// Switches of the cockpit itself (they override the config file).
#[derive(Debug, Clone, Default, Args)]
pub struct CockpitArgs {
    /// Do not ring the terminal bell when a task starts waiting for you.
    #[arg(long)]
    pub no_bell: bool,
    /// Send no desktop notification (OSC 9/777, D-Bus) when a task starts
    /// waiting for you.
    #[arg(long)]
    pub no_notify: bool,
    /// Run the agents in this process instead of the corral server: they
    /// stop when this cockpit quits (the cockpit before the server).
    #[arg(long)]
    pub local: bool,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum CliCommand {
    /// Run one agent to completion and stream its work to stdout.
    Run(Box<RunArgs>),
    /// List stored tasks (from `corral run` and the TUI).
    Ls(LsArgs),
    /// Show a stored task's transcript.
    Logs(LogsArgs),
    /// Delete a stored task and its files.
    Rm(RmArgs),
    /// The configuration file.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// List the agent profiles and whether their programs are installed.
    Agents,
    /// Show a worktree task's changes against its base branch.
    Diff(DiffArgs),
    /// Commit a worktree task's work and merge it into its base branch.
    Merge(MergeArgs),
    /// Remove a worktree task's worktree and branch (after showing what
    /// would be lost).
    Discard(DiscardArgs),
    /// The corral server that keeps agents running without a terminal
    /// (alone: run it in the foreground).
    Server(ServerArgs),
    /// Kill a task's agent and every process it started (through the server).
    Kill(IdArgs),
    /// Answer a waiting task: `allow`, `always`, `deny [MESSAGE]`, or one
    /// answer per question (an option number or your own words).
    Answer(AnswerArgs),
    /// Send a task your next message (it resumes a finished task).
    Send(SendArgs),
    /// Follow one task live and answer its questions at this terminal;
    /// Ctrl-C detaches (the agent goes on).
    Attach(IdArgs),
}

/// `corral server`.
#[derive(Debug, Args)]
pub struct ServerArgs {
    #[command(subcommand)]
    pub action: Option<ServerAction>,
    /// Exit after S seconds with no client and no unfinished task (0:
    /// never; default: the config's `server_idle_timeout`, else 600).
    #[arg(long, value_name = "S", value_parser = parse_seconds)]
    pub idle_timeout: Option<u64>,
    /// Be one client connection over stdin and stdout to this machine's
    /// server (started if needed): what `ssh HOST corral server --stdio`
    /// runs for a corral on another machine.
    #[arg(long, conflicts_with = "idle_timeout")]
    pub stdio: bool,
}

/// `corral server start|stop|restart|status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Subcommand)]
pub enum ServerAction {
    /// Start a server in the background (if none runs).
    Start,
    /// Stop the server; it refuses while tasks run unless `--kill`.
    Stop {
        /// Kill every running agent too.
        #[arg(long)]
        kill: bool,
    },
    /// Stop the server (see `stop`) and start this corral's.
    Restart {
        /// Kill every running agent too.
        #[arg(long)]
        kill: bool,
    },
    /// Say whether a server runs, where, and what it does.
    Status,
}

/// A command that names one task.
#[derive(Debug, Args)]
pub struct IdArgs {
    /// The task id (or a unique prefix of it).
    pub id: String,
}

/// `corral answer`.
#[derive(Debug, Args)]
pub struct AnswerArgs {
    /// The task id (or a unique prefix of it).
    pub id: String,
    /// For an approval: `allow`, `always` or `deny` (then an optional
    /// message for the agent). For questions: one answer per question.
    #[arg(required = true, value_name = "ANSWER")]
    pub answer: Vec<String>,
}

/// `corral send`.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// The task id (or a unique prefix of it).
    pub id: String,
    /// The message.
    #[arg(required = true, value_name = "MESSAGE", trailing_var_arg = true)]
    pub message: Vec<String>,
}

/// `corral diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The task id (or a unique prefix of it).
    pub id: String,
    /// Only the changed files with their line counts.
    #[arg(long)]
    pub stat: bool,
}

/// `corral merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The task id (or a unique prefix of it).
    pub id: String,
    /// Only fast-forward the base branch; refuse when it has moved on.
    #[arg(long, conflicts_with = "no_ff")]
    pub ff_only: bool,
    /// Always create a merge commit.
    #[arg(long)]
    pub no_ff: bool,
    /// The message for committing uncommitted work first (default: the
    /// task's title).
    #[arg(long, short = 'm', value_name = "M")]
    pub commit_message: Option<String>,
}

/// `corral discard`.
#[derive(Debug, Args)]
pub struct DiscardArgs {
    /// The task id (or a unique prefix of it).
    pub id: String,
    /// Do not ask: remove it even with unmerged work (which is listed).
    #[arg(long, short)]
    pub yes: bool,
}

/// `corral ls`.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// Print a JSON array instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Include archived tasks.
    #[arg(long, short)]
    pub all: bool,
}

/// `corral logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The task id (or a unique prefix of it).
    pub id: String,
    /// Keep printing new events until the task is over.
    #[arg(long, short)]
    pub follow: bool,
    /// Print the canonical events as JSON lines.
    #[arg(long)]
    pub json: bool,
}

/// `corral rm`.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// The task id (or a unique prefix of it).
    pub id: String,
    /// Kill the task's agent first if it still runs.
    #[arg(long)]
    pub force: bool,
}

/// `corral config ...`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Write a commented example configuration file.
    Init {
        /// Replace an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Print where the configuration file is.
    Path,
}

/// Who answers an agent's tool approvals in a headless run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ApproveArg {
    /// Refuse every tool that asks for permission (the default).
    Deny,
    /// Allow every tool that asks for permission.
    Allow,
}

/// Flags that choose and configure the agent, shared by every front end.
#[derive(Debug, Clone, Args)]
pub struct AgentArgs {
    /// The agent profile to run (default: the config's, else claude).
    #[arg(long, value_name = "NAME")]
    pub agent: Option<String>,
    /// The agent binary, when it is not the default name on PATH.
    #[arg(long, value_name = "PATH")]
    pub agent_bin: Option<String>,
    /// The model, passed to the agent.
    #[arg(long, value_name = "M")]
    pub model: Option<String>,
    /// Working directory of the agent (default: the current directory).
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
    /// Permission mode: default, acceptEdits, plan, bypassPermissions.
    #[arg(long, value_name = "M")]
    pub permission_mode: Option<String>,
    /// Tools the agent may use without asking (repeatable).
    #[arg(long = "allowed-tool", value_name = "TOOL")]
    pub allowed_tools: Vec<String>,
    /// Tools the agent may not use (repeatable).
    #[arg(long = "disallowed-tool", value_name = "TOOL")]
    pub disallowed_tools: Vec<String>,
    /// Text appended to the agent's system prompt.
    #[arg(long, value_name = "TEXT")]
    pub append_system_prompt: Option<String>,
    /// Another directory the agent may work in (repeatable).
    #[arg(long = "add-dir", value_name = "DIR")]
    pub add_dirs: Vec<PathBuf>,
    /// Stop when the agent has spent this many US dollars.
    #[arg(long, value_name = "USD")]
    pub max_budget_usd: Option<f64>,
    /// Preset the id of the new session (a UUID).
    #[arg(long, value_name = "ID", conflicts_with = "resume")]
    pub session_id: Option<String>,
    /// Resume this session of the agent.
    #[arg(long, value_name = "ID")]
    pub resume: Option<String>,
    /// Extra argument passed to the agent as it is (repeatable).
    #[arg(long = "agent-arg", value_name = "ARG", allow_hyphen_values = true)]
    pub agent_args: Vec<String>,
    /// A configuration override for the agent, `key=value` (codex `-c`; repeatable).
    #[arg(long = "agent-config", value_name = "KEY=VALUE")]
    pub config_overrides: Vec<String>,
    /// Do not tell agents without a live channel (exec codex, stream-json gemini, commands)
    /// how to ask questions through the question file.
    #[arg(long)]
    pub no_question_file: bool,
    /// Extra environment for the agent, KEY=VALUE (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    pub env: Vec<(String, String)>,
}

/// `corral run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub agent: AgentArgs,
    /// Who answers tool approvals and questions. Default: the config's
    /// `approve`, else you at the terminal when stdin is one, else `deny`.
    #[arg(long, value_enum)]
    pub approve: Option<ApproveArg>,
    /// Print canonical events as JSON lines instead of a transcript.
    #[arg(long)]
    pub json: bool,
    /// Kill the agent after S seconds in all.
    #[arg(long, value_name = "S", value_parser = parse_seconds)]
    pub timeout: Option<u64>,
    /// Kill the agent after S seconds without output.
    #[arg(long, value_name = "S", value_parser = parse_seconds)]
    pub idle_timeout: Option<u64>,
    /// Kill the agent once it has spent more than USD (as it reports, or
    /// priced by its profile).
    #[arg(long = "max-cost", value_name = "USD")]
    pub max_cost_usd: Option<f64>,
    /// Kill the agent once it has taken more than N turns.
    #[arg(long, value_name = "N")]
    pub max_turns: Option<u32>,
    /// Seconds between the steps of the kill ladder (SIGINT, SIGTERM,
    /// SIGKILL; default 1.5 or the config's).
    #[arg(long, value_name = "S", value_parser = parse_seconds)]
    pub kill_grace: Option<u64>,
    /// Run the agent in a new git worktree of the repository (on a branch
    /// `corral/<id>-<slug>`); review it with `corral diff`, then `corral
    /// merge` or `corral discard`. Default: the config's `worktree`.
    #[arg(long, conflicts_with = "no_worktree")]
    pub worktree: bool,
    /// Run in the directory itself even when the config asks for worktrees.
    #[arg(long)]
    pub no_worktree: bool,
    /// Hand the task to the corral server (started if needed), print its
    /// id and exit; it runs on without this terminal. Its questions wait
    /// for `corral answer` or `corral attach`.
    #[arg(long, conflicts_with_all = ["approve", "kill_grace"])]
    pub detach: bool,
    /// The prompt; `-` reads it from stdin.
    #[arg(required = true, value_name = "PROMPT", trailing_var_arg = true)]
    pub prompt: Vec<String>,
}

/// Parses seconds (fractions allowed) into milliseconds.
fn parse_seconds(s: &str) -> Result<u64, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("`{s}` is not a number of seconds"))?;
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!("`{s}` is not a number of seconds"));
    }
    Ok((secs * 1000.0).round() as u64)
}

fn parse_env(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("`{s}` is not KEY=VALUE")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_allow_fractions_and_refuse_nonsense() {
        assert_eq!(parse_seconds("1.5"), Ok(1_500));
        assert_eq!(parse_seconds("3"), Ok(3_000));
        assert!(parse_seconds("-1").is_err());
        assert!(parse_seconds("soon").is_err());
    }

    #[test]
    fn run_takes_the_prompt_after_the_flags() {
        let cli = Cli::try_parse_from([
            "corral",
            "run",
            "--json",
            "--timeout",
            "3",
            "--",
            "fix",
            "--the",
            "bug",
        ])
        .unwrap();
        let Some(CliCommand::Run(run)) = cli.command else {
            panic!("not run");
        };
        assert!(run.json);
        assert_eq!(run.timeout, Some(3_000));
        assert_eq!(run.prompt, ["fix", "--the", "bug"]);
        assert_eq!(run.approve, None);
        assert_eq!(run.kill_grace, None);
    }

    #[test]
    fn config_is_a_global_flag() {
        let cli = Cli::try_parse_checked(["corral", "ls", "--config", "x.toml", "--json"]).unwrap();
        assert_eq!(cli.config, Some(PathBuf::from("x.toml")));
        assert!(matches!(
            cli.command,
            Some(CliCommand::Ls(LsArgs { json: true, .. }))
        ));
        // Before the subcommand too, as documented.
        let cli = Cli::try_parse_checked(["corral", "--config", "y.toml", "ls"]).unwrap();
        assert_eq!(cli.config, Some(PathBuf::from("y.toml")));
        assert!(matches!(cli.command, Some(CliCommand::Ls(_))));
        let cli = Cli::try_parse_from(["corral", "config", "init", "--force"]).unwrap();
        assert!(matches!(
            cli.command,
            Some(CliCommand::Config(ConfigCommand::Init { force: true }))
        ));
    }

    #[test]
    fn the_cockpit_takes_form_defaults_but_not_next_to_a_subcommand() {
        let cli = Cli::try_parse_from([
            "corral",
            "--model",
            "haiku",
            "--permission-mode",
            "plan",
            "--cwd",
            "src",
            "--agent-bin",
            "./fake",
        ])
        .unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.tui.agent, None, "the config (or claude) decides");
        assert_eq!(cli.tui.model.as_deref(), Some("haiku"));
        assert_eq!(cli.tui.permission_mode.as_deref(), Some("plan"));
        assert_eq!(cli.tui.cwd, Some(PathBuf::from("src")));
        assert_eq!(cli.tui.agent_bin.as_deref(), Some("./fake"));
        let err = Cli::try_parse_checked(["corral", "--model", "x", "run", "hi"]).unwrap_err();
        assert!(
            err.to_string()
                .contains("`--model` sets the cockpit's defaults"),
            "{err}"
        );
        assert!(!cli.cockpit.no_bell && !cli.cockpit.no_notify);
        let quiet = Cli::try_parse_from(["corral", "--no-bell", "--no-notify"]).unwrap();
        assert!(quiet.cockpit.no_bell && quiet.cockpit.no_notify);
    }

    #[test]
    fn worktree_commands_parse_and_refuse_contradictions() {
        let cli = Cli::try_parse_from(["corral", "run", "--worktree", "fix it"]).unwrap();
        let Some(CliCommand::Run(run)) = cli.command else {
            panic!("not run");
        };
        assert!(run.worktree && !run.no_worktree);
        assert!(
            Cli::try_parse_from(["corral", "run", "--worktree", "--no-worktree", "x"]).is_err()
        );
        let cli =
            Cli::try_parse_from(["corral", "merge", "ab12", "--ff-only", "-m", "msg"]).unwrap();
        let Some(CliCommand::Merge(m)) = cli.command else {
            panic!("not merge");
        };
        assert_eq!((m.id.as_str(), m.ff_only, m.no_ff), ("ab12", true, false));
        assert_eq!(m.commit_message.as_deref(), Some("msg"));
        assert!(Cli::try_parse_from(["corral", "merge", "ab12", "--ff-only", "--no-ff"]).is_err());
        assert!(
            Cli::try_parse_from(["corral", "diff"]).is_err(),
            "the id is required"
        );
        let cli = Cli::try_parse_from(["corral", "discard", "ab12", "--yes"]).unwrap();
        assert!(matches!(
            cli.command,
            Some(CliCommand::Discard(DiscardArgs { yes: true, .. }))
        ));
    }

    #[test]
    fn env_must_be_key_value() {
        assert!(Cli::try_parse_from(["corral", "run", "--env", "NOPE", "x"]).is_err());
    }
}
