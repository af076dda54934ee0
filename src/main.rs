//! The `corral` binary: parses the command line and hands off to a front end
//! or a store/config command.

use std::io::IsTerminal;
use std::path::Path;

use corral::cli::{Cli, CliCommand, ConfigCommand, ServerAction};
use corral::config::{Config, commands as config_cmd};
use corral::paths::Paths;
use corral::review;
use corral::runtime::{cgroup, contain};
use corral::server::commands::{self as server_cmd, Reach};
use corral::server::hosts as server_hosts;
use corral::store::{Store, commands as store_cmd};
use corral::worktree::MergeStrategy;

/// Exit code for usage and configuration errors.
const EXIT_USAGE: i32 = 2;

fn main() {
    if std::env::args_os().nth(1).as_deref() == Some(contain::WATCHDOG_ARG.as_ref()) {
        std::process::exit(contain::run_watchdog());
    }
    let cli = Cli::parse_command_line();
    let runs_agents = match &cli.command {
        Some(CliCommand::Run(args)) => !args.detach,
        Some(CliCommand::Server(args)) => args.action.is_none() && !args.stdio,
        None => true,
        _ => false,
    };
    if runs_agents {
        // These start agents: keep every process they start within reach.
        contain::become_subreaper();
        // Task cgroups of a corral that died with its watchdog.
        cgroup::sweep_stale();
        contain::start_watchdog();
    }
    let config_file = cli.config.as_deref();
    let hosts = &cli.hosts;
    let code = match cli.command {
        Some(CliCommand::Run(args)) if args.detach => with_config(config_file, |paths, config| {
            let target = match hosts.as_slice() {
                [] => server_hosts::Target::Local,
                [one] => server_hosts::host(config, one)?,
                _ => anyhow::bail!("a task runs on one host: give `--host` once"),
            };
            let reach = Reach {
                paths,
                config_file,
                target,
            };
            server_cmd::run_detached(&args, config, &reach)
        }),
        Some(CliCommand::Run(_)) if !hosts.is_empty() => fail(
            anyhow::anyhow!(
                "`corral run --host` needs `--detach`: the task runs in that host's server"
            ),
            EXIT_USAGE,
        ),
        Some(CliCommand::Run(args)) => corral::headless::run(*args, config_file),
        Some(CliCommand::Ls(args)) if !hosts.is_empty() || cli.no_local => {
            with_store(config_file, |store| {
                let paths = Paths::resolve(config_file)?;
                let config = Config::load(&paths.config_file, paths.config_explicit)?;
                let targets = server_hosts::targets(&config, hosts, cli.no_local, false)?;
                server_cmd::ls_hosts(&paths, store, &targets, args.json, args.all)
            })
        }
        Some(CliCommand::Ls(args)) => with_store(config_file, |store| {
            let paths = Paths::resolve(config_file)?;
            server_cmd::ls(&paths, store, args.json, args.all)
        }),
        Some(CliCommand::Logs(args)) if !hosts.is_empty() || args.id.contains(':') => {
            with_config(config_file, |paths, config| {
                let (reach, id) = reach_of(paths, config_file, hosts, config, &args.id)?;
                let color = !args.json
                    && std::io::stdout().is_terminal()
                    && std::env::var_os("NO_COLOR").is_none();
                if reach.target.is_remote() {
                    server_cmd::follow_live(&reach, &id, args.follow, args.json, color)?;
                    return Ok(());
                }
                if args.follow && server_cmd::follow_live(&reach, &id, true, args.json, color)? {
                    return Ok(());
                }
                let store = Store::open(&paths.tasks_dir())?;
                store_cmd::logs(
                    &store,
                    &id,
                    args.json,
                    args.follow,
                    color,
                    &mut std::io::stdout().lock(),
                )
            })
        }
        Some(CliCommand::Logs(args)) => with_store(config_file, |store| {
            let color = !args.json
                && std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none();
            let paths = Paths::resolve(config_file)?;
            let here = Reach {
                paths: &paths,
                config_file,
                target: server_hosts::Target::Local,
            };
            if args.follow && server_cmd::follow_live(&here, &args.id, true, args.json, color)? {
                return Ok(());
            }
            store_cmd::logs(
                store,
                &args.id,
                args.json,
                args.follow,
                color,
                &mut std::io::stdout().lock(),
            )
        }),
        Some(CliCommand::Rm(args)) => with_store(config_file, |store| {
            let id = store_cmd::rm(store, &args.id, args.force)?;
            println!("removed {id}");
            Ok(())
        }),
        Some(CliCommand::Config(ConfigCommand::Path)) => match Paths::resolve(config_file) {
            Ok(paths) => {
                println!("{}", paths.config_file.display());
                0
            }
            Err(err) => fail(err, EXIT_USAGE),
        },
        Some(CliCommand::Config(ConfigCommand::Init { force })) => {
            match Paths::resolve(config_file).and_then(|paths| config_cmd::init(&paths, force)) {
                Ok(file) => {
                    println!("wrote {}", file.display());
                    0
                }
                Err(err) => fail(err, 1),
            }
        }
        Some(CliCommand::Agents) => match load_config(config_file) {
            Ok(config) => {
                let path = std::env::var_os("PATH");
                print!("{}", config_cmd::agents_table(&config, path.as_deref()));
                0
            }
            Err(code) => code,
        },
        Some(CliCommand::Diff(args)) => with_store(config_file, |store| {
            let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            review::diff(
                store,
                &args.id,
                args.stat,
                color,
                &mut std::io::stdout().lock(),
            )
        }),
        Some(CliCommand::Merge(args)) => with_store(config_file, |store| {
            let strategy = if args.ff_only {
                MergeStrategy::FastForwardOnly
            } else if args.no_ff {
                MergeStrategy::MergeCommit
            } else {
                MergeStrategy::FastForwardOrMerge
            };
            review::merge(
                store,
                &args.id,
                strategy,
                args.commit_message.as_deref(),
                &mut std::io::stdout().lock(),
            )
        }),
        Some(CliCommand::Discard(args)) => with_store(config_file, |store| {
            let stdin = std::io::stdin();
            let mut input = stdin.lock();
            let confirm: Option<&mut dyn std::io::BufRead> =
                stdin.is_terminal().then_some(&mut input);
            review::discard(
                store,
                &args.id,
                args.yes,
                confirm,
                &mut std::io::stdout().lock(),
            )
        }),
        Some(CliCommand::Server(args)) if args.stdio => corral::server::bridge::run(config_file),
        Some(CliCommand::Server(args)) => match args.action {
            None => corral::server::run_foreground(config_file, args.idle_timeout),
            // A server would only say in its log that it cannot read the
            // config: starting one reads it here first.
            Some(action @ (ServerAction::Start | ServerAction::Restart { .. })) => {
                match load_config(config_file)
                    .and_then(|_| Paths::resolve(config_file).map_err(|err| fail(err, EXIT_USAGE)))
                {
                    Ok(paths) => server_cmd::server(action, &paths, config_file)
                        .unwrap_or_else(|err| fail(err, 1)),
                    Err(code) => code,
                }
            }
            Some(action) => match Paths::resolve(config_file) {
                Ok(paths) => server_cmd::server(action, &paths, config_file)
                    .unwrap_or_else(|err| fail(err, 1)),
                Err(err) => fail(err, EXIT_USAGE),
            },
        },
        Some(CliCommand::Kill(args)) => with_config(config_file, |paths, config| {
            let (reach, id) = reach_of(paths, config_file, hosts, config, &args.id)?;
            server_cmd::kill(&reach, &id)
        }),
        Some(CliCommand::Answer(args)) => with_config(config_file, |paths, config| {
            let (reach, id) = reach_of(paths, config_file, hosts, config, &args.id)?;
            server_cmd::answer(&reach, &id, &args.answer)
        }),
        Some(CliCommand::Send(args)) => with_config(config_file, |paths, config| {
            let (reach, id) = reach_of(paths, config_file, hosts, config, &args.id)?;
            server_cmd::send(&reach, &id, &args.message.join(" "))
        }),
        Some(CliCommand::Attach(args)) => {
            let mut code = 1;
            let setup = with_config(config_file, |paths, config| {
                let (reach, id) = reach_of(paths, config_file, hosts, config, &args.id)?;
                code = corral::server::attach::attach(&reach, &id)?;
                Ok(())
            });
            if setup == 0 { code } else { setup }
        }
        None => corral::tui::run(cli.tui, config_file, &cli.cockpit, hosts, cli.no_local),
    };
    contain::stop_watchdog();
    std::process::exit(code);
}

