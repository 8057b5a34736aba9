//! `tuna train CONFIG [--out DIR] [--epochs N] [--set KEY=VALUE ...]` and
//! `tuna train --resume RUN_DIR`: runs an experiment file with a live display and leaves a
//! run folder (see `tuna_train::run_dir`).

use std::path::{Path, PathBuf};

use tuna::train::checkpoint::Checkpoint;
use tuna::train::experiment::Experiment;
use tuna::train::progress::{DisplayMode, Progress};
use tuna::train::{RunDir, Trainer};

use super::CliError;

/// Arguments of `tuna train`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  tuna train examples/configs/mnist-mlp.toml
  tuna train examples/configs/iris.toml --epochs 50 --set optimizer.lr=0.05
  tuna train examples/configs/mnist-cnn.toml --out runs/cnn --set 'train.metrics=[\"accuracy\", \"f1\"]'
  tuna train --resume runs/cnn")]
pub struct Args {
    /// The experiment file (TOML, or JSON with a .json extension).
    #[arg(required_unless_present = "resume")]
    pub config: Option<PathBuf>,
    /// The run folder to create (default: runs/<config name>, numbered if taken).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Continue a run from its last checkpoint (a crashed or killed run, too).
    #[arg(long, value_name = "RUN_DIR", conflicts_with_all = ["config", "out", "epochs", "set"])]
    pub resume: Option<PathBuf>,
    /// Override train.epochs.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Override any field by its path, e.g. optimizer.lr=0.01 or model.layers[3].p=0.2
    /// (the value is read as TOML; repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Print nothing but errors.
    #[arg(long, short, conflicts_with = "plain")]
    pub quiet: bool,
    /// One line per epoch instead of the live progress bar.
    #[arg(long)]
    pub plain: bool,
}

/// Runs `tuna train`.
pub fn run(args: &Args) -> Result<(), CliError> {
    tuna::link_all();
    let mode = if args.quiet {
        DisplayMode::Quiet
    } else if args.plain {
        DisplayMode::Plain
    } else {
        DisplayMode::Auto
    };
    let (mut trainer, resumed_from) = match &args.resume {
        Some(dir) => {
            let run = RunDir::open(dir)?;
            if let Ok(done) = run.read_summary() {
                // A finished run has nothing left to train: leave its files untouched.
                if mode != DisplayMode::Quiet {
                    let how = match &done.stopped_early {
                        Some(reason) => format!("stopped early ({reason})"),
                        None => "finished".to_string(),
                    };
                    eprintln!(
                        "{}: nothing to resume, the run has {how} after {}/{} epochs \
                         (summary.json); its files are unchanged.\n\
                         `tuna eval {0}` re-evaluates it, `tuna show {0}` shows it; to train \
                         longer, start a new run from {0}/config.toml with --epochs",
                        dir.display(),
                        done.epochs_completed,
                        done.epochs_planned
                    );
                }
                return Ok(());
            }
            let exp = Experiment::load(&run.config_path(), &[])?;
            let ctx = super::data_context(&run.config_path(), exp.seed);
            let mut trainer = Trainer::new(exp, &ctx)?;
            trainer.set_run_dir(run.clone())?;
            let last = run.last_checkpoint();
            let from = if last.is_file() {
                let ckpt = Checkpoint::load(&last)?;
                trainer.restore(&ckpt, &last)?;
                Some((ckpt.meta.epoch, ckpt.meta.batch))
            } else {
                None
            };
            (trainer, from)
        }
        None => {
            let config = args.config.as_ref().expect("clap requires CONFIG");
            let mut overrides = args.set.clone();
            if let Some(e) = args.epochs {
                overrides.push(format!("train.epochs={e}"));
            }
            let exp = Experiment::load(config, &overrides)?;
            let ctx = super::data_context(config, exp.seed);
            let name = exp.name.clone().unwrap_or_else(|| "run".into());
            let mut trainer = Trainer::new(exp, &ctx)?;
            let run = match &args.out {
                Some(dir) => RunDir::create(dir)?,
                None => RunDir::create_unique(Path::new("runs"), &name)?,
            };
            trainer.set_run_dir(run)?;
            (trainer, None)
        }
    };
    let run_path = trainer
        .run_dir()
        .map(|r| r.path().display().to_string())
        .unwrap_or_default();
    if mode != DisplayMode::Quiet {
        match resumed_from {
            Some((e, b)) if b > 0 => {
                eprintln!("run folder {run_path} (resuming after epoch {e}, batch {b})")
            }
            Some((e, _)) => eprintln!("run folder {run_path} (resuming after epoch {e})"),
            None => eprintln!("run folder {run_path}"),
        }
    }
    trainer.add_callback(Box::new(Progress::new(mode)));
    let result = trainer.fit();
    let run_folder = trainer.run_dir().map(|r| r.path().to_path_buf());
    if let (Some(dir), false) = (&run_folder, mode == DisplayMode::Quiet) {
        let error = result.as_ref().err().map(|e| e.to_string());
        if let Ok(d) = super::diagnose::diagnosis(dir, error) {
            eprint!(
                "\ndiagnosis (tuna diagnose {}):\n{}",
                dir.display(),
                d.render()
            );
        }
    }
    match result {
        Ok(_) => {
            if mode != DisplayMode::Quiet {
                eprintln!(
                    "wrote {run_path} (summary.json, metrics.jsonl, model.safetensors, curves.svg)"
                );
            }
            Ok(())
        }
        Err(e) => Err(CliError(format!(
            "{e}\n(the run folder {run_path} keeps everything written before the error)"
        ))),
    }
}
