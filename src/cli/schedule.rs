//! `tuna schedule CONFIG --steps N --lr BASE_LR [--plot FILE.svg|FILE.png]`: prints the
//! learning rate (and momentum, for schedules that cycle it) of a schedule config as CSV, one
//! row per optimizer step, and optionally plots it.
//!
//! CONFIG is a TOML file (a top-level table with `type = "OneCycleLR"` and the fields) or a
//! JSON file (`.json`) holding one schedule config. `OneCycleLR` without a length gets
//! `total_steps = N`.

use std::io::Write;
use std::path::{Path, PathBuf};

use tuna::sched::LrSchedulerConfig;

use super::CliError;
use tuna_plot::{Figure, Format, Panel, Series};

/// Arguments of `tuna schedule`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  tuna schedule examples/configs/schedules/onecycle.toml --steps 200 --lr 0.1
  tuna schedule examples/configs/schedules/onecycle.toml --steps 200 --lr 0.1 --plot onecycle.svg")]
pub struct Args {
    /// The schedule config: TOML (`type = "StepLR"` ...) or JSON (`.json`).
    pub config: PathBuf,
    /// The number of optimizer steps: prints the lr used at steps 0..N-1.
    #[arg(long)]
    pub steps: u64,
    /// The optimizer's base learning rate.
    #[arg(long = "lr", value_name = "BASE_LR")]
    pub lr: f64,
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

/// Runs `tuna schedule`.
pub fn run(args: &Args) -> Result<(), CliError> {
    if !args.lr.is_finite() || args.lr < 0.0 {
        return Err(format!("--lr must be a finite number >= 0, got {}", args.lr).into());
    }
    if args.steps == 0 {
        return Err("--steps must be at least 1".into());
    }
    if let Some(path) = &args.plot {
        check_plot_path(path)?;
    }
    let mut config = load_config(&args.config)?;
    config.fill_total_steps(args.steps);
    let shown = args.config.display();
    let mut sched = config
        .build(&[args.lr])
        .map_err(|e| format!("{shown}: {e}"))?;

    let mut steps = Vec::with_capacity(args.steps as usize);
    let mut lrs = Vec::with_capacity(args.steps as usize);
    let mut momentum = Vec::new();
    for k in 0..args.steps {
        if k > 0 {
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
    let write_err = |e: std::io::Error| format!("cannot write the CSV: {e}");
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
            &format!("{title} schedule (base lr {})", args.lr),
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
