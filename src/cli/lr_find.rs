//! `tuna lr-find CONFIG [--set K=V ...] [--num-iter N] [--start-lr X] [--end-lr Y]
//! [--plot FILE] [--apply OUT.toml]`: the LR range test (see `tuna_train::lr_find`). Prints a
//! sample of the (lr, smoothed loss) curve and the suggestions, optionally plots the curve
//! and writes a copy of the config with the suggested lr.

use std::path::{Path, PathBuf};

use serde_json::Value;
use tuna::train::experiment::{edit_toml, get_path, Edit, Experiment};
use tuna::train::lr_find::{lr_find, LrFindResult, LrFinderConfig};
use tuna_plot::{Figure, Format, Marker, Panel, Series, PALETTE};

use super::output::{errln, outln};
use super::CliError;

/// Arguments of `tuna lr-find`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "The sweep trains a fresh copy of the model (the experiment's seed, its \
initial weights) for NUM_ITER batches while the lr grows exponentially from START_LR to END_LR, \
ignoring the experiment's scheduler; it stops early once the smoothed loss exceeds 4x its best. \
Nothing is written unless --plot or --apply is given; CONFIG itself is never modified.

Examples:
  tuna lr-find examples/configs/mnist-mlp.toml
  tuna lr-find examples/configs/mnist-mlp.toml --plot lr.svg --apply mnist-mlp-tuned.toml
  tuna lr-find examples/configs/iris.toml --num-iter 200 --start-lr 1e-5 --end-lr 1
  tuna lr-find examples/configs/mnist-cnn.toml --set loader.batch_size=128"
)]
pub struct Args {
    /// The experiment file (TOML, or JSON with a .json extension).
    pub config: PathBuf,
    /// Override any field by its path, e.g. loader.batch_size=128 (read as TOML; repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// The number of batches of the sweep (the loader cycles over epochs if needed).
    #[arg(long, default_value_t = 100)]
    pub num_iter: usize,
    /// The lr of the first batch.
    #[arg(long, default_value_t = 1e-7)]
    pub start_lr: f64,
    /// The lr of the last batch.
    #[arg(long, default_value_t = 10.0)]
    pub end_lr: f64,
    /// Plot the loss against the learning rate (log scale) with the suggestions marked: `.svg`
    /// or `.png`.
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// Write a copy of the config with optimizer.lr set to the suggested lr (and
    /// scheduler.max_lr to the suggested max_lr when the scheduler is OneCycleLR).
    #[arg(long, value_name = "OUT.toml")]
    pub apply: Option<PathBuf>,
}

/// Three significant digits: what goes into the config.
fn round3(x: f64) -> f64 {
    format!("{x:.2e}").parse().unwrap_or(x)
}

/// Runs `tuna lr-find`.
pub fn run(args: &Args) -> Result<(), CliError> {
    tuna::link_all();
    if let Some(path) = &args.plot {
        if Format::from_path(path).is_err() {
            return Err(format!(
                "--plot {}: the file must end in .svg or .png",
                path.display()
            )
            .into());
        }
    }
    if let Some(out) = &args.apply {
        if out.canonicalize().ok().is_some()
            && out.canonicalize().ok() == args.config.canonicalize().ok()
        {
            return Err("--apply must name a new file, not CONFIG itself".into());
        }
    }
    let exp = Experiment::load(&args.config, &args.set)?;
    let ctx = exp.data_context();
    let cfg = LrFinderConfig {
        start_lr: args.start_lr,
        end_lr: args.end_lr,
        num_iter: args.num_iter,
        ..LrFinderConfig::default()
    };
    let r = lr_find(&exp, &ctx, &cfg)?;
    print_table(&r, &cfg)?;
    let lr = round3(r.suggested_lr);
    let max_lr = round3(r.suggested_max_lr);
    if let Some(path) = &args.plot {
        plot(&r, &exp, path)?;
        errln!("plot: {}", path.display());
    }
    if let Some(out) = &args.apply {
        apply(args, &exp, out, lr, max_lr)?;
    }
    Ok(())
}

