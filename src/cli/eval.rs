//! `tuna eval RUN_DIR [--split test|val|train] [--weights final|best|last] [--data FILE]`:
//! evaluates a finished (or checkpointed) run's weights on a split of its data, or on the data
//! of another data section — always with the preprocessing the run fitted, never refitted.

use std::path::{Path, PathBuf};

use tuna::data::{DataConfig, DataContext};
use tuna::train::checkpoint::Checkpoint;
use tuna::train::experiment::{read_value, Experiment};
use tuna::train::progress::format_metric;
use tuna::train::{RunDir, Trainer};

use super::output::outln;
use super::CliError;

/// Arguments of `tuna eval`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  tuna eval runs/mnist-cnn
  tuna eval runs/mnist-cnn --split val --weights best
  tuna eval runs/iris --data other-iris.toml   # a file whose [data] section replaces the run's

The run's preprocessing.json (feature statistics, categories, classes, vocabulary) is applied
to the data as it is: nothing is refitted on the evaluated file. --data needs only a [data]
section (or a whole experiment file, of which only [data] is used).")]
pub struct Args {
    /// The run folder.
    pub run: PathBuf,
    /// Which split to evaluate; `all` is every sample of the data. Default: `test` (with
    /// --data: `all`, the whole file).
    #[arg(long, value_parser = ["test", "val", "train", "all"])]
    pub split: Option<String>,
    /// Which weights: the final model.safetensors (checked against its recorded checksum), or
    /// a checkpoint.
    #[arg(long, default_value = "final", value_parser = ["final", "best", "last"])]
    pub weights: String,
    /// Evaluate on the data of this file's [data] section instead (same features and classes).
    #[arg(long, value_name = "FILE")]
    pub data: Option<PathBuf>,
}

/// The run's experiment with another file's data section (paths resolved next to that file).
fn with_data(exp: &mut Experiment, path: &Path) -> Result<(), CliError> {
    let value = read_value(path)?;
    let section = value.get("data").cloned().unwrap_or(value);
    let data: Box<dyn DataConfig> =
        serde_json::from_value(section).map_err(|e| format!("{}: data: {e}", path.display()))?;
    data.validate()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    exp.data = data;
    exp.base_dir = path.parent().map(Path::to_path_buf);
    exp.resolve_paths();
    // eval needs no training-only setting of the run's experiment
    exp.train.early_stopping = None;
    exp.scheduler = None;
    Ok(())
}

/// Loads the chosen weights into the trainer's model.
fn load_weights(trainer: &Trainer, run: &RunDir, which: &str) -> Result<(), CliError> {
    if which == "final" {
        return Ok(run.load_weights(trainer.model())?);
    }
    let path = if which == "best" {
        run.best_checkpoint()
    } else {
        run.last_checkpoint()
    };
    let ckpt = Checkpoint::load(&path)?;
    tuna::nn::load_state_dict(trainer.model(), &ckpt.model, true)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(())
}

/// Runs `tuna eval`.
pub fn run(args: &Args) -> Result<(), CliError> {
    tuna::link_all();
    let run = RunDir::open(&args.run)?;
    let mut exp = Experiment::load(&run.config_path(), &[])?;
    if let Some(path) = &args.data {
        with_data(&mut exp, path)?;
    }
    let ctx = DataContext {
        fitted: run.read_preprocessing()?,
        ..exp.data_context()
    };
    let mut trainer = Trainer::new(exp, &ctx)?;
    load_weights(&trainer, &run, &args.weights)?;
    let split = args
        .split
        .clone()
        .unwrap_or_else(|| if args.data.is_some() { "all" } else { "test" }.into());
    let data = trainer.data().clone();
    let datasets: Vec<_> = match split.as_str() {
        "train" => vec![data.train.clone()],
        "val" => data.validation.clone().into_iter().collect(),
        "test" => data.test.clone().into_iter().collect(),
        _ => [
            Some(data.train.clone()),
            data.validation.clone(),
            data.test.clone(),
        ]
        .into_iter()
        .flatten()
        .collect(),
    };
    if datasets.is_empty() {
        return Err(format!("the data has no `{split}` split (try --split train or all)").into());
    }
    let (mut sum, mut n, mut acc) = (0.0, 0usize, None);
    for ds in &datasets {
        let (l, a) = trainer.evaluate(ds)?;
        sum += l * ds.len() as f64;
        n += ds.len();
        match &mut acc {
            None => acc = Some(a),
            Some(total) => total.merge(&a),
        }
    }
    let (loss, acc) = (sum / n.max(1) as f64, acc.expect("one split at least"));
    outln!("{n} samples ({split} split, {} weights)", args.weights);
    outln!("{:<20} {:.6}", "loss", loss);
    for (k, v) in acc.finish() {
        outln!("{:<20} {}", k, format_metric(&k, v));
    }
    if let Some(cm) = acc.confusion_matrix() {
        outln!("confusion matrix (rows: true class, columns: predicted):");
        for row in cm {
            outln!(
                "  {}",
                row.iter()
                    .map(|c| format!("{c:>5}"))
                    .collect::<Vec<_>>()
                    .join("")
            );
        }
    }
    Ok(())
}
