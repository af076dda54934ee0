//! The `corral` binary: parses the command line and hands off to a front end.

use clap::Parser;
use corral::cli::{Cli, CliCommand};

fn main() {
    let cli = Cli::parse();
    let code = match cli.command {
        None => corral::tui::run(cli.tui),
        // `corral run` is dispatched here once the headless loop lands.
        Some(CliCommand::Run(_)) => {
            eprintln!("corral run: the headless front end is not part of this build");
            2
        }
    };
    std::process::exit(code);
}
