//! The `tuna` command line: argument parsing and dispatch, one module per subcommand.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod schedule;

/// Train and tune deep-learning models.
#[derive(Debug, Parser)]
#[command(name = "tuna", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print (and optionally plot) the learning rate a schedule config produces.
    Schedule(schedule::Args),
}

/// A user-facing error: printed as `error: {0}`, exit status 1.
#[derive(Debug)]
pub struct CliError(pub String);

impl<T: std::fmt::Display> From<T> for CliError {
    fn from(message: T) -> Self {
        CliError(message.to_string())
    }
}

/// Parses the arguments, runs the subcommand and turns errors into a message and exit status.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Schedule(args) => schedule::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError(message)) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
