//! `tuna generate RUN [--n 20] [--temperature T] [--prefix TEXT]`: samples text from a trained
//! language model (a run with `data.task = "language_model"`).

use std::path::PathBuf;

use tuna::nn::BuildContext;
use tuna::train::experiment::Experiment;
use tuna::train::generate::{generate, Sampling};
use tuna::train::RunDir;

use super::output::outln;
use super::CliError;

/// Arguments of `tuna generate`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  tuna generate runs/names-lm
  tuna generate runs/names-lm --n 5 --temperature 0.7 --prefix ma

Each sample starts at <bos> (then the prefix) and draws the next token from
softmax(logits / temperature) until <eos> or --max-len tokens; one sample per line on stdout.")]
pub struct Args {
    /// The run folder of a language model.
    pub run: PathBuf,
    /// Samples to draw.
    #[arg(long, default_value_t = 20)]
    pub n: usize,
    /// Sampling temperature: below 1 more likely texts, above 1 more varied.
    #[arg(long, default_value_t = 1.0)]
    pub temperature: f64,
    /// Text every sample starts with.
    #[arg(long, default_value = "")]
    pub prefix: String,
    /// The longest sample, in tokens. Default: the data's max_len.
    #[arg(long)]
    pub max_len: Option<usize>,
    /// The seed of the draws.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// Runs `tuna generate`.
pub fn run(args: &Args) -> Result<(), CliError> {
    tuna::link_all();
    let run = RunDir::open(&args.run)?;
    let exp = Experiment::load(&run.config_path(), &[])?;
    let fitted = run
        .read_preprocessing()?
        .ok_or("the run has no preprocessing.json (train it again)")?;
    let codec = exp.data.text_codec(&fitted)?;
    let max_len = args.max_len.unwrap_or_else(|| {
        fitted
            .get("max_len")
            .and_then(serde_json::Value::as_u64)
            .map_or(64, |m| m as usize)
    });
    exp.model.validate().map_err(|e| format!("model: {e}"))?;
    let mut model = exp
        .model
        .build(&mut BuildContext::new(exp.seed))
        .map_err(|e| format!("model: {e}"))?;
    run.load_weights(model.as_ref())?;
    model.set_training(false);
    let s = Sampling {
        n: args.n,
        temperature: args.temperature,
        prefix: args.prefix.clone(),
        max_len,
        seed: args.seed,
    };
    for text in generate(model.as_ref(), codec.as_ref(), &s)? {
        outln!("{text}");
    }
    Ok(())
}
