//! `tuna diagnose RUN_DIR [--json] [--plot FILE]`: why a run is bad, slow or over-fitting,
//! with the evidence and what to change in the experiment file.

use std::path::{Path, PathBuf};

use tuna::train::diagnose::{annotated_curves, load_run, Diagnosis};

use super::output::{errln, outln};
use super::CliError;

/// Arguments of `tuna diagnose`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  tuna diagnose runs/mnist-mlp
  tuna diagnose runs/mnist-mlp --json
  tuna diagnose runs/mnist-mlp --plot diagnosis.svg")]
pub struct Args {
    /// The run folder (from `tuna train`).
    pub run_dir: PathBuf,
    /// Print the findings as JSON.
    #[arg(long)]
    pub json: bool,
    /// Also write the learning curves with the best epoch and over-fitting start marked
    /// (.svg or .png).
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
}

/// Diagnoses the run in `dir` from what the folder holds (its metrics, signals, summary and
/// `failure.json`), so `tuna train` and `tuna diagnose` give the same report.
pub fn diagnosis(dir: &Path) -> Result<Diagnosis, CliError> {
    let (records, signals, context) = load_run(dir)?;
    Ok(tuna::train::diagnose::diagnose(
        &records, &signals, &context,
    ))
}

/// Runs `tuna diagnose`.
pub fn run(args: &Args) -> Result<(), CliError> {
    let d = diagnosis(&args.run_dir)?;
    if args.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&d).map_err(|e| e.to_string())?
        );
    } else {
        super::output::text(&d.render())?;
    }
    if let Some(path) = &args.plot {
        let records = tuna::train::run_dir::read_records(&args.run_dir.join("metrics.jsonl"))?;
        let title = format!("{} (diagnosis)", args.run_dir.display());
        annotated_curves(&records, &d, &title)
            .save(path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if !args.json {
            errln!("wrote {}", path.display());
        }
    }
    Ok(())
}
