//! The `corral` binary: parses the command line and hands off to a front end.

use clap::Parser;
use corral::cli::{Cli, CliCommand};

fn main() {
    let cli = Cli::parse();
    let code = match cli.command {
        Some(CliCommand::Run(args)) => corral::headless::run(args),
        None => corral::tui::run(cli.tui),
    };
    std::process::exit(code);
}
