//! `tuna fix CONFIG [--budget N] [--out DIR] [--epochs N] [--set K=V ...]`: train briefly,
//! diagnose, apply the primary remedy, and repeat until the run is healthy or the budget is
//! spent; a table row per round (finding, change, metric), the result in `DIR/fixed.toml`.

use std::path::{Path, PathBuf};

use tuna::train::diagnose::fix::{fix, FixConfig, Round};
use tuna::train::diagnose::Origin;

use super::output::{errln, outln};
use super::CliError;

/// Arguments of `tuna fix`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Every round is a full training run in DIR/round-K/ from DIR/round-K.toml \
(CONFIG with the changes so far, comments kept). A change that makes the validation metric \
(macro recall for classification, the loss otherwise) worse than the best round so far, or than \
the start, by more than its noise is reverted and the next remedy is tried. CONFIG itself is \
never modified; the result is DIR/fixed.toml.

Examples:
  tuna fix examples/configs/iris.toml
  tuna fix my-experiment.toml --budget 6 --out fixes/mine
  tuna fix examples/configs/mnist-mlp.toml --epochs 3"
)]
pub struct Args {
    /// The experiment file (TOML).
    pub config: PathBuf,
    /// The most changes to try after the first run.
    #[arg(long, default_value_t = 4)]
    pub budget: usize,
    /// The folder for the rounds and fixed.toml (default: fixes/<config name>, numbered if
    /// taken).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Train every round for this many epochs (not written into fixed.toml).
    #[arg(long)]
    pub epochs: Option<usize>,
}

/// A new folder under `fixes/` named after the config.
fn default_out(config: &Path) -> PathBuf {
    let stem = config
        .file_stem()
        .map_or("experiment".into(), |s| s.to_string_lossy().into_owned());
    let base = Path::new("fixes").join(&stem);
    (1..)
        .map(|i| {
            if i == 1 {
                base.clone()
            } else {
                Path::new("fixes").join(format!("{stem}-{i}"))
            }
        })
        .find(|p| !p.exists())
        .unwrap_or(base)
}

fn row(r: &Round) -> String {
    let change = r.change.as_ref().map_or("(start)".into(), |c| c.to_cli());
    let value = if r.value.is_finite() {
        format!("{} {:.4}", r.metric, r.value)
    } else if r.rejected.is_some() {
        "rejected before training".into()
    } else {
        "failed".into()
    };
    let verdict = match (r.index, r.kept) {
        (0, _) => "",
        (_, true) => "kept",
        (_, false) => "reverted",
    };
    format!(
        "{:>5}  {:<32}  {:<40}  {:<26}  {verdict}",
        r.index,
        format!("{} ({})", r.primary(), r.severity()),
        change,
        value
    )
}

/// Runs `tuna fix`.
pub fn run(args: &Args) -> Result<(), CliError> {
    tuna::link_all();
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| default_out(&args.config));
    if out.exists() && std::fs::read_dir(&out).is_ok_and(|mut d| d.next().is_some()) {
        return Err(format!("--out {}: the folder is not empty", out.display()).into());
    }
    let origin = Origin::of_file(&args.config)?;
    let cfg = FixConfig {
        budget: args.budget,
        out: out.clone(),
        train_overrides: args
            .epochs
            .map(|e| format!("train.epochs={e}"))
            .into_iter()
            .collect(),
    };
    errln!("fixing {} in {}", args.config.display(), out.display());
    outln!(
        "{:>5}  {:<32}  {:<40}  {:<26}",
        "round",
        "primary finding",
        "change",
        "metric"
    );
    let mut closed = false;
    let outcome = fix(&origin, &cfg, |r| {
        closed |= matches!(super::output::line(&row(r)), Err(CliError::BrokenPipe));
    })?;
    if closed {
        return Err(CliError::BrokenPipe);
    }
    let best = &outcome.rounds[outcome.best];
    outln!(
        "\nresult: round {} ({}), {} {:.4} (round 0: {:.4}; noise ±{:.4})",
        best.index,
        best.primary(),
        best.metric,
        best.value,
        outcome.rounds[0].value,
        outcome.noise
    );
    outln!("fixed experiment: {}", out.join("fixed.toml").display());
    Ok(())
}
