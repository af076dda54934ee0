//! The `corral` binary: parses the command line and hands off to a front end
//! or a store/config command.

use std::io::IsTerminal;
use std::path::Path;

use clap::Parser;

use corral::cli::{Cli, CliCommand, ConfigCommand};
use corral::config::{Config, commands as config_cmd};
use corral::paths::Paths;
use corral::store::{Store, commands as store_cmd};

/// Exit code for usage and configuration errors.
const EXIT_USAGE: i32 = 2;

fn main() {
    let cli = Cli::parse();
    let config_file = cli.config.as_deref();
    let code = match cli.command {
        Some(CliCommand::Run(args)) => corral::headless::run(*args, config_file),
        Some(CliCommand::Ls(args)) => with_store(config_file, |store| {
            store_cmd::ls(store, args.json, args.all, &mut std::io::stdout().lock())
        }),
        Some(CliCommand::Logs(args)) => with_store(config_file, |store| {
            let color = !args.json
                && std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none();
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
        None => corral::tui::run(cli.tui, config_file),
    };
    std::process::exit(code);
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

/// Opens the store (cleaning up after dead corrals first) and runs `f`.
fn with_store(config_file: Option<&Path>, f: impl FnOnce(&Store) -> anyhow::Result<()>) -> i32 {
    let paths = match Paths::resolve(config_file) {
        Ok(paths) => paths,
        Err(err) => return fail(err, EXIT_USAGE),
    };
    let _log = corral::logging::init(&paths.log_file()).ok();
    let store = match Store::open(&paths.tasks_dir()) {
        Ok(store) => store,
        Err(err) => return fail(err, 1),
    };
    store.recover();
    match f(&store) {
        Ok(()) => 0,
        Err(err) => fail(err, 1),
    }
}
