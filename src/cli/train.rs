//! `tuna train CONFIG [--out DIR] [--epochs N] [--set KEY=VALUE ...] [--unset KEY ...]` and
//! `tuna train --resume RUN_DIR [--epochs N] [--restart]`: runs an experiment file with a live
//! display on stderr, prints the results on stdout and leaves a run folder (see
//! `tuna_train::run_dir`).

use std::path::{Path, PathBuf};

use tuna::train::checkpoint::Checkpoint;
use tuna::train::experiment::{get_path, Edit, Experiment};
use tuna::train::progress::{summary_lines, DisplayMode, Progress};
use tuna::train::{RunDir, TrainError, Trainer};

use super::output::{errln, outln};
use super::CliError;

/// Arguments of `tuna train`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  tuna train examples/configs/mnist-mlp.toml
  tuna train examples/configs/iris.toml --epochs 50 --set optimizer.lr=0.05
  tuna train examples/configs/mnist-cnn.toml --out runs/cnn --set 'train.metrics=[\"accuracy\", \"f1\"]'
  tuna train examples/configs/mnist-mlp.toml --unset scheduler --set optimizer.lr=0.5
  tuna train --resume runs/cnn                 # continue a killed or interrupted run
  tuna train --resume runs/cnn --epochs 30     # train a finished run for more epochs

Relative data paths are looked up next to the experiment file, then in the working directory;
the run folder records them absolutely, so it can be used (and moved) from anywhere.
Ctrl-C or SIGTERM finishes the current batch, writes a checkpoint and prints the command that
resumes (exit 130); a second Ctrl-C exits at once.")]
pub struct Args {
    /// The experiment file (TOML, or JSON with a .json extension).
    #[arg(required_unless_present = "resume")]
    pub config: Option<PathBuf>,
    /// The run folder to create (default: runs/<config name>, numbered if taken). An existing
    /// folder must be empty.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Continue a run from its last checkpoint (a crashed, killed or interrupted run; with
    /// --epochs, a finished one).
    #[arg(long, value_name = "RUN_DIR", conflicts_with_all = ["config", "out", "set", "unset"])]
    pub resume: Option<PathBuf>,
    /// With --resume: the run has no checkpoint to continue from; train it again from epoch 1
    /// in the same folder (its metrics and weights are replaced).
    #[arg(long, requires = "resume")]
    pub restart: bool,
    /// Override train.epochs (with --resume: continue a finished run up to this many epochs).
    #[arg(long)]
    pub epochs: Option<usize>,
    #[command(flatten)]
    pub overrides: super::overrides::Overrides,
    /// Print nothing but errors and the results.
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
    let Some((mut trainer, from)) = (match &args.resume {
        Some(dir) => resumed(dir, args, mode)?,
        None => Some((fresh(args)?, None)),
    }) else {
        return Ok(());
    };
    let run_path = trainer
        .run_dir()
        .map(|r| absolute(r.path()))
        .unwrap_or_default();
    if mode != DisplayMode::Quiet {
        for n in trainer.notes() {
            errln!("note: {n}");
        }
        for w in trainer.experiment().warnings() {
            errln!("warning: {w}");
        }
        match from {
            Some((e, b)) if b > 0 => {
                errln!("run folder {run_path} (resuming after epoch {e}, batch {b})")
            }
            Some((e, _)) => errln!("run folder {run_path} (resuming after epoch {e})"),
            None => errln!("run folder {run_path}"),
        }
    }
    trainer.set_interrupt(super::signals::stop_flag()?);
    trainer.add_callback(Box::new(Progress::new(mode)));
    let result = trainer.fit();
    report(&trainer, result, &run_path)
}

/// Prints the results (stdout) or turns the failure into the right exit.
fn report(
    trainer: &Trainer,
    result: Result<tuna::train::RunSummary, TrainError>,
    run_path: &str,
) -> Result<(), CliError> {
    if let Err(TrainError::Interrupted { epoch, batch }) = &result {
        return Err(CliError::Interrupted(format!(
            "interrupted after epoch {epoch}, batch {batch}: the checkpoint is written.\n\
             resume with: tuna train --resume {}",
            shell_quote(run_path)
        )));
    }
    if let Ok(summary) = &result {
        for l in summary_lines(summary) {
            outln!("{l}");
        }
    }
    if let Some(dir) = trainer.run_dir().map(|r| r.path().to_path_buf()) {
        if let Ok(d) = super::diagnose::diagnosis(&dir) {
            outln!("\ndiagnosis (tuna diagnose {}):", shell_quote(run_path));
            super::output::text(&d.render())?;
        }
    }
    match result {
        Ok(_) => {
            outln!("run folder {run_path}");
            Ok(())
        }
        Err(e) => Err(CliError::Message(format!(
            "{e}\n(the run folder {run_path} keeps everything written before the error)"
        ))),
    }
}

