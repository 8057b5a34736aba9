//! The `tuna` command line: argument parsing and dispatch, one module per subcommand.
//!
//! Every command follows one set of conventions: results on stdout, progress and logs on
//! stderr; a closed pipe ends the output quietly; exit status 0 when done, 1 on an error, 2 for
//! a usage error (clap's), 130 when interrupted (Ctrl-C, SIGTERM).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod board;
mod diagnose;
mod eval;
mod fix;
mod generate;
mod lr_find;
pub(crate) mod output;
mod overrides;
mod predict;
mod schedule;
mod show;
mod show_batch;
mod signals;
mod summary;
mod train;
mod tune;

/// Train and tune deep-learning models.
#[derive(Debug, Parser)]
#[command(
    name = "tuna",
    version,
    about,
    after_help = "Exit status: 0 done, 1 error, 2 usage error, 130 interrupted.\n\
                  Results go to stdout, progress and logs to stderr."
)]
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
    /// Predict with a run's model: one row per input sample (class and probabilities, or values).
    Predict(predict::Args),
    /// Sample text from a trained language model.
    Generate(generate::Args),
    /// Explain a run: over-fitting, under-fitting, divergence, lr, gradients, speed.
    Diagnose(diagnose::Args),
    /// Train, diagnose, apply the primary remedy; repeat until healthy or the budget is spent.
    Fix(fix::Args),
    /// Show one run's summary, or several runs side by side.
    Show(show::Args),
    /// Draw (images) or print (text, tables) one batch as the model sees it, after transforms.
    ShowBatch(show_batch::Args),
    /// Print the model table of an experiment file (layers, output shapes, parameters).
    Summary(summary::Args),
    /// Print (and optionally plot) the learning rate of a schedule or of an experiment.
    Schedule(schedule::Args),
    /// Search hyperparameters over an experiment file (samplers, pruners, parallel trials).
    Tune(tune::Args),
    /// Look at a study: trials table, best trial, importances, reports and plots.
    Study(tune::StudyArgs),
    /// LR range test: sweep the lr on a copy of the model, suggest an lr and a one-cycle max_lr.
    LrFind(lr_find::Args),
    /// Watch runs and studies in the browser: a local, read-only, live web dashboard.
    Board(board::Args),
}

/// Why a command did not finish normally.
#[derive(Debug)]
pub enum CliError {
    /// An error to print as `error: ...` (exit 1).
    Message(String),
    /// Stdout was closed by its reader (`| head`): end quietly (exit 0).
    BrokenPipe,
    /// Interrupted by Ctrl-C or SIGTERM, with what to tell the user (exit 130).
    Interrupted(String),
}

impl<T: std::fmt::Display> From<T> for CliError {
    fn from(message: T) -> Self {
        CliError::Message(message.to_string())
    }
}

/// Parses the arguments, runs the subcommand and turns errors into a message and exit status.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(args) => train::run(&args),
        Command::Eval(args) => eval::run(&args),
        Command::Predict(args) => predict::run(&args),
        Command::Generate(args) => generate::run(&args),
        Command::Diagnose(args) => diagnose::run(&args),
        Command::Fix(args) => fix::run(&args),
        Command::Show(args) => show::run(&args),
        Command::ShowBatch(args) => show_batch::run(&args),
        Command::Summary(args) => summary::run(&args),
        Command::Schedule(args) => schedule::run(&args),
        Command::Tune(args) => tune::run(&args),
        Command::Study(args) => tune::run_study(&args),
        Command::LrFind(args) => lr_find::run(&args),
        Command::Board(args) => board::run(&args),
    };
    match result {
        Ok(()) | Err(CliError::BrokenPipe) => ExitCode::SUCCESS,
        Err(CliError::Message(message)) => {
            output::err(&format!("error: {message}"));
            ExitCode::FAILURE
        }
        Err(CliError::Interrupted(message)) => {
            output::err(&message);
            ExitCode::from(130)
        }
    }
}
