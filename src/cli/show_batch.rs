//! `tuna show-batch CONFIG`: one batch exactly as the model would see it (after the split,
//! shuffling, transforms and MixUp/CutMix of that epoch): images drawn as a labelled grid,
//! token batches decoded and printed, table rows printed.

use std::path::PathBuf;
use std::sync::Arc;

use tuna::data::{DataLoader, DataSplits, Dataset, InputKind, Task};
use tuna::plot::{ImageGrid, Tile};
use tuna::train::experiment::Experiment;
use tuna::{DType, Tensor};

use super::output::outln;
use super::CliError;

/// Which split to show.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Split {
    /// The training split, with the training transforms and shuffling.
    Train,
    /// The validation split, with the evaluation transforms, in order.
    Validation,
    /// The test split, with the evaluation transforms, in order.
    Test,
}

/// Arguments of `tuna show-batch`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  tuna show-batch examples/configs/shapes-cnn.toml --out grid.png
  tuna show-batch examples/configs/mnist-cnn.toml --epoch 3 --count 16 --out epoch3.svg
  tuna show-batch examples/configs/spam-bag.toml --count 5      # text: decoded tokens

Batch B of epoch E is the one training would use: the same shuffled order and the same
augmentation draws (they depend only on the seed, the epoch and the sample). Images are
scaled to the batch's minimum and maximum for display, as torchvision's
make_grid(normalize=True); their captions are the class names (the two largest shares of a
MixUp/CutMix target, in percent).")]
pub struct Args {
    /// The experiment file.
    pub config: PathBuf,
    /// Where to draw an image batch (`.png` or `.svg`). Text and table batches are printed.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The split to take the batch from.
    #[arg(long, value_enum, default_value = "train")]
    pub split: Split,
    /// The epoch (from 1) whose order and augmentation draws are shown.
    #[arg(long, default_value_t = 1)]
    pub epoch: usize,
    /// The batch within the epoch (from 0).
    #[arg(long, default_value_t = 0)]
    pub batch: usize,
    /// Show at most this many samples of the batch.
    #[arg(long, default_value_t = 32)]
    pub count: usize,
    /// Images per row of the grid.
    #[arg(long, default_value_t = 8)]
    pub columns: usize,
    #[command(flatten)]
    pub overrides: super::overrides::Overrides,
}

/// Runs `tuna show-batch`.
pub fn run(args: &Args) -> Result<(), CliError> {
    tuna::link_all();
    if args.epoch == 0 || args.count == 0 {
        return Err("--epoch and --count count from 1".into());
    }
    let exp = args.overrides.load(&args.config)?;
    let splits = exp.data.load(&exp.data_context())?;
    let (dataset, loader) = loader_for(&exp, &splits, args.split)?;
    let batch = loader
        .try_epoch_from(args.epoch - 1, args.batch)
        .next()
        .ok_or_else(|| {
            format!(
                "--batch {}: epoch {} has {} batches (numbered from 0)",
                args.batch,
                args.epoch,
                loader.batches_per_epoch()
            )
        })??;
    let n = batch.len().min(args.count);
    match dataset.input_kind() {
        InputKind::Dense { shape } if is_image(&shape) => {
            let Some(out) = &args.out else {
                return Err("an image batch is drawn: give --out grid.png (or .svg)".into());
            };
            let captions = captions(&batch.targets, &splits.task, n);
            let title = format!(
                "{}: {} batch {} of epoch {} ({} of {} samples)",
                exp.name.as_deref().unwrap_or("experiment"),
                split_name(args.split),
                args.batch,
                args.epoch,
                n,
                batch.len()
            );
            let tiles = tiles(&batch.inputs, &shape, n, captions);
            ImageGrid::new(title, tiles, args.columns).save(out)?;
            eprintln!("wrote {}", out.display());
            Ok(())
        }
        kind => {
            if let Some(out) = &args.out {
                return Err(format!(
                    "--out {}: only image batches are drawn; this data's batches are printed \
                     (leave out --out)",
                    out.display()
                )
                .into());
            }
            print_rows(&exp, &splits, &kind, &batch, n)
        }
    }
}

fn split_name(split: Split) -> &'static str {
    match split {
        Split::Train => "train",
        Split::Validation => "validation",
        Split::Test => "test",
    }
}

/// The dataset of `split` and the loader training or evaluation would use for it.
fn loader_for(
    exp: &Experiment,
    splits: &DataSplits,
    split: Split,
) -> Result<(Arc<dyn Dataset>, DataLoader), CliError> {
    let pick = |d: &Option<Arc<dyn Dataset>>, what: &str| {
        d.clone()
            .ok_or_else(|| format!("--split {what}: the experiment's data has no {what} split"))
    };
    let ds = match split {
        Split::Train => splits.train.clone(),
        Split::Validation => pick(&splits.validation, "validation")?,
        Split::Test => pick(&splits.test, "test")?,
    };
    let loader = match split {
        Split::Train => DataLoader::train(ds.clone(), &exp.loader, exp.seed),
        _ => DataLoader::eval(ds.clone(), &exp.loader),
    };
    Ok((ds, loader))
}

