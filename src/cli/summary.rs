//! `tuna summary CONFIG`: the model table of an experiment (layer, output shape, parameters),
//! like torchinfo, computed from the data's sample shape before any training.

use std::path::PathBuf;

use tuna::train::experiment::Experiment;

use super::CliError;

/// Arguments of `tuna summary`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:
  tuna summary examples/configs/mnist-cnn.toml")]
pub struct Args {
    /// The experiment file.
    pub config: PathBuf,
    /// Batch size shown in the output shapes.
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
    /// Override any field by its path (as in `tuna train`).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

/// Runs `tuna summary`.
pub fn run(args: &Args) -> Result<(), CliError> {
    tuna::link_all();
    let exp = Experiment::load(&args.config, &args.set)?;
    let splits = exp
        .data
        .load(&super::data_context(&args.config, exp.seed))?;
    let mut shape = vec![args.batch];
    shape.extend_from_slice(splits.train.feature_shape());
    let summary =
        tuna::nn::summary(exp.model.as_ref(), &shape).map_err(|e| format!("model: {e}"))?;
    println!("{summary}");
    Ok(())
}
