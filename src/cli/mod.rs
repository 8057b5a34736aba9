//! The `tuna` command line: argument parsing and dispatch, one module per subcommand.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod diagnose;
mod eval;
mod lr_find;
mod schedule;
mod show;
mod summary;
mod train;
mod tune;

/// Train and tune deep-learning models.
#[derive(Debug, Parser)]
#[command(name = "tuna", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Train a model from an experiment file (or resume a run) and write a run folder.
    Train(train::Args),
    /// Evaluate a run's weights on a split of its data.
    Eval(eval::Args),
    /// Explain a run: over-fitting, under-fitting, divergence, lr, gradients, speed.
    Diagnose(diagnose::Args),
    /// Show one run's summary, or several runs side by side.
    Show(show::Args),
    /// Print the model table of an experiment file (layers, output shapes, parameters).
    Summary(summary::Args),
    /// Print (and optionally plot) the learning rate a schedule config produces.
    Schedule(schedule::Args),
    /// Search hyperparameters over an experiment file (samplers, pruners, parallel trials).
    Tune(tune::Args),
    /// Look at a study: trials table, best trial, importances, reports and plots.
    Study(tune::StudyArgs),
    /// LR range test: sweep the lr on a copy of the model, suggest an lr and a one-cycle max_lr.
    LrFind(lr_find::Args),
}

/// Where an experiment's relative data paths are looked up: the working directory, then the
/// experiment file's own folder.
pub(crate) fn data_context(config: &std::path::Path, seed: u64) -> tuna::data::DataContext {
    let mut base_dirs = vec![std::path::PathBuf::from(".")];
    if let Some(dir) = config.parent() {
        if !dir.as_os_str().is_empty() {
            base_dirs.push(dir.to_path_buf());
        }
    }
    tuna::data::DataContext { base_dirs, seed }
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
        Command::Train(args) => train::run(&args),
        Command::Eval(args) => eval::run(&args),
        Command::Diagnose(args) => diagnose::run(&args),
        Command::Show(args) => show::run(&args),
        Command::Summary(args) => summary::run(&args),
        Command::Schedule(args) => schedule::run(&args),
        Command::Tune(args) => tune::run(&args),
        Command::Study(args) => tune::run_study(&args),
        Command::LrFind(args) => lr_find::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError(message)) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
