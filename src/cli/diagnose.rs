//! `tuna diagnose RUN_DIR [--json] [--plot FILE] [--apply OUT.toml]`: why a run is bad, slow
//! or over-fitting — the root cause first, with the evidence and the changes to make — and,
//! with `--apply`, the experiment file with the primary remedy applied.

use std::path::{Path, PathBuf};

use tuna::train::diagnose::{annotated_curves, load_run, Diagnosis, Origin};

use super::output::{errln, outln};
use super::CliError;

/// Arguments of `tuna diagnose`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "The report leads with the root cause (the primary finding) and lists the \
symptoms it explains under it; every `fix:` line is a `--set` / `--unset` for `tuna train`.

Examples:
  tuna diagnose runs/mnist-mlp
  tuna diagnose runs/mnist-mlp --json
  tuna diagnose runs/mnist-mlp --plot diagnosis.svg
  tuna diagnose runs/mnist-mlp --apply mnist-mlp-fixed.toml"
)]
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
    /// Write the experiment with the primary finding's first remedy applied: the file the run
    /// was started from (comments kept, with the run's --set/--unset), else the run's
    /// config.toml.
    #[arg(long, value_name = "OUT.toml")]
    pub apply: Option<PathBuf>,
}

/// Diagnoses the run in `dir` from what the folder holds (its metrics, signals, data profile,
/// summary and `failure.json`), so `tuna train` and `tuna diagnose` give the same report.
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
    if let Some(out) = &args.apply {
        tuna::link_all();
        let Some(remedy) = d.primary_remedy() else {
            return Err(format!(
                "--apply: the primary finding `{}` has no change to apply",
                d.primary
            )
            .into());
        };
        let origin = Origin::of_run(&args.run_dir)?;
        let head = format!(
            "{} with the primary remedy of `tuna diagnose {}` ({}): {}",
            origin.file.display(),
            args.run_dir.display(),
            d.primary,
            remedy.to_cli()
        );
        origin.write_with(&[remedy], out, &head)?;
        errln!("wrote {} ({})", out.display(), remedy.to_cli());
    }
    Ok(())
}
