//! `tuna lr-find CONFIG [--set K=V ...] [--num-iter N] [--start-lr X] [--end-lr Y]
//! [--sweep [--fraction F]] [--plot FILE] [--apply OUT.toml]`: the LR range test (see
//! `tuna_train::lr_find`), optionally followed by the short-run sweep it places
//! (`tuna_train::lr_sweep`). Prints a sample of the (lr, smoothed loss) curve and the
//! suggestions, optionally plots the curve and writes a copy of the config with the suggested
//! lr.

use std::path::{Path, PathBuf};

use serde_json::Value;
use tuna::train::experiment::{edit_toml, get_path, Edit, Experiment};
use tuna::train::lr_find::{lr_find, LrFindResult, LrFinderConfig};
use tuna::train::lr_sweep::{short_run_sweep, SweepConfig, SweepResult};
use tuna_plot::{Figure, Format, Marker, Panel, Series, PALETTE};

use super::output::{errln, outln};
use super::CliError;

/// Arguments of `tuna lr-find`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "The sweep trains a fresh copy of the model (the experiment's seed, its \
initial weights) for NUM_ITER batches while the lr grows exponentially from START_LR to END_LR, \
ignoring the experiment's scheduler; it stops early once the smoothed loss exceeds 4x its best. \
The range test reads where training starts and where it blows up, not which lr a whole run is \
best at. --sweep answers that: it then trains the experiment itself (its optimizer, schedule and \
regularization; early stopping, test split and signals off) for FRACTION of its epochs at each \
lr of a grid placed by the range test (two per decade from valley/3 up to where the test \
stopped, then the best lr times and divided by about 1.8) and picks the lowest validation loss; \
--jobs runs are trained at once (default: one per core). \
It sweeps scheduler.max_lr under OneCycleLR or CyclicLR, else optimizer.lr, and costs about \
two to three full runs; on the benchmark in the book it lands within 2x of a grid of full runs \
where the range test alone is often 5-30x off.
Nothing is written unless --plot or --apply is given; CONFIG itself is never modified.

Examples:
  tuna lr-find examples/configs/mnist-mlp.toml
  tuna lr-find examples/configs/mnist-mlp.toml --sweep --apply mnist-mlp-swept.toml
  tuna lr-find examples/configs/mnist-mlp.toml --plot lr.svg --apply mnist-mlp-tuned.toml
  tuna lr-find examples/configs/iris.toml --num-iter 200 --start-lr 1e-5 --end-lr 1
  tuna lr-find examples/configs/mnist-cnn.toml --set loader.batch_size=128
  tuna lr-find examples/configs/mnist-mlp.toml --unset scheduler --sweep   # best constant lr"
)]
pub struct Args {
    /// The experiment file (TOML, or JSON with a .json extension).
    pub config: PathBuf,
    #[command(flatten)]
    pub overrides: super::overrides::Overrides,
    /// The number of batches of the sweep (the loader cycles over epochs if needed).
    #[arg(long, default_value_t = 100)]
    pub num_iter: usize,
    /// The lr of the first batch.
    #[arg(long, default_value_t = 1e-7)]
    pub start_lr: f64,
    /// The lr of the last batch.
    #[arg(long, default_value_t = 10.0)]
    pub end_lr: f64,
    /// After the range test, train short runs over a grid of lrs it places and pick the one
    /// with the lowest validation loss (see below).
    #[arg(long)]
    pub sweep: bool,
    /// With --sweep: the share of the experiment's epochs each short run trains (rounded up
    /// to whole epochs, at least one).
    #[arg(long, default_value_t = 0.25, requires = "sweep")]
    pub fraction: f64,
    /// With --sweep: short runs trained at once (default: the available cores), each with
    /// cores/JOBS kernel threads; the results do not depend on it.
    #[arg(long, requires = "sweep")]
    pub jobs: Option<usize>,
    /// Plot the loss against the learning rate (log scale) with the suggestions marked: `.svg`
    /// or `.png`.
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// Write a copy of the config with optimizer.lr set to the suggested lr (and
    /// scheduler.max_lr to the suggested max_lr when the scheduler is OneCycleLR); with
    /// --sweep, the swept field set to the sweep's pick instead.
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
    let exp = args.overrides.load(&args.config)?;
    let ctx = exp.data_context();
    let cfg = LrFinderConfig {
        start_lr: args.start_lr,
        end_lr: args.end_lr,
        num_iter: args.num_iter,
        ..LrFinderConfig::default()
    };
    let r = lr_find(&exp, &ctx, &cfg)?;
    print_table(&r, &cfg)?;
    let swept = if args.sweep {
        Some(sweep(&exp, &r, args)?)
    } else {
        None
    };
    if let Some(path) = &args.plot {
        plot(&r, &exp, path)?;
        errln!("plot: {}", path.display());
    }
    if let Some(out) = &args.apply {
        let edits = match &swept {
            Some(s) => vec![(s.knob.clone(), round3(s.best_lr))],
            None => range_edits(&exp, &r),
        };
        apply(args, &exp, out, &edits)?;
    }
    Ok(())
}