/// A new run from an experiment file: everything is checked before the folder is created.
fn fresh(args: &Args) -> Result<Trainer, CliError> {
    let config = args.config.as_ref().expect("clap requires CONFIG");
    let mut overrides = args.overrides.clone();
    if let Some(e) = args.epochs {
        overrides.set.push(format!("train.epochs={e}"));
    }
    let exp = overrides.load(config)?;
    let edits = origin_edits(&exp, &overrides.set, &overrides.unset);
    let ctx = exp.data_context();
    let name = exp.name.clone().unwrap_or_else(|| "run".into());
    let mut trainer = Trainer::new(exp, &ctx)?;
    let run = match &args.out {
        Some(dir) => RunDir::create(dir)?,
        None => RunDir::create_unique(Path::new("runs"), &name)?,
    };
    run.write_origin(config, &edits)?;
    trainer.set_run_dir(run)?;
    Ok(trainer)
}

/// The `--set` / `--unset` arguments as edits of the experiment file (the values as loaded).
fn origin_edits(exp: &Experiment, set: &[String], unset: &[String]) -> Vec<Edit> {
    let mut edits: Vec<Edit> = set
        .iter()
        .filter_map(|o| o.split_once('='))
        .filter_map(|(k, _)| {
            get_path(&exp.source, k.trim()).map(|v| Edit::Set(k.trim().to_string(), v.clone()))
        })
        .collect();
    edits.extend(unset.iter().map(|u| Edit::Unset(u.trim().to_string())));
    edits
}

type Resumed = Option<(Trainer, Option<(usize, usize)>)>;

/// A trainer restored from a run folder; `None` when there is nothing to do.
fn resumed(dir: &Path, args: &Args, mode: DisplayMode) -> Result<Resumed, CliError> {
    let run = RunDir::open(dir)?;
    let finished = run.read_summary().ok();
    let more = match (&finished, args.epochs) {
        (Some(done), Some(e)) if e > done.epochs_completed => true,
        (Some(done), _) => {
            if mode != DisplayMode::Quiet {
                nothing_to_resume(dir, done);
            }
            return Ok(None);
        }
        // an unfinished run may be given a new length before it continues
        (None, epochs) => epochs.is_some(),
    };
    let set: Vec<String> = args
        .epochs
        .map(|e| format!("train.epochs={e}"))
        .into_iter()
        .collect();
    let exp = Experiment::load_edited(&run.config_path(), &set, &[])?;
    let mut ctx = exp.data_context();
    ctx.fitted = run.read_preprocessing()?;
    let mut trainer = Trainer::new(exp, &ctx)?;
    let last = run.last_checkpoint();
    if !last.is_file() && !args.restart {
        return Err(CliError::Message(format!(
            "{} has no checkpoint to continue from: resuming would train it again from epoch \
             1, replacing its metrics. Pass --restart to do that, or start a new run from its \
             config.toml",
            last.display()
        )));
    }
    if more {
        run.remove_summary()?;
    }
    if !last.is_file() {
        // --restart: the run trains again from epoch 1 in its folder
        run.write_records(&[])?;
        run.remove_summary()?;
        trainer.set_run_dir(run)?;
        return Ok(Some((trainer, None)));
    }
    trainer.set_run_dir(run)?;
    let ckpt = Checkpoint::load(&last)?;
    trainer.restore_with(&ckpt, &last, more)?;
    Ok(Some((trainer, Some((ckpt.meta.epoch, ckpt.meta.batch)))))
}

fn nothing_to_resume(dir: &Path, done: &tuna::train::RunSummary) {
    let how = match &done.stopped_early {
        Some(reason) => format!("stopped early ({reason})"),
        None => "finished".to_string(),
    };
    errln!(
        "{}: nothing to resume, the run has {how} after {}/{} epochs (summary.json); its \
         files are unchanged.\n`tuna eval {0}` re-evaluates it, `tuna show {0}` shows it; \
         `tuna train --resume {0} --epochs N` trains it on up to N epochs",
        dir.display(),
        done.epochs_completed,
        done.epochs_planned
    );
}

/// The absolute form of a path, for messages a user can paste anywhere.
pub(crate) fn absolute(p: &Path) -> String {
    std::path::absolute(p)
        .unwrap_or_else(|_| p.to_path_buf())
        .display()
        .to_string()
}

/// `s` quoted for a POSIX shell when it needs it.
pub(crate) fn shell_quote(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+,:@".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}