/// `[C, H, W]` with one or three channels.
fn is_image(shape: &[usize]) -> bool {
    shape.len() == 3 && (shape[0] == 1 || shape[0] == 3)
}

/// The first `n` images of `inputs` (`[B, C, H, W]`) as RGB tiles, scaled to the batch's
/// minimum and maximum (torchvision's `make_grid(normalize=True)`).
fn tiles(inputs: &Tensor, shape: &[usize], n: usize, captions: Vec<String>) -> Vec<Tile> {
    let (c, h, w) = (shape[0], shape[1], shape[2]);
    let values = inputs.to_vec::<f32>();
    let per = c * h * w;
    let shown = &values[..n * per];
    let (lo, hi) = shown
        .iter()
        .filter(|v| v.is_finite())
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let span = if hi > lo { hi - lo } else { 1.0 };
    let byte = |v: f32| (((v - lo) / span) * 255.0).round().clamp(0.0, 255.0) as u8;
    captions
        .into_iter()
        .enumerate()
        .map(|(i, caption)| {
            let img = &shown[i * per..(i + 1) * per];
            let rgb = (0..h * w)
                .flat_map(|p| {
                    let ch = |k: usize| byte(img[k.min(c - 1) * h * w + p]);
                    [ch(0), ch(1), ch(2)]
                })
                .collect();
            Tile::new(w, h, rgb, caption)
        })
        .collect()
}

/// A caption per sample: the class name, or for soft targets (MixUp, CutMix) the two largest
/// shares (`cat 62% + dog 38%`).
fn captions(targets: &Tensor, task: &Task, n: usize) -> Vec<String> {
    let names: Vec<String> = match task {
        Task::Classification { class_names, .. } => class_names.clone(),
        _ => Vec::new(),
    };
    let name = |k: usize| names.get(k).cloned().unwrap_or_else(|| k.to_string());
    if targets.dtype() == DType::I64 && targets.shape().len() == 1 {
        return targets.to_vec::<i64>()[..n]
            .iter()
            .map(|&k| name(k as usize))
            .collect();
    }
    if targets.shape().len() == 2 && targets.dtype() == DType::F32 && !names.is_empty() {
        let k = targets.shape()[1];
        let p = targets.to_vec::<f32>();
        return (0..n)
            .map(|i| {
                let row = &p[i * k..(i + 1) * k];
                let mut order: Vec<usize> = (0..k).collect();
                order.sort_by(|&a, &b| row[b].total_cmp(&row[a]));
                let top: Vec<String> = order
                    .iter()
                    .take(2)
                    .filter(|&&j| row[j] > 0.005)
                    .map(|&j| format!("{} {:.0}%", name(j), 100.0 * row[j]))
                    .collect();
                top.join(" + ")
            })
            .collect();
    }
    vec![String::new(); n]
}

/// Prints a token or table batch: one line per sample, the target first.
fn print_rows(
    exp: &Experiment,
    splits: &DataSplits,
    kind: &InputKind,
    batch: &tuna::data::Batch,
    n: usize,
) -> Result<(), CliError> {
    let targets = target_texts(&batch.targets, &splits.task, n);
    match kind {
        InputKind::Tokens { .. } => {
            let codec = exp.data.text_codec(&splits.preprocessing)?;
            let ids = batch.inputs.to_vec::<i64>();
            let longest = batch.inputs.shape()[1];
            let lengths = batch.lengths.clone().unwrap_or(vec![longest; batch.len()]);
            outln!("target\tlength\ttext (decoded token ids)");
            for i in 0..n {
                let row = &ids[i * longest..i * longest + lengths[i]];
                outln!("{}\t{}\t{}", targets[i], lengths[i], codec.decode(row));
            }
        }
        InputKind::Dense { shape } => {
            let per: usize = shape.iter().product();
            let x = batch.inputs.to_vec::<f32>();
            outln!("target\tfeatures (as the model sees them, {per} values)");
            for i in 0..n {
                let row: Vec<String> = x[i * per..(i + 1) * per]
                    .iter()
                    .map(|v| format!("{v:.4}"))
                    .collect();
                outln!("{}\t{}", targets[i], row.join(" "));
            }
        }
    }
    Ok(())
}

/// What each of the first `n` targets reads as.
fn target_texts(targets: &Tensor, task: &Task, n: usize) -> Vec<String> {
    match task {
        Task::Classification { .. } => captions(targets, task, n),
        Task::Regression { .. } => {
            let k = targets.shape().get(1).copied().unwrap_or(1);
            let v = targets.to_vec::<f32>();
            (0..n)
                .map(|i| {
                    let row: Vec<String> = v[i * k..(i + 1) * k]
                        .iter()
                        .map(|t| format!("{t:.4}"))
                        .collect();
                    row.join(",")
                })
                .collect()
        }
        _ => vec!["-".to_string(); n],
    }
}
