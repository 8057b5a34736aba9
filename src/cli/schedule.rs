//! `tuna schedule CONFIG [--steps N] [--lr BASE_LR] [--plot FILE.svg|FILE.png]`: prints the
//! learning rate (and momentum, for schedules that cycle it) as CSV, one row per optimizer
//! step, and optionally plots it.
//!
//! CONFIG is a schedule config (a TOML table with `type = "OneCycleLR"` and the fields, or a
//! `.json` file; `--steps` and `--lr` required; a missing length is filled from `--steps`), or
//! a whole experiment file: its `[scheduler]` with the optimizer's lr, over `epochs × batches`
//! optimizer steps (the data is loaded to count the batches), stepping per batch or per epoch
//! as the run would; `--set`/`--unset` edit it first.

use std::io::Write;
use std::path::{Path, PathBuf};

use tuna::sched::LrSchedulerConfig;

use super::CliError;
use tuna_plot::{Figure, Format, Panel, Series};

/// Arguments of `tuna schedule`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  tuna schedule examples/configs/schedules/onecycle.toml --steps 200 --lr 0.1
  tuna schedule examples/configs/schedules/onecycle.toml --steps 200 --lr 0.1 --plot onecycle.svg
  tuna schedule examples/configs/mnist-mlp.toml                    # the experiment's own schedule
  tuna schedule examples/configs/mnist-mlp.toml --set scheduler.max_lr=0.3 --plot lr.png")]
pub struct Args {
    /// A schedule config (TOML `type = "StepLR"` ..., or `.json`), or an experiment file.
    pub config: PathBuf,
    /// The number of optimizer steps: prints the lr used at steps 0..N-1 (default for an
    /// experiment: epochs × batches per epoch).
    #[arg(long)]
    pub steps: Option<u64>,
    /// The optimizer's base learning rate (default for an experiment: optimizer.lr).
    #[arg(long = "lr", value_name = "BASE_LR")]
    pub lr: Option<f64>,
    #[command(flatten)]
    pub overrides: super::overrides::Overrides,
    /// Also draw the curve(s) to this file: `.svg` or `.png`.
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
}

/// Loads one schedule config from a TOML or JSON file.
fn load_config(path: &Path) -> Result<Box<dyn LrSchedulerConfig>, CliError> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let config: Box<dyn LrSchedulerConfig> = if is_json {
        serde_json::from_str(&text).map_err(|e| {
            format!(
                "{shown}: invalid schedule config: {}",
                e.to_string().trim_end()
            )
        })?
    } else {
        toml::from_str(&text).map_err(|e| {
            format!(
                "{shown}: invalid schedule config: {}",
                e.to_string().trim_end()
            )
        })?
    };
    Ok(config)
}

/// What to preview: the schedule config, its base lr, the optimizer steps, and how many
/// optimizer steps make one schedule step (1 per batch; batches per epoch for an epoch
/// schedule).
struct Preview {
    config: Box<dyn LrSchedulerConfig>,
    lr: f64,
    steps: u64,
    every: u64,
}

/// Whether a parsed file is an experiment (sections) rather than one schedule config.
fn is_experiment(path: &Path) -> bool {
    tuna::train::experiment::read_value(path).is_ok_and(|v| {
        v.get("type").is_none() && (v.get("optimizer").is_some() || v.get("scheduler").is_some())
    })
}

fn experiment_preview(args: &Args) -> Result<Preview, CliError> {
    use tuna::train::experiment::StepInterval;
    let exp = args.overrides.load(&args.config)?;
    let Some(section) = exp.scheduler.clone() else {
        return Err(format!(
            "{}: the experiment has no [scheduler]: the lr is optimizer.lr throughout",
            args.config.display()
        )
        .into());
    };
    let trainer = tuna::train::Trainer::new(exp.clone(), &exp.data_context())?;
    let batches = trainer.batches_per_epoch() as u64;
    let epochs = exp.train.epochs as u64;
    let mut config = section.config.clone();
    let (schedule_steps, every) = match section.interval {
        StepInterval::Batch => (epochs * batches, 1),
        StepInterval::Epoch => (epochs, batches.max(1)),
    };
    config.fill_total_steps(schedule_steps);
    Ok(Preview {
        config,
        lr: args.lr.unwrap_or_else(|| trainer.optimizer().lrs()[0]),
        steps: args.steps.unwrap_or(epochs * batches),
        every,
    })
}