/// Runs the short-run sweep, printing each run on stderr as it ends and the table on stdout.
fn sweep(exp: &Experiment, range: &LrFindResult, args: &Args) -> Result<SweepResult, CliError> {
    let defaults = SweepConfig::default();
    let cfg = SweepConfig {
        fraction: args.fraction,
        jobs: args.jobs.unwrap_or(defaults.jobs),
        ..defaults
    };
    let s = short_run_sweep(exp, range, &cfg, |run| {
        errln!("short run {:.2e}: {:.4}", run.lr, run.score);
    })?;
    outln!(
        "short-run sweep: {} runs of {} epoch(s), {} by the lowest {}",
        s.runs.len(),
        s.epochs,
        s.knob,
        s.metric
    );
    outln!(
        "{:>10}  {:>10}",
        s.knob.rsplit('.').next().unwrap_or("lr"),
        s.metric
    );
    let mut runs = s.runs.clone();
    runs.sort_by(|a, b| a.lr.total_cmp(&b.lr));
    for run in &runs {
        outln!(
            "{:>10.2e}  {:>10.4}{}",
            run.lr,
            run.score,
            if run.lr == s.best_lr { "  <- best" } else { "" }
        );
    }
    outln!("swept {}:  {:.2e}", s.knob, s.best_lr);
    Ok(s)
}

/// The range test's edits: `optimizer.lr`, and `scheduler.max_lr` under OneCycleLR.
fn range_edits(exp: &Experiment, r: &LrFindResult) -> Vec<(String, f64)> {
    let mut edits = vec![("optimizer.lr".to_string(), round3(r.suggested_lr))];
    if get_path(&exp.source, "scheduler.type").and_then(Value::as_str) == Some("OneCycleLR") {
        edits.push(("scheduler.max_lr".into(), round3(r.suggested_max_lr)));
    }
    edits
}

/// Writes a copy of CONFIG with the suggestion `lrs` (and the `--set` / `--unset` edits) applied, its
/// comments and order kept; data paths are made absolute when the copy is in another folder.
fn apply(args: &Args, exp: &Experiment, out: &Path, lrs: &[(String, f64)]) -> Result<(), CliError> {
    let mut edits: Vec<Edit> = Vec::new();
    for o in &args.overrides.set {
        if let Some((k, _)) = o.split_once('=') {
            if let Some(v) = get_path(&exp.source, k.trim()) {
                edits.push(Edit::Set(k.trim().to_string(), v.clone()));
            }
        }
    }
    for path in &args.overrides.unset {
        edits.push(Edit::Unset(path.trim().to_string()));
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
    for (field, lr) in lrs {
        edits.push(Edit::Set(field.clone(), Value::from(*lr)));
    }
    let text = std::fs::read_to_string(&args.config)
        .map_err(|e| format!("{}: {e}", args.config.display()))?;
    let edited = edit_toml(&text, &edits).map_err(|e| format!("{}: {e}", args.config.display()))?;
    let what: Vec<String> = lrs.iter().map(|(f, lr)| format!("{f} = {lr:e}")).collect();
    let head = format!(
        "# {} with the {} (tuna lr-find): {}\n",
        args.config.display(),
        if args.sweep {
            "short-run sweep's pick"
        } else {
            "lr range test's suggestion"
        },
        what.join(", ")
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