/// Writes a copy of CONFIG with the suggestion (and the `--set` overrides) applied, its
/// comments and order kept; data paths are made absolute when the copy is in another folder.
fn apply(args: &Args, exp: &Experiment, out: &Path, lr: f64, max_lr: f64) -> Result<(), CliError> {
    let mut edits: Vec<Edit> = Vec::new();
    for o in &args.set {
        if let Some((k, _)) = o.split_once('=') {
            if let Some(v) = get_path(&exp.source, k.trim()) {
                edits.push(Edit::Set(k.trim().to_string(), v.clone()));
            }
        }
    }
    let folder = |p: &Path| std::path::absolute(p.parent().unwrap_or(Path::new("."))).ok();
    if folder(out) != folder(&args.config) {
        for field in [
            "data.path",
            "data.validation",
            "data.test",
            "data.tokenizer.path",
        ] {
            if let Some(Value::String(p)) = get_path(&exp.source, field) {
                if Path::new(p).is_absolute() {
                    edits.push(Edit::Set(field.into(), Value::String(p.clone())));
                }
            }
        }
    }
    edits.push(Edit::Set("optimizer.lr".into(), Value::from(lr)));
    let one_cycle =
        get_path(&exp.source, "scheduler.type").and_then(Value::as_str) == Some("OneCycleLR");
    if one_cycle {
        edits.push(Edit::Set("scheduler.max_lr".into(), Value::from(max_lr)));
    }
    let text = std::fs::read_to_string(&args.config)
        .map_err(|e| format!("{}: {e}", args.config.display()))?;
    let edited = edit_toml(&text, &edits).map_err(|e| format!("{}: {e}", args.config.display()))?;
    let head = format!(
        "# {} with the lr range test's suggestion (tuna lr-find): optimizer.lr = {lr:e}{}\n",
        args.config.display(),
        if one_cycle {
            format!(", scheduler.max_lr = {max_lr:e}")
        } else {
            String::new()
        }
    );
    std::fs::write(out, head + &edited)
        .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    errln!("wrote {}", out.display());
    Ok(())
}

fn print_table(r: &LrFindResult, cfg: &LrFinderConfig) -> Result<(), CliError> {
    let n = r.lrs.len();
    outln!(
        "lr range test: {n} batches, lr {:.1e} -> {:.1e}{}",
        cfg.start_lr,
        r.lrs.last().copied().unwrap_or(cfg.start_lr),
        if r.stopped_early {
            " (stopped early: the loss diverged)"
        } else {
            ""
        }
    );
    outln!("{:>10}  {:>14}", "lr", "smoothed loss");
    let step = n.div_ceil(20).max(1);
    let mut rows: Vec<usize> = (0..n).step_by(step).collect();
    if rows.last() != Some(&(n - 1)) {
        rows.push(n - 1);
    }
    for i in rows {
        outln!("{:>10.2e}  {:>14.4}", r.lrs[i], r.smoothed[i]);
    }
    outln!("suggestion (steepest): {:.2e}", r.suggestion_steepest);
    outln!("suggestion (valley):   {:.2e}", r.suggestion_valley);
    outln!("suggested lr:          {:.2e}  (valley)", r.suggested_lr);
    outln!(
        "suggested max_lr:      {:.2e}  (OneCycleLR: lr at the lowest loss / 10)",
        r.suggested_max_lr
    );
    Ok(())
}

fn plot(r: &LrFindResult, exp: &Experiment, path: &Path) -> Result<(), CliError> {
    // The diverged tail would flatten the interesting part: points above 1.5x the starting
    // loss are left out (gaps), as fastai leaves out the last batches.
    let cap = 1.5 * r.smoothed.first().copied().unwrap_or(f64::INFINITY).abs();
    let finite = |v: &[f64]| {
        v.iter()
            .map(|&y| {
                if y.is_finite() && y <= cap {
                    y
                } else {
                    f64::NAN
                }
            })
            .collect()
    };
    let panel = Panel::new("training loss")
        .with_series(
            Series::new("raw loss", r.lrs.clone(), finite(&r.losses)).with_color([0xaa; 3]),
        )
        .with_series(
            Series::new("smoothed loss", r.lrs.clone(), finite(&r.smoothed)).with_color(PALETTE[0]),
        )
        .with_marker(Marker::new(
            r.suggested_lr,
            format!("valley {:.1e}", r.suggested_lr),
        ))
        .with_marker(Marker::new(
            r.suggestion_steepest,
            format!("steepest {:.1e}", r.suggestion_steepest),
        ));
    let name = exp.name.clone().unwrap_or_else(|| "experiment".into());
    Figure::new(
        &format!("LR range test: {name}"),
        "learning rate (log scale)",
        vec![panel],
    )
    .log_x(true)
    .save(path)?;
    Ok(())
}