/// The server a task command means (`HOST:ID` or `--host`, else this
/// machine's) and the task id on it.
fn reach_of<'a>(
    paths: &'a Paths,
    config_file: Option<&'a Path>,
    hosts: &[String],
    config: &Config,
    id: &str,
) -> anyhow::Result<(Reach<'a>, String)> {
    let (target, id) = server_hosts::task_target(config, hosts, id)?;
    let reach = Reach {
        paths,
        config_file,
        target,
    };
    Ok((reach, id))
}

fn fail(err: anyhow::Error, code: i32) -> i32 {
    eprintln!("corral: {err:#}");
    code
}

fn load_config(config_file: Option<&Path>) -> Result<Config, i32> {
    let paths = Paths::resolve(config_file).map_err(|err| fail(err, EXIT_USAGE))?;
    Config::load(&paths.config_file, paths.config_explicit).map_err(|err| {
        eprintln!("corral: {err}");
        EXIT_USAGE
    })
}

/// Loads the paths and the config (a bad config is a usage error) and
/// runs `f`, a command that talks to the server.
fn with_config(
    config_file: Option<&Path>,
    f: impl FnOnce(&Paths, &Config) -> anyhow::Result<()>,
) -> i32 {
    let paths = match Paths::resolve(config_file) {
        Ok(paths) => paths,
        Err(err) => return fail(err, EXIT_USAGE),
    };
    let config = match Config::load(&paths.config_file, paths.config_explicit) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("corral: {err}");
            return EXIT_USAGE;
        }
    };
    let _log = corral::logging::init(&paths.log_file()).ok();
    match f(&paths, &config) {
        Ok(()) => 0,
        Err(err) => fail(err, 1),
    }
}

/// Opens the store (cleaning up after dead corrals first) and runs `f`.
fn with_store(config_file: Option<&Path>, f: impl FnOnce(&Store) -> anyhow::Result<()>) -> i32 {
    let paths = match Paths::resolve(config_file) {
        Ok(paths) => paths,
        Err(err) => return fail(err, EXIT_USAGE),
    };
    // The store commands use no setting yet, but a file named with
    // `--config` is still read: a bad one is an error, never ignored.
    if paths.config_explicit
        && let Err(err) = Config::load(&paths.config_file, true)
    {
        eprintln!("corral: {err}");
        return EXIT_USAGE;
    }
    let _log = corral::logging::init(&paths.log_file()).ok();
    let store = match Store::open(&paths.tasks_dir()) {
        Ok(store) => store,
        Err(err) => return fail(err, 1),
    };
    store.recover();
    match f(&store) {
        Ok(()) => 0,
        Err(err) if err.downcast_ref::<review::UsageError>().is_some() => fail(err, EXIT_USAGE),
        Err(err) => fail(err, 1),
    }
}
