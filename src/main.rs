//! The `corral` binary: parses the command line and hands off to a front end.

use clap::Parser;

use corral::cli::{Cli, CliCommand};

fn main() {
    let cli = Cli::parse();
    let code = match cli.command {
        Some(CliCommand::Run(args)) => corral::headless::run(args),
        None => {
            use clap::CommandFactory;
            let _ = Cli::command().print_help();
            0
        }
    };
    std::process::exit(code);
}
