//! The random draws of the transforms, and the generators they come from: pure functions of
//! `(seed, epoch, sample index)` (or batch index), independent of the loader's shuffling
//! streams and of the order in which worker threads produce samples.

use rand::Rng;
use rand_distr::{Beta, Distribution, StandardNormal};
use tuna_tensor::Generator;

/// The stream of per-sample augmentation draws ("AUGS").
const SAMPLE_STREAM: u64 = 0x4155_4753;
/// The stream of per-batch draws (MixUp, CutMix: "AUGB").
const BATCH_STREAM: u64 = 0x4155_4742;

/// The generator of sample `index`'s random transforms in `epoch` (0-based), for the
/// experiment seed `seed`.
pub fn sample_generator(seed: u64, epoch: usize, index: usize) -> Generator {
    Generator::new(seed)
        .split(SAMPLE_STREAM)
        .split(epoch as u64)
        .split(index as u64)
}

/// The generator of batch `batch`'s batch-level transforms in `epoch`.
pub fn batch_generator(seed: u64, epoch: usize, batch: usize) -> Generator {
    Generator::new(seed)
        .split(BATCH_STREAM)
        .split(epoch as u64)
        .split(batch as u64)
}

/// Uniform in `[lo, hi)` (`torch.empty(1).uniform_(lo, hi)`); `lo` when the range is empty.
pub(crate) fn uniform(gen: &mut Generator, lo: f64, hi: f64) -> f64 {
    let u: f64 = gen.rng().random();
    lo + (hi - lo) * u
}

/// A uniform integer in `[lo, hi)` (`torch.randint(lo, hi)`); `lo` when `hi <= lo + 1`.
pub(crate) fn randint(gen: &mut Generator, lo: i64, hi: i64) -> i64 {
    if hi <= lo + 1 {
        return lo;
    }
    gen.rng().random_range(lo..hi)
}

/// `true` with probability `p` (torchvision's `torch.rand(1) < p`).
pub(crate) fn chance(gen: &mut Generator, p: f64) -> bool {
    let u: f64 = gen.rng().random();
    u < p
}

/// A standard normal value.
pub(crate) fn normal(gen: &mut Generator) -> f32 {
    StandardNormal.sample(gen.rng())
}

/// A `Beta(alpha, alpha)` value (MixUp's and CutMix's λ).
pub(crate) fn beta(gen: &mut Generator, alpha: f64) -> f64 {
    match Beta::new(alpha, alpha) {
        Ok(d) => d.sample(gen.rng()),
        Err(_) => 0.5,
    }
}

/// Python's `int(round(x))`: halves to even.
pub(crate) fn round_half_even(x: f64) -> i64 {
    x.round_ties_even() as i64
}
