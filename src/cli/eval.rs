//! `tuna eval RUN_DIR [--split test|val|train] [--weights final|best|last] [--data FILE]`:
//! evaluates a finished (or checkpointed) run's weights on a split of its data, or of another
//! data section.

use std::path::PathBuf;

use tuna::data::{DataConfig, DataContext};
use tuna::train::checkpoint::Checkpoint;
use tuna::train::experiment::{read_value, Experiment};
use tuna::train::progress::format_metric;
use tuna::train::{RunDir, Trainer};

use super::CliError;

/// Arguments of `tuna eval`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  tuna eval runs/mnist-cnn
  tuna eval runs/mnist-cnn --split val --weights best
  tuna eval runs/iris --data other-iris.toml   # a file whose [data] section replaces the run's")]
pub struct Args {
    /// The run folder.
    pub run: PathBuf,
    /// Which split to evaluate.
    #[arg(long, default_value = "test", value_parser = ["test", "val", "train"])]
    pub split: String,
    /// Which weights: the final model.safetensors, or a checkpoint.
    #[arg(long, default_value = "final", value_parser = ["final", "best", "last"])]
    pub weights: String,
    /// Evaluate on the data of this file's [data] section instead (same features and classes).
    #[arg(long, value_name = "FILE")]
    pub data: Option<PathBuf>,
}

/// Runs `tuna eval`.
pub fn run(args: &Args) -> Result<(), CliError> {
    tuna::link_all();
    let run = RunDir::open(&args.run)?;
    let mut exp = Experiment::load(&run.config_path(), &[])?;
    let mut base_dirs = vec![PathBuf::from(".")];
    if let Some(path) = &args.data {
        let value = read_value(path)?;
        let section = value.get("data").cloned().unwrap_or(value);
        let data: Box<dyn DataConfig> = serde_json::from_value(section)
            .map_err(|e| format!("{}: data: {e}", path.display()))?;
        data.validate()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        exp.data = data;
        if let Some(d) = path.parent() {
            base_dirs.push(d.to_path_buf());
        }
    }
    let mut trainer = Trainer::new(exp, &DataContext { base_dirs, seed: 0 })?;
    match args.weights.as_str() {
        "final" => {
            tuna::nn::load_safetensors(trainer.model(), run.weights_path(), true)
                .map_err(|e| format!("{e} (has the run finished? try --weights last)"))?;
        }
        which => {
            let path = if which == "best" {
                run.best_checkpoint()
            } else {
                run.last_checkpoint()
            };
            let ckpt = Checkpoint::load(&path)?;
            tuna::nn::load_state_dict(trainer.model(), &ckpt.model, true)
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    let data = trainer.data().clone();
    let dataset = match args.split.as_str() {
        "train" => Some(data.train.clone()),
        "val" => data.validation.clone(),
        _ => data.test.clone(),
    }
    .ok_or_else(|| format!("the run's data has no `{}` split", args.split))?;
    let (loss, acc) = trainer.evaluate(&dataset)?;
    println!(
        "{} samples ({} split, {} weights)",
        dataset.len(),
        args.split,
        args.weights
    );
    println!("{:<20} {:.6}", "loss", loss);
    for (k, v) in acc.finish() {
        println!("{:<20} {}", k, format_metric(&k, v));
    }
    if let Some(cm) = acc.confusion_matrix() {
        println!("confusion matrix (rows: true class, columns: predicted):");
        for row in cm {
            println!(
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
