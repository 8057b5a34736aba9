//! `tuna summary CONFIG`: the model table of an experiment (layer, output shape, parameters),
//! like torchinfo, computed from the data's sample shape before any training.

use std::path::PathBuf;

use super::output::outln;
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
    #[command(flatten)]
    pub overrides: super::overrides::Overrides,
}

/// Runs `tuna summary`.
pub fn run(args: &Args) -> Result<(), CliError> {
    tuna::link_all();
    let exp = args.overrides.load(&args.config)?;
    // the trainer fills the sizes the data decides (vocabulary, sequence length) and checks
    // the model against the data
    let trainer = tuna::train::Trainer::new(exp.clone(), &exp.data_context())?;
    let mut shape = vec![args.batch];
    shape.extend(trainer.data().train.input_kind().sample_shape());
    let summary = tuna::nn::summary(trainer.experiment().model.as_ref(), &shape)
        .map_err(|e| format!("model: {e}"))?;
    outln!("{summary}");
    Ok(())
}