fn bare_preview(args: &Args) -> Result<Preview, CliError> {
    let (Some(steps), Some(lr)) = (args.steps, args.lr) else {
        return Err(
            "a schedule config needs --steps and --lr (an experiment file has both)".into(),
        );
    };
    if !args.overrides.is_empty() {
        return Err("--set and --unset apply to experiment files".into());
    }
    let mut config = load_config(&args.config)?;
    config.fill_total_steps(steps);
    Ok(Preview {
        config,
        lr,
        steps,
        every: 1,
    })
}

/// Runs `tuna schedule`.
pub fn run(args: &Args) -> Result<(), CliError> {
    tuna::link_all();
    if let Some(lr) = args.lr.filter(|lr| !lr.is_finite() || *lr < 0.0) {
        return Err(format!("--lr must be a finite number >= 0, got {lr}").into());
    }
    if args.steps == Some(0) {
        return Err("--steps must be at least 1".into());
    }
    if let Some(path) = &args.plot {
        check_plot_path(path)?;
    }
    let preview = if is_experiment(&args.config) {
        experiment_preview(args)?
    } else {
        bare_preview(args)?
    };
    let config = preview.config;
    let shown = args.config.display();
    let mut sched = config
        .build(&[preview.lr])
        .map_err(|e| format!("{shown}: {e}"))?;

    let mut steps = Vec::with_capacity(preview.steps as usize);
    let mut lrs = Vec::with_capacity(preview.steps as usize);
    let mut momentum = Vec::new();
    for k in 0..preview.steps {
        if k > 0 && k % preview.every == 0 {
            sched.step(None);
        }
        steps.push(k as f64);
        lrs.push(sched.lrs()[0]);
        if let Some(m) = sched.momentum() {
            momentum.push(m[0]);
        }
    }

    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let write_err = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            CliError::BrokenPipe
        } else {
            CliError::Message(format!("cannot write the CSV: {e}"))
        }
    };
    if momentum.is_empty() {
        writeln!(out, "step,lr").map_err(write_err)?;
        for (k, lr) in lrs.iter().enumerate() {
            writeln!(out, "{k},{lr}").map_err(write_err)?;
        }
    } else {
        writeln!(out, "step,lr,momentum").map_err(write_err)?;
        for (k, (lr, m)) in lrs.iter().zip(&momentum).enumerate() {
            writeln!(out, "{k},{lr},{m}").map_err(write_err)?;
        }
    }
    out.flush().map_err(write_err)?;

    if let Some(path) = &args.plot {
        let title = serde_json::to_value(&config)
            .ok()
            .and_then(|v| v["type"].as_str().map(str::to_string))
            .unwrap_or_else(|| "schedule".into());
        let mut panels = vec![Panel::new("learning rate")
            .with_series(Series::new("lr", steps.clone(), lrs))
            .from_zero(true)
            .show_legend(false)];
        if !momentum.is_empty() {
            panels
                .push(Panel::new("momentum").with_series(Series::new("momentum", steps, momentum)));
        }
        let figure = Figure::new(
            &format!("{title} schedule (base lr {})", preview.lr),
            "step",
            panels,
        )
        .integer_x(true);
        figure.save(path)?;
    }
    Ok(())
}

/// `--plot` must name an SVG or PNG file: checked before any work.
fn check_plot_path(path: &Path) -> Result<(), CliError> {
    match Format::from_path(path) {
        Ok(_) => Ok(()),
        Err(_) => Err(format!(
            "--plot {}: the file must end in .svg or .png",
            path.display()
        )
        .into()),
    }
}
